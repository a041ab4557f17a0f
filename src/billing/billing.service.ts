import { createHash } from 'node:crypto';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { AppConfig } from '../config/app-config';
import { sqlState } from './billing-batcher';
import {
  reserveBatcher,
  ReserveOutcome,
  ReserveRow,
  RunStatement,
  settleBatcher,
  SettleUsageRecord,
} from './billing-batches';
import { EXPIRED_RESERVATIONS_SQL, LEASE_SWEEP_SQL, REFUND_SQL, TOP_UP_SQL } from './billing.sql';
import { CreditLeases } from './credit-leases';
import { decodeLedgerCursor, encodeLedgerCursor } from './ledger-cursor';
import { ChatMessageLike, creditsFor, inputCharacters, ModelRate, ToolLike } from './pricing';
import { RateBook, RateRecord } from './rate-book';

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ReserveInput {
  userId: string;
  keyId?: string;
  /** Unique per request; a second reserve with the same id is refused (409 conflict). */
  requestId: string;
  model: string;
  credits: bigint;
  /**
   * How long the hold may stay open before the sweep refunds it (a crashed process).
   * Default RESERVATION_TIMEOUT_MS; null = never swept (the caller's own recovery closes it,
   * e.g. queued tasks that may wait longer than the timeout).
   */
  holdMs?: number | null;
}

export interface TopUpResult {
  /** Balance right after this top-up (on a replay: after the original one). */
  credits: bigint;
  entryId: string;
  replayed: boolean;
}

export type LedgerKind = 'topup' | 'reserve' | 'settle' | 'refund' | 'adjustment';

export interface LedgerEntry {
  id: string;
  amount: bigint;
  kind: LedgerKind;
  requestId: string | null;
  reference: string | null;
  balanceAfter: bigint;
  createdAt: Date;
}

export interface LedgerPage {
  entries: LedgerEntry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** The part of pg's Pool used for named (prepared) statements. */
interface NamedQueryPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SWEEP_BATCH = 500;
/** Users whose last known balance is remembered (a hint only; cleared when full). */
const KNOWN_BALANCES = 100_000;

/**
 * Credits, rates, reservations and the append-only ledger (CONTRACT §4, §5). Reserves and settles
 * of concurrent requests are grouped into one statement each (see WriteBatcher).
 */
@Injectable()
export class BillingService implements BeforeApplicationShutdown {
  /** Each user's balance after their last hold in this process: a hint, never a decision. */
  private readonly knownBalances = new Map<string, bigint>();
  /** Credits of each user's reserves that this process sent and that have not returned yet. */
  private readonly pendingHolds = new Map<string, bigint>();
  /** Settles still running per user (the answer may already have gone out). */
  private readonly settling = new Map<string, Set<Promise<unknown>>>();
  private readonly runBatch: RunStatement = (name, text, values) => this.runStatement(name, text, values);
  private readonly reserves: ReturnType<typeof reserveBatcher>;
  private readonly settles: ReturnType<typeof settleBatcher>;
  /** Per-process credit leases for hold() (BILLING_CREDIT_LEASES), else undefined. */
  private readonly leases: CreditLeases | undefined;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    private readonly rates: RateBook,
    private readonly config: AppConfig,
  ) {
    this.reserves = reserveBatcher(this.runBatch, config.billingSynchronousCommit);
    this.settles = settleBatcher(this.runBatch, config.billingSynchronousCommit);
    this.leases = config.billingCreditLeases
      ? new CreditLeases(this.runBatch, {
          holdMs: config.reservationTimeoutMs,
          idleMs: config.billingLeaseIdleMs,
          synchronousCommit: config.billingSynchronousCommit,
          settleDelayMs: config.billingSettleDelayMs,
        })
      : undefined;
  }

  /** Batch statements sent so far, per kind (tests: fewer statements than calls under load). */
  batchStatements(): { reserve: number; settle: number; leaseSettle: number } {
    return {
      reserve: this.reserves.statements,
      settle: this.settles.statements,
      leaseSettle: this.leases?.settleStatements ?? 0,
    };
  }

  // ---- pricing (no query: rates come from the in-memory RateBook) ----

  /** Upper bound of a request (seed 000): user characters in, max_tokens out, rounded up. */
  async estimate(
    model: string,
    messages: readonly ChatMessageLike[],
    maxTokens: number,
    tools?: readonly ToolLike[],
  ): Promise<bigint> {
    return creditsFor(this.rateOf(model), inputCharacters(messages, tools), maxTokens);
  }

  /** Cost of actual usage at the current rates, rounded up to a whole credit. */
  async cost(model: string, usage: TokenUsage): Promise<bigint> {
    return creditsFor(this.rateOf(model), usage.inputTokens, usage.outputTokens);
  }

