import type { WriteBatcher } from '../database/write-batcher';
import { leaseSettleBatcher, LeaseSettleRow } from './billing-batches';
import type { SqlDatabase } from '../database/sql-database';
import { LEASE_RELEASE_SQL, LEASE_RENEW_SQL, LEASE_SWEEP_SQL } from './billing.sql';
import { LeaseAsk, leaseGrant } from './lease-sizing';

/** The outcome of a take: granted null = refused (nothing changed); lost = a lease taken before is gone. */
export interface LeaseTake {
  granted: bigint | null;
  lost: boolean;
}

/** Where credit leases live: what CreditLeases needs of the database (an in-memory one in unit tests). */
export interface LeaseStore {
  /** Grows (or opens) the lease by what lease-sizing grants of `ask`; `taken`: it was taken before. */
  take(leaseId: string, userId: string, ask: LeaseAsk, taken: boolean): Promise<LeaseTake>;
  /** Gives back `amount` credits (null: all, the lease ends); what was given back (0 when gone). */
  release(leaseId: string, amount: bigint | null): Promise<bigint>;
  /** Settles one request admitted on a lease (batched); null when the lease was gone. */
  settle(row: LeaseSettleRow): Promise<bigint | null>;
  /** Pushes the deadline of leases with running requests. */
  renew(leaseIds: string[]): Promise<void>;
  /** A round trip, to learn whether the database answers again. */
  ping(): Promise<void>;
}

export interface LeaseStoreOptions {
  holdMs: number;
  synchronousCommit: boolean;
  /** Settles wait this long for company before their statement goes out. */
  settleDelayMs: number;
}

/** Credit leases in PostgreSQL (tables credit_leases and accounts.leased, migration 1710000011000). */
export class LeasesRepository implements LeaseStore {
  private readonly settles: WriteBatcher<LeaseSettleRow, bigint | null>;

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: LeaseStoreOptions,
    onBatch?: (rows: number) => void,
  ) {
    this.settles = leaseSettleBatcher(db.run, { ...options, lingerMs: options.settleDelayMs, onBatch });
  }

  /**
   * Under the user's account lock (every change of a lease or of `leased` takes it first), reads
   * the credit outside all leases, applies leaseGrant and writes the grant. A grant, not a new
   * total: the caller counts in deltas, which commute with settles of the lease in any order.
   */
  take(leaseId: string, userId: string, ask: LeaseAsk, taken: boolean): Promise<LeaseTake> {
    return this.db.transaction(!this.options.synchronousCommit, async (query) => {
      const rows = (await query(
        `SELECT (a.credits - a.leased)::text AS free, c.amount::text AS amount
         FROM accounts a LEFT JOIN credit_leases c ON c.id = $2::uuid AND c.user_id = a.user_id
         WHERE a.user_id = $1::uuid FOR UPDATE OF a`,
        [userId, leaseId],
      )) as { free: string; amount: string | null }[];
      const row = rows[0];
      if (taken && (row === undefined || row.amount === null)) return { granted: null, lost: true };
      const granted = row === undefined ? null : leaseGrant(ask, BigInt(row.free));
      if (granted === null) return { granted: null, lost: false };
      await query(
        `WITH acc AS (
           UPDATE accounts SET leased = leased + $3::bigint, updated_at = now() WHERE user_id = $2::uuid
         )
         INSERT INTO credit_leases AS c (id, user_id, amount, expires_at)
         VALUES ($1::uuid, $2::uuid, $3::bigint, now() + $4::double precision * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET amount = c.amount + EXCLUDED.amount, expires_at = EXCLUDED.expires_at`,
        [leaseId, userId, granted.toString(), this.options.holdMs],
      );
      return { granted, lost: false };
    });
  }

  async release(leaseId: string, amount: bigint | null): Promise<bigint> {
    const rows = (await this.db.run('le_billing_lease_release', LEASE_RELEASE_SQL, [
      leaseId,
      amount === null ? null : amount.toString(),
      this.options.synchronousCommit,
    ])) as { released: string }[];
    return rows[0] ? BigInt(rows[0].released) : 0n;
  }

  settle(row: LeaseSettleRow): Promise<bigint | null> {
    return this.settles.submit(row);
  }

  async renew(leaseIds: string[]): Promise<void> {
    await this.db.run('le_billing_lease_renew', LEASE_RENEW_SQL, [leaseIds, this.options.holdMs]);
  }

  async ping(): Promise<void> {
    await this.db.run('le_billing_ping', 'SELECT 1', []);
  }

  /** Ends leases past their deadline (a crashed process's), at most `limit`; how many. */
  async sweep(limit: number): Promise<number> {
    const rows = (await this.db.run('le_billing_lease_sweep', LEASE_SWEEP_SQL, [limit])) as {
      ended: number;
    }[];
    return Number(rows[0]?.ended ?? 0);
  }
}
