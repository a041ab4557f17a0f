import { ApiErrors, AUTH_ERRORS } from '../docs/api-errors';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { uuidParam } from '../admin/admin-api';
import { LedgerQueryDto } from '../admin/dto/billing.dto';
import { CreateKeyDto } from '../admin/dto/users.dto';
import { toKeyResponse, toSettings } from '../admin/users.admin.controller';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { AuthService } from '../auth/auth.service';
import type { Principal } from '../auth/principal';
import { SelfServiceKeysService } from '../auth/self-service-keys.service';
import { LedgerService } from '../billing/ledger.service';
import { NativeDetailFilter } from '../common/native-detail.filter';
import { AppConfig } from '../config/app-config';
import {
  CreatedOwnKeyResponse,
  MeResponse,
  OwnKeyResponse,
  OwnKeysResponse,
  OwnLedgerPageResponse,
} from './account-self.dto';

/**
 * Self-service for the caller's own account: who am I, and my keys (create and revoke within the
 * rule of SelfServiceKeysService). Native error shape.
 */
@ApiTags('account')
@ApiBearerAuth('bearer')
@UseFilters(NativeDetailFilter)
@Controller('api/v1')
export class OwnKeysController {
  constructor(
    private readonly auth: AuthService,
    private readonly keys: SelfServiceKeysService,
    private readonly ledgers: LedgerService,
    private readonly config: AppConfig,
  ) {}

  @Get('me')
  @ApiOperation({
    operationId: 'getMe',
    summary: 'Who the caller is: user, role, balance, the key and its limits',
  })
  @ApiErrors('native', ...AUTH_ERRORS)
  @ApiOkResponse({ type: MeResponse })
  async me(@CurrentPrincipal() p: Principal): Promise<MeResponse> {
    const [user, key, credits] = await Promise.all([
      this.auth.getUser(p.userId),
      this.auth.getKey(p.keyId),
      this.ledgers.balance(p.userId),
    ]);
    return {
      success: true,
      user_id: user.id,
      name: user.name,
      role: user.role,
      credits: credits.toString(),
      key: toKeyResponse(key),
      max_keys: this.config.selfServiceMaxKeys,
    };
  }

  @Get('ledger')
  @ApiOperation({ operationId: 'getOwnLedger', summary: 'The caller’s own credit ledger, newest first' })
  @ApiErrors('native', ...AUTH_ERRORS, ['invalid_request', 'cursor: not a ledger cursor'])
  @ApiOkResponse({ type: OwnLedgerPageResponse, description: 'Own ledger, newest first (cursor pagination)' })
  async ledger(
    @CurrentPrincipal() p: Principal,
    @Query() query: LedgerQueryDto,
  ): Promise<OwnLedgerPageResponse> {
    const page = await this.ledgers.entries(p.userId, { limit: query.limit, cursor: query.cursor });
    return {
      success: true,
      data: page.entries.map((e) => ({
        id: e.id,
        amount: e.amount.toString(),
        kind: e.kind,
        request_id: e.requestId,
        reference: e.reference,
        balance_after: e.balanceAfter.toString(),
        created_at: e.createdAt.toISOString(),
      })),
      next_cursor: page.nextCursor,
    };
  }

  @Get('keys')
  @ApiOperation({
    operationId: 'listOwnKeys',
    summary: 'The caller’s own API keys (never plaintext or hash)',
  })
  @ApiErrors('native', ...AUTH_ERRORS)
  @ApiOkResponse({ type: OwnKeysResponse, description: 'Own keys (never plaintext or hash)' })
  async list(@CurrentPrincipal() p: Principal): Promise<OwnKeysResponse> {
    return { success: true, data: (await this.keys.list(p)).map(toKeyResponse) };
  }

  @Post('keys')
  @ApiCreatedResponse({ type: CreatedOwnKeyResponse })
  @ApiOperation({
    operationId: 'createOwnKey',
    summary: 'Create an own key within the limits of the signed-in key',
  })
  @ApiErrors(
    'native',
    ...AUTH_ERRORS,
    ['invalid_request', 'rpm: must be a positive integer'],
    ['forbidden', 'Over the key limit, or more than the signed-in key may'],
  )
  async create(@CurrentPrincipal() p: Principal, @Body() body: CreateKeyDto): Promise<CreatedOwnKeyResponse> {
    const issued = await this.keys.create(p, toSettings(body));
    return { success: true, key: { ...toKeyResponse(issued.record), key: issued.key } };
  }

  @Delete('keys/:id')
  @HttpCode(200)
  @ApiOkResponse({ type: OwnKeyResponse, description: 'The revoked key' })
  @ApiOperation({ operationId: 'revokeOwnKey', summary: 'Revoke one of the caller’s own keys' })
  @ApiErrors('native', ...AUTH_ERRORS, ['not_found', 'API key not found'])
  async revoke(
    @CurrentPrincipal() p: Principal,
    @Param('id', uuidParam) id: string,
  ): Promise<OwnKeyResponse> {
    return { success: true, key: toKeyResponse(await this.keys.revoke(p, id)) };
  }
}
