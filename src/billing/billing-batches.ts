import type { RunStatement } from '../database/sql-database';
import { WriteBatcher } from '../database/write-batcher';
import { batchStatements, LEASE_SETTLE_SQL, RESERVE_BATCH_SQL, SETTLE_BATCH_SQL } from './billing.sql';

/** Most requests in one batch statement. */
export const MAX_BATCH = 256;

export interface ReserveRow {
  userId: string;
  requestId: string;
  keyId: string | null;
  model: string;
  credits: bigint;
  /** The rates at reserve time (exact decimal text), kept on the reservation. */
  inputRate: string;
  outputRate: string;
  holdMs: number | null;
}

/** `balance`: the user's balance right after this hold. */
export type ReserveOutcome =
  { ok: true; balance: bigint } | { ok: false; reason: 'conflict' | 'insufficient_credits' };

/** The usage row written with a settle: the usage_records fields the settle does not decide. */
export interface SettleUsageRecord {
  userId: string;
  keyId: string | null;
  model: string;
  host: { id: string; name: string } | null;
  surface: string;
  operation: string;
  durationMs: number;
  ttftMs: number | null;
  status: string;
  error?: string;
}

export interface SettleRow {
  requestId: string;
  /** What the request is charged (pricing.ts chargeFor); null: nothing open to settle, record only. */
  charge: bigint | null;
  inputTokens: number;
  outputTokens: number;
  record?: SettleUsageRecord;
}

/** null: the reservation was not open, nothing changed. */
export type SettleOutcome = { amount: bigint; charged: bigint } | null;

/** Batches reserves into billing_reserve_{batch,set}[_async] calls (billing.sql.ts). */
export function reserveBatcher(
  run: RunStatement,
  synchronousCommit: boolean,
  onBatch?: (rows: number) => void,
): WriteBatcher<ReserveRow, ReserveOutcome> {
  const statementFor = batchStatements('reserve', RESERVE_BATCH_SQL, synchronousCommit);
  return new WriteBatcher(
    async (rows) => {
      const { name, text } = statementFor(rows.length);
      const result = (await run(name, text, [
        rows.map((r) => r.requestId),
        rows.map((r) => r.userId),
        rows.map((r) => r.keyId),
        rows.map((r) => r.model),
        rows.map((r) => r.credits.toString()),
        rows.map((r) => r.inputRate),
        rows.map((r) => r.outputRate),
        rows.map((r) => r.holdMs),
      ])) as { idx: number; ok: boolean; reason: string | null; balance: string | null }[];
      return inOrder(result, rows.length, (row): ReserveOutcome => {
        if (row.ok) return { ok: true, balance: BigInt(row.balance ?? '0') };
        if (row.reason === 'conflict' || row.reason === 'insufficient_credits')
          return { ok: false, reason: row.reason };
        throw new Error(`billing_reserve_batch: unexpected reason ${row.reason}`);
      });
    },
    { maxBatch: MAX_BATCH, sortKey: (r) => r.userId, onBatch },
  );
}

/** Batches settles (with their usage records) into billing_settle_{batch,set}[_async] calls. */
export function settleBatcher(
  run: RunStatement,
  opts: { synchronousCommit: boolean; lingerMs: number; onBatch?: (rows: number) => void },
): WriteBatcher<SettleRow, SettleOutcome> {
  const { synchronousCommit, lingerMs, onBatch } = opts;
  const statementFor = batchStatements('settle', SETTLE_BATCH_SQL, synchronousCommit);
  return new WriteBatcher(
    async (rows) => {
      const rec = (f: (r: SettleUsageRecord) => unknown) => rows.map((r) => (r.record ? f(r.record) : null));
      const { name, text } = statementFor(rows.length);
      const [keyIds, ...hostToError] = usageColumns(rec);
      const result = (await run(name, text, [
        rows.map((r) => r.requestId),
        rows.map((r) => (r.charge === null ? null : r.charge.toString())),
        rows.map((r) => r.inputTokens),
        rows.map((r) => r.outputTokens),
        rows.map((r) => r.record !== undefined),
        rec((u) => u.userId),
        keyIds,
        rec((u) => u.model),
        ...hostToError,
      ])) as { idx: number; amount: string | null; charged: string | null }[];
      return inOrder(result, rows.length, (row) =>
        row.amount === null || row.charged === null
          ? null
          : { amount: BigInt(row.amount), charged: BigInt(row.charged) },
      );
    },
    // Settles without a record are sorted first; their user is only known to the database.
    // Nobody waits on a settle but reads (SettleTracker) and a queued task's completion: linger.
    { maxBatch: MAX_BATCH, sortKey: (r) => r.record?.userId ?? '', onBatch, lingerMs },
  );
}