  async hasRate(model: string): Promise<boolean> {
    return this.rates.get(model) !== undefined;
  }

  async listRates(): Promise<RateRecord[]> {
    return this.rates.list();
  }

  /** Creates or replaces a model's rates; decimal text, validated by the caller. */
  async setRate(model: string, inputRate: string, outputRate: string): Promise<RateRecord> {
    return this.rates.set(model, inputRate, outputRate);
  }

  // ---- reservations (reserve and settle batched, refund one statement) ----

  /**
   * Holds `credits` for a synchronous request (it settles or refunds within the process that
   * holds it). With credit leases on (BILLING_CREDIT_LEASES, the default) the hold is taken in
   * memory on the user's lease, most often with no database round trip; its ledger rows are
   * written when it settles. Otherwise, and for holds that must outlive the process (queued
   * tasks: reserve() with holdMs), a reservation row. 402 insufficient_credits when the credit
   * outside other processes' leases cannot cover it.
   */
  async hold(input: Omit<ReserveInput, 'holdMs'>): Promise<void> {
    if (!this.leases) return this.reserve(input);
    await this.leases.hold({
      userId: input.userId,
      keyId: input.keyId ?? null,
      requestId: input.requestId,
      model: input.model,
      credits: input.credits,
      ...this.heldRates(input),
    });
  }

  /** Holds `credits` for a request; 402 insufficient_credits (and no change) when the balance is short. */
  async reserve(input: ReserveInput): Promise<void> {
    const row: ReserveRow = {
      userId: input.userId,
      requestId: input.requestId,
      keyId: input.keyId ?? null,
      model: input.model,
      credits: input.credits,
      ...this.heldRates(input),
      holdMs: input.holdMs === undefined ? this.config.reservationTimeoutMs : input.holdMs,
    };
    this.addPending(input.userId, input.credits);
    let outcome: ReserveOutcome;
    try {
      outcome = await this.reserveRow(row);
      // A free request by a user who never had an account row: create it and try once more.
      if (!outcome.ok && outcome.reason === 'insufficient_credits' && input.credits === 0n) {
        await this.ensureAccount(input.userId);
        outcome = await this.reserveRow(row);
      }
      // This process's own lease may hold the credit idle: give it back and try once more.
      if (
        !outcome.ok &&
        outcome.reason === 'insufficient_credits' &&
        (await this.leases?.giveBackUnused(input.userId))
      )
        outcome = await this.reserveRow(row);
    } finally {
      this.addPending(input.userId, -input.credits);
    }
    if (outcome.ok) {
      if (this.knownBalances.size >= KNOWN_BALANCES) this.knownBalances.clear();
      this.knownBalances.set(input.userId, outcome.balance);
      return;
    }
    this.knownBalances.delete(input.userId);
    if (outcome.reason === 'conflict')
      throw new ApiError('conflict', `Request ${input.requestId} already reserved`);
    throw new ApiError('insufficient_credits');
  }

  /**
   * True when the user's balance after their last hold in this process, less the holds this
   * process has sent since and not yet seen return, covers `credits`. Ask before calling
   * reserve(). Then the reserve cannot be short because of this process: only spending elsewhere
   * (another replica) in the meantime can refuse it, so the caller may start the upstream request
   * while it runs (and must cancel it if the reserve fails after all). Unknown users: false;
   * with credit leases always false (hold() then needs no round trip, or must not dispatch first).
   */
  likelyCovers(userId: string, credits: bigint): boolean {
    if (this.leases) return false;
    const known = this.knownBalances.get(userId);
    if (known === undefined) return false;
    return known - (this.pendingHolds.get(userId) ?? 0n) >= credits;
  }

  private addPending(userId: string, credits: bigint): void {
    const total = (this.pendingHolds.get(userId) ?? 0n) + credits;
    if (total === 0n) this.pendingHolds.delete(userId);
    else this.pendingHolds.set(userId, total);
  }

  /**
   * Registers a settle that runs after the answer went out. Reads of the user's balance and
   * ledger in this process wait for it (read-your-writes), and shutdown waits for all of them.
   */
  track(userId: string, settle: Promise<unknown>): void {
    let set = this.settling.get(userId);
    if (!set) this.settling.set(userId, (set = new Set()));
    set.add(settle);
    const done = () => {
      set.delete(settle);
      if (set.size === 0 && this.settling.get(userId) === set) this.settling.delete(userId);
    };
    settle.then(done, done);
  }

  /** Resolves when the settles running for these users (all users: none given) have finished. */
  async settled(userIds?: readonly string[]): Promise<void> {
    const sets = userIds ? userIds.map((id) => this.settling.get(id)) : [...this.settling.values()];
    const pending: Promise<unknown>[] = [];
    for (const set of sets) if (set) pending.push(...set);
    if (pending.length > 0) await Promise.allSettled(pending);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.settled();
    await this.leases?.close();
  }

