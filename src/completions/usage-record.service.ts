import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import { pendingCompletionLogOf } from '../logging/request-log';
import { TrafficMetrics } from '../metrics/traffic-metrics';
import type { Usage } from './completion.types';
import type { AbortLike } from '../common/abort';

export type UsageStatus = 'ok' | 'error' | 'client_closed' | 'cancelled';

/**
 * Reports settled usage to metrics and logs (the usage row itself is written by the settle
 * statement, in the same transaction as the ledger rows: billing-batches.ts usageColumns).
 */
@Injectable()
export class UsageRecordService {
  constructor(private readonly metrics: TrafficMetrics) {}

  /**
   * A request settled (Settlements, request-settlement.ts): tokens and credits by model and time to first
   * token on /metrics (pre-bound series, no allocation), and the fields of its HTTP request's log
   * line, found through its `signal` (queued tasks have none).
   */
  settled(
    signal: AbortLike,
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
}
