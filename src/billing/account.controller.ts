import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { AccountResponse } from './dto/account.response';
import { LedgerService } from './ledger.service';
import { ApiErrors, AUTH_ERRORS } from '../docs/api-errors';

/** The caller's own balance on the native API (CONTRACT §2). */
@ApiTags('account')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('api/v1/account')
export class AccountController {
  constructor(private readonly ledger: LedgerService) {}

  @Get()
  @ApiOperation({ operationId: 'getAccount', summary: 'The caller’s user id and credit balance' })
  @ApiOkResponse({ type: AccountResponse })
  @ApiErrors('native', ...AUTH_ERRORS)
  async get(@CurrentPrincipal() p: Principal): Promise<AccountResponse> {
    const credits = await this.ledger.balance(p.userId);
    return { success: true, user_id: p.userId, credits: Number(credits) };
  }
}