  /**
   * Charges actual usage at the reservation's rates (capped at the hold) and returns the rest.
   * Idempotent: on a reservation that is not open (settled, refunded, unknown) it returns zeros.
   * With `record`, the request's usage_records row is written in the same transaction (credits =
   * what this call charged; tokens and request id are the settle's own), also when nothing was open.
   */
  async settle(
    requestId: string,
    usage: TokenUsage,
    record?: SettleUsageRecord,
  ): Promise<{ charged: bigint; refunded: bigint }> {
    const inputTokens = tokenCount(usage.inputTokens);
    const outputTokens = tokenCount(usage.outputTokens);
    if (this.leases?.has(requestId))
      return this.leases.settle(requestId, { inputTokens, outputTokens }, record);
    const settled = await this.settles.submit({ requestId, inputTokens, outputTokens, record });
    if (!settled) return { charged: 0n, refunded: 0n };
    return { charged: settled.charged, refunded: settled.amount - settled.charged };
  }

  /** Returns the whole hold of an open reservation; 0n when it is not open (idempotent). */
  async refund(requestId: string): Promise<bigint> {
    if (this.leases?.has(requestId))
      return (await this.leases.settle(requestId, { inputTokens: 0, outputTokens: 0 }, undefined, true))
        .refunded;
    return (await this.refundOpen(requestId)) ?? 0n;
  }

