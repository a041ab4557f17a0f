import { Injectable } from '@nestjs/common';
import { SqlDatabase } from '../database/sql-database';
import { TOP_UP_SQL } from './billing.sql';

export interface LedgerRow {
  id: string;
  amount: string;
  kind: 'topup' | 'reserve' | 'settle' | 'refund' | 'adjustment';
  request_id: string | null;
  reference: string | null;
  balance_after: string;
  created_at: Date;
}

export interface TopUpRow {
  replayed: boolean;
  id: string;
  balance_after: string;
  request_hash: string;
}

/** Balances, the append-only ledger and top-ups in PostgreSQL. */
@Injectable()
export class LedgerRepository {
  constructor(private readonly db: SqlDatabase) {}

  /** Balances of the users that have an account (valid uuids only). */
  async balances(userIds: string[]): Promise<Map<string, bigint>> {
    const rows = await this.db.query<{ user_id: string; credits: string }>(
      `SELECT user_id, credits::text AS credits FROM accounts WHERE user_id = ANY($1::uuid[])`,
      [userIds],
    );
    return new Map(rows.map((r) => [r.user_id, BigInt(r.credits)]));
  }

  /** At most `limit` entries of a user older than entry `before` (null: the newest), newest first. */
  page(userId: string, before: string | null, limit: number): Promise<LedgerRow[]> {
    return this.db.query<LedgerRow>(
      // ORDER BY the table's bigint id: the bare name would mean the text alias ("99" > "100").
      `SELECT id::text AS id, amount::text AS amount, kind, request_id, reference,
              balance_after::text AS balance_after, created_at
       FROM credit_ledger
       WHERE user_id = $1::uuid AND ($2::bigint IS NULL OR id < $2::bigint)
       ORDER BY credit_ledger.id DESC LIMIT $3`,
      [userId, before, limit],
    );
  }

  /** One top-up statement (TOP_UP_SQL); no row for an unknown user. */
  async topUp(
    userId: string,
    amount: bigint,
    reference: string | null,
    idempotencyKey: string | null,
    requestHash: string,
  ): Promise<TopUpRow | undefined> {
    const rows = await this.db.query<TopUpRow>(TOP_UP_SQL, [
      userId,
      amount.toString(),
      reference,
      idempotencyKey,
      requestHash,
    ]);
    return rows[0];
  }

  async userExists(userId: string): Promise<boolean> {
    return (await this.db.query(`SELECT 1 FROM users WHERE id = $1::uuid`, [userId])).length > 0;
  }
}
