import type { WriteBatcher } from '../database/write-batcher';
import {
  reserveBatcher,
  ReserveOutcome,
  ReserveRow,
  settleBatcher,
  SettleOutcome,
  SettleRow,
} from './billing-batches';
import type { SqlDatabase } from '../database/sql-database';
import { EXPIRED_RESERVATIONS_SQL, openHoldJoin, REFUND_SQL } from './billing.sql';
import { type Hold, parseRate } from './pricing';

/**
 * Reservations (holds with a row of their own: queued tasks, and synchronous requests when credit
 * leases are off) and their ledger rows. Reserves and settles of concurrent requests go out as
 * one statement each (WriteBatcher); refunds one statement each.
 */
export class ReservationsRepository {
  private readonly reserves: WriteBatcher<ReserveRow, ReserveOutcome>;
  private readonly settles: WriteBatcher<SettleRow, SettleOutcome>;

  constructor(
    private readonly db: SqlDatabase,
    opts: { synchronousCommit: boolean; settleDelayMs: number },
    onBatch?: (statement: 'reserve' | 'settle', rows: number) => void,
  ) {
    this.reserves = reserveBatcher(db.run, opts.synchronousCommit, (n) => onBatch?.('reserve', n));
    this.settles = settleBatcher(db.run, {
      synchronousCommit: opts.synchronousCommit,
      lingerMs: opts.settleDelayMs,
      onBatch: (n) => onBatch?.('settle', n),
    });
  }

  /** Takes the hold if the balance covers it and writes its reservation and ledger row (−R). */
  reserve(row: ReserveRow): Promise<ReserveOutcome> {
    return this.reserves.submit(row);
  }

  /** Closes an open reservation at the given charge (+(R − charged) returned); null when it was not open. */
  settle(row: SettleRow): Promise<SettleOutcome> {
    return this.settles.submit(row);
  }

  /** The hold of an open reservation (its credits and snapshot rates), or undefined. */
  async openHold(requestId: string): Promise<Hold | undefined> {
    const hold = openHoldJoin('$1');
    const rows = (await this.db.run(
      'le_reservations_open_hold',
      `SELECT ${hold.columns} FROM (SELECT 1) one ${hold.join}`,
      [requestId],
    )) as OpenHoldRow[];
    return rows[0] ? holdOfRow(rows[0]) : undefined;
  }

  /** Returns the whole hold of an open reservation (+R); undefined when it was not open. */
  async refund(requestId: string): Promise<bigint | undefined> {
    const rows = await this.db.query<{ amount: string }>(REFUND_SQL, [requestId]);
    return rows[0] ? BigInt(rows[0].amount) : undefined;
  }

  /** Request ids of open reservations past their deadline, oldest first. */
  async expired(limit: number): Promise<string[]> {
    const rows = await this.db.query<{ request_id: string }>(EXPIRED_RESERVATIONS_SQL, [limit]);
    return rows.map((r) => r.request_id);
  }

  /** Request ids of open holds reserved with no deadline longer ago than `olderThanMs`, oldest first. */
  async withoutDeadline(olderThanMs: number, limit: number): Promise<string[]> {
    const rows = await this.db.query<{ request_id: string }>(
      `SELECT request_id FROM reservations
       WHERE status = 'open' AND expires_at IS NULL
         AND created_at < now() - $1::double precision * interval '1 millisecond'
       ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.request_id);
  }

  /** Creates the user's account row (0 credits) if missing; false for an unknown user. */
  async ensureAccount(userId: string): Promise<boolean> {
    const rows = await this.db.query<unknown>(
      `WITH u AS (SELECT id FROM users WHERE id = $1::uuid),
       ins AS (INSERT INTO accounts (user_id) SELECT id FROM u ON CONFLICT (user_id) DO NOTHING)
       SELECT 1 FROM u`,
      [userId],
    );
    return rows.length > 0;
  }
}

/** The columns of `openHoldJoin` in a row. */
export interface OpenHoldRow {
  hold_amount: string | null;
  hold_input_rate: string | null;
  hold_output_rate: string | null;
}

/** The hold those columns describe; undefined when no reservation was open. */
export function holdOfRow(row: OpenHoldRow): Hold | undefined {
  if (row.hold_amount === null || row.hold_input_rate === null || row.hold_output_rate === null)
    return undefined;
  return {
    credits: BigInt(row.hold_amount),
    rate: { input: parseRate(row.hold_input_rate), output: parseRate(row.hold_output_rate) },
  };
}
