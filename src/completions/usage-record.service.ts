import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

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

/** Writes the per-request usage rows (one insert, no read). */
@Injectable()
export class UsageRecordService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

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
