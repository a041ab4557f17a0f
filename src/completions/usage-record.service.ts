import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '../auth/principal';
import { pendingCompletionLogOf } from '../logging/request-log';
import { TrafficMetrics } from '../metrics/traffic-metrics';
import type { Usage } from './completion.types';

export type UsageStatus = 'ok' | 'error' | 'client_closed' | 'cancelled';

export interface UsageRecord {
  requestId: string;
  userId: string;
  keyId: string | null;
  model: string;
  host: { id: string; name: string } | null;
  surface: string;
  operation: 'chat' | 'completion' | 'embedding';
  inputTokens: number;
  outputTokens: number;
  credits: bigint;
  durationMs: number;
  ttftMs: number | null;
  status: UsageStatus;
  error?: string;
}

/** Writes the per-request usage rows (one insert, no read); reports settled usage to metrics and logs. */
@Injectable()
export class UsageRecordService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly metrics: TrafficMetrics,
  ) {}

  /**
   * A request settled (CompletionsService.settle): tokens and credits by model and time to first
   * token on /metrics (pre-bound series, no allocation), and the fields of its HTTP request's log
   * line, found through its `signal` (queued tasks have none).
   */
  settled(
    signal: AbortSignal,
    principal: Principal,
    model: string,
    host: { name: string } | null,
    usage: Usage,
    credits: bigint,
    ttftMs: number | null,
  ): void {
    this.metrics.settled(model, usage.inputTokens, usage.outputTokens, credits, ttftMs);
    const log = pendingCompletionLogOf(signal);
    if (!log) return;
    log.fields = {
      userId: principal.userId,
      keyId: principal.keyId || null,
      model,
      host: host?.name ?? null,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      credits,
    };
    log.write?.();
  }

  async record(r: UsageRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO usage_records (request_id, user_id, key_id, model, host_id, host_name, surface, operation,
         input_tokens, output_tokens, credits, duration_ms, ttft_ms, status, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        r.requestId,
        r.userId,
        r.keyId,
        r.model,
        r.host?.id ?? null,
        r.host?.name ?? null,
        r.surface,
        r.operation,
        r.inputTokens,
        r.outputTokens,
        r.credits.toString(),
        Math.round(r.durationMs),
        r.ttftMs === null ? null : Math.round(r.ttftMs),
        r.status,
        r.error ?? null,
      ],
    );
  }
}
