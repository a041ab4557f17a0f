import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';

/** The part of pg's Pool used for named (prepared) statements. */
interface NamedQueryPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** One statement inside a transaction. */
export type TransactionQuery = (text: string, values: unknown[]) => Promise<unknown[]>;

/** Sends one statement; `name` lets PostgreSQL keep it prepared per connection. */
export type RunStatement = (name: string, text: string, values: unknown[]) => Promise<unknown[]>;

/**
 * Raw SQL for the hot repositories (billing, tasks): named statements straight on pg's pool,
 * without a TypeORM query runner per statement (PostgreSQL), or through the DataSource (PGlite).
 */
@Injectable()
export class SqlDatabase {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * Named statements on PostgreSQL (parsed and planned once per connection); PGlite's pool has
   * no such form, so there the statement goes through the DataSource.
   */
  readonly run: RunStatement = async (name, text, values) => {
    if (!this.config.databaseUrl) return this.db.query(text, values);
    const pool = (this.db.driver as unknown as { master: NamedQueryPool }).master;
    return (await pool.query({ name, text, values })).rows;
  };

  query<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return this.db.query(text, values);
  }

  /** Runs `work` in one transaction on one connection; `asyncCommit`: the commit does not wait for the flush. */
  async transaction<T>(asyncCommit: boolean, work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        if (asyncCommit) await runner.query(`SET LOCAL synchronous_commit = off`);
        const result = await work((text, values) => runner.query(text, values) as Promise<unknown[]>);
        await runner.commitTransaction();
        return result;
      } catch (error) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }
}
