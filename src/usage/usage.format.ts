import type {
  AdminUsageQueryDto,
  RequestRecordResponse,
  UsageReportResponse,
  UsageSumsResponse,
} from './dto/usage.dto';
import type { RequestRecord, UsageQuery, UsageReport, UsageSums } from './usage.types';

const DAY_MS = 24 * 3600_000;

/** The query a DTO asks for: the last 24 hours by model unless told otherwise. */
export function toUsageQuery(dto: AdminUsageQueryDto, userId?: string): UsageQuery {
  const to = dto.to ? new Date(dto.to) : new Date();
  const from = dto.from ? new Date(dto.from) : new Date(to.getTime() - DAY_MS);
  return {
    from,
    to,
    groupBy: dto.group_by ?? 'model',
    granularity: dto.granularity ?? 'hour',
    userId: userId ?? dto.user_id,
    keyId: dto.key_id,
    model: dto.model,
    hostId: dto.host_id,
  };
}

export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  return format === 'csv' || (format === undefined && /\btext\/csv\b/.test(accept ?? ''));
}

function toSumsResponse(s: UsageSums): UsageSumsResponse {
  return {
    group: s.group,
    label: s.label,
    requests: s.requests,
    errors: s.errors,
    aborted: s.aborted,
    input_tokens: s.inputTokens,
    output_tokens: s.outputTokens,
    credits: s.credits.toString(),
    duration_ms: s.durationMs,
  };
}

export function toReportResponse(r: UsageReport): UsageReportResponse {
  return {
    from: r.query.from.toISOString(),
    to: r.query.to.toISOString(),
    group_by: r.query.groupBy,
    granularity: r.query.granularity,
    series: r.series.map((p) => ({ bucket: p.bucket.toISOString(), ...toSumsResponse(p) })),
    totals: r.totals.map(toSumsResponse),
  };
}

const CSV_COLUMNS = [
  'bucket',
  'group',
  'label',
  'requests',
  'errors',
  'aborted',
  'input_tokens',
  'output_tokens',
  'credits',
  'duration_ms',
] as const;

/** RFC 4180 field: quoted when it holds a comma, quote or line break; a leading =+-@ is defused. */
function csvField(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The series as CSV, one line per bucket and group. */
export function toUsageCsv(r: UsageReportResponse): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const p of r.series) lines.push(CSV_COLUMNS.map((c) => csvField(p[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function toRequestResponse(r: RequestRecord): RequestRecordResponse {
  return {
    id: r.id,
    request_id: r.requestId,
    key_id: r.keyId,
    model: r.model,
    host_name: r.hostName,
    surface: r.surface,
    operation: r.operation,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    credits: r.credits.toString(),
    duration_ms: r.durationMs,
    ttft_ms: r.ttftMs,
    status: r.status,
    error: r.error,
    created_at: r.createdAt.toISOString(),
  };
}
