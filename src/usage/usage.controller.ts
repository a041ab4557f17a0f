import { ApiErrors, AUTH_ERRORS } from '../docs/api-errors';
import { Controller, Get, Headers, Query, Res, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { NativeDetailFilter } from '../common/native-detail.filter';
import {
  RequestsQueryDto,
  UserRequestsPageResponse,
  UserUsageQueryDto,
  UserUsageReportResponse,
} from './dto/usage.dto';
import { toReportResponse, toRequestResponse, toUsageCsv, toUsageQuery, wantsCsv } from './usage.format';
import { UsageService } from './usage.service';

/** The caller's own usage and requests (any key; only the key's own user, never another's). */
@ApiTags('account')
@ApiBearerAuth('bearer')
@UseFilters(NativeDetailFilter)
@Controller('api/v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get('usage')
  @ApiOperation({
    operationId: 'getOwnUsage',
    summary: 'The caller’s own usage and spend per hour or day (JSON or CSV)',
  })
  @ApiErrors('native', ...AUTH_ERRORS, ['invalid_request', 'from: must be an ISO date'])
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ type: UserUsageReportResponse, description: 'Own usage per hour or day and group' })
  async usageReport(
    @CurrentPrincipal() p: Principal,
    @Query() query: UserUsageQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UserUsageReportResponse | string> {
    const report = toReportResponse(await this.usage.report(toUsageQuery(query, p.userId)));
    if (!wantsCsv(query.format, accept)) return { success: true, ...report };
    res.type('text/csv').setHeader('Content-Disposition', 'attachment; filename="usage.csv"');
    return toUsageCsv(report);
  }

  @Get('requests')
  @ApiOperation({ operationId: 'listOwnRequests', summary: 'The caller’s own recent requests, newest first' })
  @ApiErrors('native', ...AUTH_ERRORS)
  @ApiOkResponse({ type: UserRequestsPageResponse, description: 'Own recent requests, newest first' })
  async requests(
    @CurrentPrincipal() p: Principal,
    @Query() query: RequestsQueryDto,
  ): Promise<UserRequestsPageResponse> {
    const page = await this.usage.requests(p.userId, query.limit ?? 50, query.cursor);
    return { success: true, data: page.records.map(toRequestResponse), next_cursor: page.nextCursor };
  }
}
