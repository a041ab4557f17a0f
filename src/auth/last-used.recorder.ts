import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from './clock';

const FLUSH_INTERVAL_MS = 5000;

/**
 * `api_keys.last_used_at` without a write per request: uses are collected in memory and written
 * in one UPDATE every few seconds and at shutdown (before the database closes).
 */
@Injectable()
export class LastUsedRecorder implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LastUsedRecorder.name);
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  touch(keyId: string): void {
    this.pending.set(keyId, this.clock.now());
  }

  /** Writes the uses collected so far. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    const times = [...batch.values()].map((t) => new Date(t).toISOString());
    try {
      await this.db.query(
        `UPDATE api_keys k SET last_used_at = GREATEST(COALESCE(k.last_used_at, u.at), u.at)
           FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE k.id = u.id`,
        [ids, times],
      );
    } catch (error) {
      this.logger.warn(`could not record key use: ${(error as Error).message}`);
    }
  }
}
