import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SettleTracker } from '../billing/settle-tracker';
import { ApiError } from '../common/api-error';
import type {
  RequestRecord,
  UsageGroup,
  UsagePoint,
  UsageQuery,
  UsageReport,
  UsageSums,
} from './usage.types';

const MAX_HOURS = { hour: 24 * 31, day: 24 * 366 } as const;

/** The dimension column and its label, per group. */
const GROUPS: Record<UsageGroup, { column: string; label: string }> = {
  user: { column: 'h.user_id::text', label: 'u.name' },
  key: { column: "nullif(h.key_id, '')", label: "coalesce(k.name, 'sk-le-' || k.public_id)" },
  model: { column: 'h.model', label: 'h.model' },
  host: { column: "nullif(h.host_id, '')", label: 'hs.name' },
};

const SUMS = `sum(h.requests)::text AS requests, sum(h.errors)::text AS errors, sum(h.aborted)::text AS aborted,
  sum(h.input_tokens)::text AS input_tokens, sum(h.output_tokens)::text AS output_tokens,
  sum(h.credits)::text AS credits, sum(h.duration_ms)::text AS duration_ms`;

interface SumsRow {
  grp: string | null;
  label: string | null;
  requests: string;
  errors: string;
  aborted: string;
  input_tokens: string;
  output_tokens: string;
  credits: string;
  duration_ms: string;
}

interface RequestRow {
  id: string;
  request_id: string;
  key_id: string | null;
  model: string;
  host_name: string | null;
  surface: string;
  operation: string;
  input_tokens: number;
  output_tokens: number;
  credits: string;
  duration_ms: number;
  ttft_ms: number | null;
  status: string;
  error: string | null;
  created_at: Date;
  created_us: string;
}

/**
 * Usage reports from usage_hourly (kept up to date by triggers on usage_records, see migration
 * 1710000012000): a report reads at most one row per hour and dimension, never the raw records.
 */
@Injectable()
export class UsageService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly settles: SettleTracker,
  ) {}

  async report(q: UsageQuery): Promise<UsageReport> {
    if (!(q.from < q.to)) throw new ApiError('invalid_request', 'from: must be before to', 'from');
    if (q.to.getTime() - q.from.getTime() > MAX_HOURS[q.granularity] * 3600_000)
      throw new ApiError(
        'invalid_request',
        `to: at most ${MAX_HOURS[q.granularity] / 24} days with granularity=${q.granularity}`,
        'to',
      );
    // Answers go out before their settle (and usage row) commits: wait for this process's.
    await this.settles.settled(q.userId === undefined ? undefined : [q.userId]);
    const group = GROUPS[q.groupBy];
    const params: unknown[] = [q.from, q.to];
    const where = [`h.bucket >= date_trunc('hour', $1::timestamptz)`, `h.bucket < $2::timestamptz`];
    const filter = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    filter('h.user_id', q.userId);
    filter('h.key_id', q.keyId);
    filter('h.model', q.model);
    filter('h.host_id', q.hostId);
    const from = `FROM usage_hourly h
      LEFT JOIN users u ON u.id = h.user_id
      LEFT JOIN api_keys k ON k.id::text = h.key_id
      LEFT JOIN hosts hs ON hs.id::text = h.host_id
      WHERE ${where.join(' AND ')}`;
    const bucket =
      q.granularity === 'hour'
        ? 'h.bucket'
        : `date_trunc('day', h.bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
    const [series, totals] = await Promise.all([
      this.db.query(
        `SELECT ${bucket} AS bucket, ${group.column} AS grp, min(${group.label}) AS label, ${SUMS}
         ${from} GROUP BY 1, 2 HAVING sum(h.requests) <> 0 ORDER BY 1, 2`,
        params,
      ) as Promise<(SumsRow & { bucket: Date })[]>,
      this.db.query(
        `SELECT ${group.column} AS grp, min(${group.label}) AS label, ${SUMS}
         ${from} GROUP BY 1 HAVING sum(h.requests) <> 0 ORDER BY sum(h.credits) DESC, 1`,
        params,
      ) as Promise<SumsRow[]>,
    ]);
    return {
      query: q,
      series: series.map((r): UsagePoint => ({ bucket: new Date(r.bucket), ...toSums(r) })),
      totals: totals.map(toSums),
    };
  }

  /** A user's requests, newest first; `cursor` is the previous page's next_cursor. */
  async requests(
    userId: string,
    limit: number,
    cursor?: string,
  ): Promise<{ records: RequestRecord[]; nextCursor: string | null }> {
    await this.settles.settled([userId]);
    const params: unknown[] = [userId, limit + 1];
    let after = '';
    if (cursor !== undefined) {
      const c = decodeCursor(cursor);
      params.push(c.createdAt, c.id);
      after = `AND (created_at, id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::bigint)`;
    }
    const rows = (await this.db.query(
      `SELECT id::text, request_id, key_id::text, model, host_name, surface, operation, input_tokens,
              output_tokens, credits::text, duration_ms, ttft_ms, status, error, created_at,
              (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us
         FROM usage_records WHERE user_id = $1 ${after}
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    )) as RequestRow[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      records: page.map(toRequest),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_us, last.id) : null,
    };
  }
}

function toSums(r: SumsRow): UsageSums {
  return {
    group: r.grp,
    label: r.label,
    requests: Number(r.requests),
    errors: Number(r.errors),
    aborted: Number(r.aborted),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    credits: BigInt(r.credits),
    durationMs: Number(r.duration_ms),
  };
}

function toRequest(r: RequestRow): RequestRecord {
  return {
    id: r.id,
    requestId: r.request_id,
    keyId: r.key_id,
    model: r.model,
    hostName: r.host_name,
    surface: r.surface,
    operation: r.operation,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    credits: BigInt(r.credits),
    durationMs: r.duration_ms,
    ttftMs: r.ttft_ms,
    status: r.status,
    error: r.error,
    createdAt: new Date(r.created_at),
  };
}

/** Opaque cursor: created_at (microseconds since the epoch, exact) and id of a page's last record. */
function encodeCursor(createdUs: string, id: string): string {
  return Buffer.from(`r:${createdUs}:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const match = /^r:(-?[0-9]{1,18}):([1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1] || !match[2]) throw new ApiError('invalid_request', 'cursor: invalid cursor', 'cursor');
  return { createdAt: match[1], id: match[2] };
}