  /**
   * Refunds open reservations past their deadline (RESERVATION_TIMEOUT_MS after reserve, unless
   * the caller chose another hold): requests of a crashed process. Safe on several replicas at
   * once: each refund only changes a reservation that is still open. Returns how many this call
   * refunded.
   */
  /**
   * Request ids of open holds reserved with no expiry (`holdMs: null`) longer ago than
   * `olderThanMs`, oldest first. Their owner (the queue) refunds those it no longer knows.
   */
  async unsweptHolds(olderThanMs: number, limit: number): Promise<string[]> {
    const rows: { request_id: string }[] = await this.db.query(
      `SELECT request_id FROM reservations
       WHERE status = 'open' AND expires_at IS NULL
         AND created_at < now() - $1::double precision * interval '1 millisecond'
       ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.request_id);
  }

  async sweepExpiredReservations(): Promise<number> {
    let refunded = 0;
    for (;;) {
      const rows: { request_id: string }[] = await this.db.query(EXPIRED_RESERVATIONS_SQL, [SWEEP_BATCH]);
      for (const { request_id } of rows) {
        if ((await this.refundOpen(request_id)) !== undefined) refunded++;
      }
      if (rows.length < SWEEP_BATCH) return refunded;
    }
  }

  /** Ends credit leases past their deadline; returns how many. */
  async sweepLeases(): Promise<number> {
    let ended = 0;
    for (;;) {
      const rows: { ended: number }[] = await this.db.query(LEASE_SWEEP_SQL, [SWEEP_BATCH]);
      const n = Number(rows[0]?.ended ?? 0);
      ended += n;
      if (n < SWEEP_BATCH) return ended;
    }
  }

  // ---- balances, top-ups, ledger ----

  /** The user's balance in credits; a user without an account has 0. */
  async balance(userId: string): Promise<bigint> {
    return (await this.balances([userId])).get(userId) ?? 0n;
  }

  /** Balances of many users in one query; every id asked for is in the map (missing account = 0n). */
  async balances(userIds: string[]): Promise<Map<string, bigint>> {
    await this.settled(userIds);
    const result = new Map<string, bigint>(userIds.map((id) => [id, 0n]));
    const valid = userIds.filter((id) => UUID.test(id));
    if (valid.length === 0) return result;
    const rows: { user_id: string; credits: string }[] = await this.db.query(
      `SELECT user_id, credits::text AS credits FROM accounts WHERE user_id = ANY($1::uuid[])`,
      [valid],
    );
    for (const row of rows) result.set(row.user_id, BigInt(row.credits));
    return result;
  }

  /**
   * Adds credits (one statement, no explicit transaction). With an idempotency key, a retry with
   * the same amount and reference returns the first result without crediting again, also when
   * the retries are concurrent; the same key with a different body is 422 idempotency_mismatch.
   * Unknown user: 404.
   */
  async topUp(
    userId: string,
    amount: bigint,
    opts: { reference?: string; idempotencyKey?: string } = {},
  ): Promise<TopUpResult> {
    if (amount <= 0n) throw new ApiError('invalid_request', 'amount: must be a positive integer', 'amount');
    if (!UUID.test(userId)) throw new ApiError('not_found', 'User not found');
    const reference = opts.reference ?? null;
    const hash = createHash('sha256')
      .update(JSON.stringify({ amount: amount.toString(), reference }))
      .digest('hex');
    const params = [userId, amount.toString(), reference, opts.idempotencyKey ?? null, hash];
    let rows: { replayed: boolean; id: string; balance_after: string; request_hash: string }[];
    try {
      rows = await this.db.query(TOP_UP_SQL, params);
    } catch (err) {
      // A concurrent first use of the same key won; this run sees its entry.
      if (sqlState(err) !== '23505' || opts.idempotencyKey === undefined) throw err;
      rows = await this.db.query(TOP_UP_SQL, params);
    }
    const entry = rows[0];
    if (!entry) throw new ApiError('not_found', 'User not found');
    if (entry.request_hash !== hash) throw new ApiError('idempotency_mismatch');
    return { credits: BigInt(entry.balance_after), entryId: entry.id, replayed: entry.replayed };
  }

  /** Ledger entries of a user, newest first. Unknown user: 404. */
  async ledger(userId: string, opts: { limit?: number; cursor?: string } = {}): Promise<LedgerPage> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 50), 1), 500);
    const before = opts.cursor ? decodeLedgerCursor(opts.cursor) : null;
    await this.assertUser(userId);
    await this.settled([userId]);
    const rows: {
      id: string;
      amount: string;
      kind: LedgerKind;
      request_id: string | null;
      reference: string | null;
      balance_after: string;
      created_at: Date;
    }[] = await this.db.query(
      // ORDER BY the table's bigint id: the bare name would mean the text alias ("99" > "100").
      `SELECT id::text AS id, amount::text AS amount, kind, request_id, reference,
              balance_after::text AS balance_after, created_at
       FROM credit_ledger
       WHERE user_id = $1::uuid AND ($2::bigint IS NULL OR id < $2::bigint)
       ORDER BY credit_ledger.id DESC LIMIT $3`,
      [userId, before, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      entries: page.map((r) => ({
        id: r.id,
        amount: BigInt(r.amount),
        kind: r.kind,
        requestId: r.request_id,
        reference: r.reference,
        balanceAfter: BigInt(r.balance_after),
        createdAt: r.created_at,
      })),
      nextCursor: rows.length > limit && last ? encodeLedgerCursor(last.id) : null,
    };
  }

  // ---- internals ----

  /** A hold's model rates now (exact decimal text), kept with it for its settle. */
  private heldRates(input: { model: string; credits: bigint }): { inputRate: string; outputRate: string } {
    if (input.credits < 0n) throw new RangeError('a hold must be >= 0 credits');
    const rate = this.rateOf(input.model);
    return { inputRate: rate.input.toFixed(), outputRate: rate.output.toFixed() };
  }

  private rateOf(model: string): ModelRate {
    const rate = this.rates.get(model);
    if (!rate) throw new ApiError('model_pricing_not_found');
    return rate;
  }

  /** The refunded amount, or undefined when the reservation was not open. */
  private async refundOpen(requestId: string): Promise<bigint | undefined> {
    const rows: { amount: string }[] = await this.db.query(REFUND_SQL, [requestId]);
    return rows[0] ? BigInt(rows[0].amount) : undefined;
  }

  private async reserveRow(row: ReserveRow): Promise<ReserveOutcome> {
    try {
      return await this.reserves.submit(row);
    } catch (err) {
      // Run alone after its batch failed: a concurrent reserve of the same id committed first.
      if (sqlState(err) === '23505') return { ok: false, reason: 'conflict' };
      throw err;
    }
  }

  /**
   * Named statements on PostgreSQL (parsed and planned once per connection); PGlite's pool has
   * no such form, so there the statement goes through the DataSource.
   */
  private async runStatement(name: string, text: string, values: unknown[]): Promise<unknown[]> {
    if (!this.config.databaseUrl) return this.db.query(text, values);
    const pool = (this.db.driver as unknown as { master: NamedQueryPool }).master;
    return (await pool.query({ name, text, values })).rows;
  }

  private async assertUser(userId: string): Promise<void> {
    const rows: unknown[] = UUID.test(userId)
      ? await this.db.query(`SELECT 1 FROM users WHERE id = $1::uuid`, [userId])
      : [];
    if (rows.length === 0) throw new ApiError('not_found', 'User not found');
  }

  private async ensureAccount(userId: string): Promise<void> {
    await this.assertUser(userId);
    await this.db.query(`INSERT INTO accounts (user_id) VALUES ($1::uuid) ON CONFLICT (user_id) DO NOTHING`, [
      userId,
    ]);
  }
}

function tokenCount(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > 2_147_483_647)
    throw new RangeError(`token counts must be non-negative integers, got ${n}`);
  return n;
}