/** A request admitted on a credit lease, settled (or refunded) with its ledger and usage rows. */
export interface LeaseSettleRow {
  leaseId: string;
  requestId: string;
  userId: string;
  keyId: string | null;
  model: string;
  /** The request's hold (its upper bound). */
  amount: bigint;
  /** What it is charged (pricing.ts chargeFor): 0 for a refund, never above the hold. */
  charged: bigint;
  /** The rates it was admitted with (exact decimal text), kept on its reservation row. */
  inputRate: string;
  outputRate: string;
  inputTokens: number;
  outputTokens: number;
  /** The ledger says refund (nothing charged). */
  refund: boolean;
  record?: SettleUsageRecord;
}

/** Batches settles of lease requests into billing_lease_settle_set calls; null: the lease was gone. */
export function leaseSettleBatcher(
  run: RunStatement,
  opts: { holdMs: number; synchronousCommit: boolean; lingerMs: number; onBatch?: (rows: number) => void },
): WriteBatcher<LeaseSettleRow, bigint | null> {
  return new WriteBatcher(
    async (rows) => {
      const rec = (f: (r: SettleUsageRecord) => unknown) => rows.map((r) => (r.record ? f(r.record) : null));
      const result = (await run('le_billing_lease_settle_set', LEASE_SETTLE_SQL, [
        rows.map((r) => r.leaseId),
        rows.map((r) => r.requestId),
        rows.map((r) => r.userId),
        rows.map((r) => r.keyId),
        rows.map((r) => r.model),
        rows.map((r) => r.amount.toString()),
        rows.map((r) => r.charged.toString()),
        rows.map((r) => r.inputRate),
        rows.map((r) => r.outputRate),
        rows.map((r) => r.inputTokens),
        rows.map((r) => r.outputTokens),
        rows.map((r) => r.refund),
        rows.map((r) => r.record !== undefined),
        ...usageColumns(rec),
        opts.holdMs,
        opts.synchronousCommit,
      ])) as { idx: number; charged: string | null }[];
      return inOrder(result, rows.length, (row) => (row.charged === null ? null : BigInt(row.charged)));
    },
    { maxBatch: MAX_BATCH, sortKey: (r) => r.userId, lingerMs: opts.lingerMs, onBatch: opts.onBatch },
  );
}

/** The usage_records columns a settle statement takes after its own (key id … error). */
function usageColumns(rec: (f: (r: SettleUsageRecord) => unknown) => unknown[]): unknown[][] {
  return [
    rec((u) => u.keyId),
    rec((u) => u.host?.id ?? null),
    rec((u) => u.host?.name ?? null),
    rec((u) => u.surface),
    rec((u) => u.operation),
    rec((u) => Math.round(u.durationMs)),
    rec((u) => (u.ttftMs === null ? null : Math.round(u.ttftMs))),
    rec((u) => u.status),
    rec((u) => u.error ?? null),
  ];
}

/** The function's rows mapped back to input positions (idx counts from 1). */
function inOrder<T extends { idx: number }, R>(rows: T[], count: number, map: (row: T) => R): R[] {
  const out = new Array<R>(count);
  let seen = 0;
  for (const row of rows) {
    const i = Number(row.idx) - 1;
    if (!(i >= 0 && i < count) || i in out) throw new Error(`batch result row ${row.idx} out of place`);
    out[i] = map(row);
    seen++;
  }
  if (seen !== count) throw new Error(`batch returned ${seen} rows for ${count}`);
  return out;
}
