import { Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminApiController, uuidParam } from '../admin/admin-api';
import {
  AdminUsageQueryDto,
  RequestsPageResponse,
  RequestsQueryDto,
  UsageReportResponse,
} from './dto/usage.dto';
import { toReportResponse, toRequestResponse, toUsageCsv, toUsageQuery, wantsCsv } from './usage.format';
import { UsageService } from './usage.service';

/** Admin usage reports from the hourly aggregate, and any user's recent requests. */
@AdminApiController('admin: usage')
export class UsageAdminController {
  constructor(private readonly usage: UsageService) {}

  @Get('usage')
  @ApiOperation({
    operationId: 'getUsageReport',
    summary: 'Usage and spend per user, key, model or host over time (JSON or CSV)',
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({
    type: UsageReportResponse,
    description: 'Usage per hour or day and user / key / model / host',
  })
  async report(
    @Query() query: AdminUsageQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UsageReportResponse | string> {
    const report = toReportResponse(await this.usage.report(toUsageQuery(query)));
    if (!wantsCsv(query.format, accept)) return report;
    res.type('text/csv').setHeader('Content-Disposition', 'attachment; filename="usage.csv"');
    return toUsageCsv(report);
  }

  @Get('users/:id/requests')
  @ApiOperation({ operationId: 'listUserRequests', summary: 'A user’s recent requests, newest first' })
  @ApiOkResponse({ type: RequestsPageResponse, description: 'The user’s recent requests, newest first' })
  async requests(
    @Param('id', uuidParam) id: string,
    @Query() query: RequestsQueryDto,
  ): Promise<RequestsPageResponse> {
    const page = await this.usage.requests(id, query.limit ?? 50, query.cursor);
    return { data: page.records.map(toRequestResponse), next_cursor: page.nextCursor };
  }
}
