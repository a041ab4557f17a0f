import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ModelRate, parseRate, rateText } from './pricing';

/** How often every process re-reads the rates table, so a PUT on one replica reaches the others. */
export const RATE_RELOAD_INTERVAL_MS = 5000;

export interface RateRecord {
  model: string;
  /** Cents per token, exact decimal text (e.g. "0.015"). */
  inputRate: string;
  outputRate: string;
  updatedAt: Date;
}

interface CachedRate extends ModelRate {
  record: RateRecord;
}

/**
 * The rates table held in memory, so pricing a request costs no query. Loaded at start, reloaded
 * right after a change made through this process and every RATE_RELOAD_INTERVAL_MS otherwise
 * (a change made on another replica is visible here within that interval).
 */
@Injectable()
export class RateBook implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RateBook.name);
  private rates = new Map<string, CachedRate>();
  private timer: NodeJS.Timeout | undefined;

  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  async onModuleInit(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => {
      this.reload().catch((err: Error) => this.logger.warn(`Reloading rates failed: ${err.message}`));
    }, RATE_RELOAD_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get(model: string): ModelRate | undefined {
    return this.rates.get(model);
  }

  list(): RateRecord[] {
    return [...this.rates.values()].map((r) => r.record).sort((a, b) => a.model.localeCompare(b.model));
  }

  /** Creates or replaces a model's rates (decimal text, already validated), then reloads. */
  async set(model: string, inputRate: string, outputRate: string): Promise<RateRecord> {
    await this.db.query(
      `INSERT INTO rates (model, input_rate, output_rate) VALUES ($1, $2::numeric, $3::numeric)
       ON CONFLICT (model) DO UPDATE
         SET input_rate = EXCLUDED.input_rate, output_rate = EXCLUDED.output_rate, updated_at = now()`,
      [model, inputRate, outputRate],
    );
    await this.reload();
    const saved = this.rates.get(model);
    if (!saved) throw new Error(`Rate for ${model} vanished after saving`);
    return saved.record;
  }

  async reload(): Promise<void> {
    const rows: { model: string; input_rate: string; output_rate: string; updated_at: Date }[] =
      await this.db.query(`SELECT model, input_rate::text, output_rate::text, updated_at FROM rates`);
    const next = new Map<string, CachedRate>();
    for (const row of rows) {
      const input = parseRate(row.input_rate);
      const output = parseRate(row.output_rate);
      next.set(row.model, {
        input,
        output,
        record: {
          model: row.model,
          inputRate: rateText(input),
          outputRate: rateText(output),
          updatedAt: row.updated_at,
        },
      });
    }
    this.rates = next;
  }
}
