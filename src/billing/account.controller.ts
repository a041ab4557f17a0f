import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { AccountResponse } from './dto/account.response';
import { BillingService } from './billing.service';

/** The caller's own balance on the native API (CONTRACT §2). */
@ApiTags('account')
@ApiBearerAuth('bearer')
@Controller('api/v1/account')
export class AccountController {
  constructor(private readonly billing: BillingService) {}

  @Get()
  @ApiOkResponse({ type: AccountResponse })
  async get(@CurrentPrincipal() p: Principal): Promise<AccountResponse> {
    const credits = await this.billing.balance(p.userId);
    return { success: true, user_id: p.userId, credits: Number(credits) };
  }
}
