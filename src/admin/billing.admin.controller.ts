import { Body, Get, Headers, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApiController, uuidParam } from './admin-api';
import type { Response } from 'express';
import { LedgerService } from '../billing/ledger.service';
import { PricingService } from '../billing/pricing.service';
import { TopUpsService } from '../billing/top-ups.service';
import type { RateRecord } from '../billing/rate-book';
import { ApiError } from '../common/api-error';
import {
  LedgerPageResponse,
  LedgerQueryDto,
  RateResponse,
  SetRateDto,
  TopUpDto,
  TopUpResponse,
} from './dto/billing.dto';
import { ApiErrors } from '../docs/api-errors';

/** Admin API for credits, the ledger and per-model rates (CONTRACT §4). */
@AdminApiController('admin: credits and rates')
export class BillingAdminController {
  constructor(
    private readonly topUps: TopUpsService,
    private readonly ledgers: LedgerService,
    private readonly pricing: PricingService,
  ) {}

  @Post('users/:id/credits')
  @ApiOperation({
    operationId: 'topUpCredits',
    summary: 'Top up a user’s credits (Idempotency-Key makes retries safe)',
  })
  @ApiErrors(
    'admin',
    ['invalid_request', 'amount: amount must be a positive integer'],
    ['not_found', 'User not found'],
    'idempotency_mismatch',
  )
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retry with the same key credits once',
  })
  @ApiCreatedResponse({ type: TopUpResponse })
  async topUp(
    @Param('id', uuidParam) id: string,
    @Body() body: TopUpDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TopUpResponse> {
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255))
      throw new ApiError(
        'invalid_request',
        'Idempotency-Key: must be 1 to 255 characters',
        'Idempotency-Key',
      );
    const result = await this.topUps.topUp(id, BigInt(body.amount), {
      reference: body.reference,
      idempotencyKey,
    });
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return { credits: Number(result.credits), entry_id: result.entryId };
  }

  @Get('users/:id/ledger')
  @ApiOperation({
    operationId: 'listLedgerEntries',
    summary: 'A user’s ledger entries, newest first, paginated',
  })
  @ApiErrors('admin', ['invalid_request', 'cursor: invalid cursor'], ['not_found', 'User not found'])
  @ApiOkResponse({ type: LedgerPageResponse })
  async ledger(
    @Param('id', uuidParam) id: string,
    @Query() query: LedgerQueryDto,
  ): Promise<LedgerPageResponse> {
    const page = await this.ledgers.entries(id, { limit: query.limit, cursor: query.cursor });
    return {
      data: page.entries.map((e) => ({
        id: e.id,
        amount: Number(e.amount),
        kind: e.kind,
        request_id: e.requestId,
        reference: e.reference,
        balance_after: Number(e.balanceAfter),
        created_at: e.createdAt.toISOString(),
      })),
      next_cursor: page.nextCursor,
    };
  }

  @Get('rates')
  @ApiOperation({ operationId: 'listRates', summary: 'Per-model rates (cents per token)' })
  @ApiOkResponse({ type: [RateResponse] })
  async listRates(): Promise<RateResponse[]> {
    return this.pricing.listRates().map(toRateResponse);
  }

  @Put('rates/:model')
  @ApiOperation({ operationId: 'setRate', summary: 'Set a model’s input and output rates' })
  @ApiErrors('admin', ['invalid_request', 'input_rate: must be a non-negative decimal'])
  @ApiOkResponse({ type: RateResponse })
  async setRate(@Param('model') model: string, @Body() body: SetRateDto): Promise<RateResponse> {
    if (model.length === 0 || model.length > 200)
      throw new ApiError('invalid_request', 'model: must be 1 to 200 characters', 'model');
    return toRateResponse(await this.pricing.setRate(model, body.input_rate, body.output_rate));
  }
}

function toRateResponse(r: RateRecord): RateResponse {
  return {
    model: r.model,
    input_rate: r.inputRate,
    output_rate: r.outputRate,
    updated_at: r.updatedAt.toISOString(),
  };
}
