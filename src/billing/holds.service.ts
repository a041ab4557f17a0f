import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { Histogram } from 'prom-client';
import { ApiError } from '../common/api-error';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { sqlState } from '../database/write-batcher';
import type { ReserveOutcome, ReserveRow, SettleUsageRecord } from './billing-batches';
import { SqlDatabase } from '../database/sql-database';
import { CreditLeases } from './credit-leases';
import { LeasesRepository } from './leases.repository';
import { chargeFor, type Hold, rateText, type TokenUsage } from './pricing';
import { PricingService } from './pricing.service';
import { ReservationsRepository } from './reservations.repository';
import { SettleTracker } from './settle-tracker';
import { holdDeadlineMs } from './sweep-rules';

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

/** Users whose last known balance is remembered, holds whose rates are kept (hints; cleared when full). */
const REMEMBERED = 100_000;

/**
 * A reservation's settle lingers at most this long for company (BILLING_SETTLE_DELAY_MS when
 * lower): a queued task is marked completed only after its settle, so its worker waits on it. Long
 * enough for the tasks a worker claimed together, whose answers come back a little apart, to share
 * one settle statement (and then their completion and their next claim).
 */
export const RESERVATION_SETTLE_DELAY_MS = 5;

/**
 * Holds and their settles (CONTRACT §5): a request holds its upper bound before it runs, then is
 * charged what pricing.ts chargeFor decides and gets the rest back, or is refunded whole. Holds
 * live on a per-process credit lease (credit-leases.ts) or as reservation rows
 * (reservations.repository.ts); this service picks which and keeps the admission hints.
 */
@Injectable()
export class HoldsService implements BeforeApplicationShutdown {
  /** Each user's balance after their last hold in this process: a hint, never a decision. */
  private readonly knownBalances = new Map<string, bigint>();
  /** Credits of each user's reserves that this process sent and that have not returned yet. */
  private readonly pendingHolds = new Map<string, bigint>();
  /** The holds of reservations this process made for its own requests, so their settle need not read them. */
  private readonly ownHolds = new Map<string, Hold>();
  private readonly reservations: ReservationsRepository;
  private readonly leaseStore: LeasesRepository;
  /** Per-process credit leases for hold() (BILLING_CREDIT_LEASES), else undefined. */
  private readonly leases: CreditLeases | undefined;

  constructor(
    db: SqlDatabase,
    private readonly pricing: PricingService,
    private readonly tracker: SettleTracker,
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const rows = new Histogram({
      name: 'le_billing_statement_rows',
      help: 'Requests per billing write statement (reserve, settle, lease_settle): how well batching works',
      labelNames: ['statement'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [metrics.registry],
    });
    this.reservations = new ReservationsRepository(
      db,
      {
        synchronousCommit: config.billingSynchronousCommit,
        settleDelayMs: Math.min(config.billingSettleDelayMs, RESERVATION_SETTLE_DELAY_MS),
      },
      (statement, n) => rows.observe({ statement }, n),
    );
    this.leaseStore = new LeasesRepository(
      db,
      {
        holdMs: config.reservationTimeoutMs,
        synchronousCommit: config.billingSynchronousCommit,
        settleDelayMs: config.billingSettleDelayMs,
      },
      (n) => rows.observe({ statement: 'lease_settle' }, n),
    );
    this.leases = config.billingCreditLeases
      ? new CreditLeases(this.leaseStore, {
          holdMs: config.reservationTimeoutMs,
          idleMs: config.billingLeaseIdleMs,
        })
      : undefined;
  }

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
    assertHold(input.credits);
    await this.leases.hold({
      userId: input.userId,
      keyId: input.keyId ?? null,
      requestId: input.requestId,
      model: input.model,
      credits: input.credits,
      rate: this.pricing.rateOf(input.model),
    });
  }

  /** Holds `credits` in a reservation row; 402 insufficient_credits (and no change) when the balance is short. */
  async reserve(input: ReserveInput): Promise<void> {
    assertHold(input.credits);
    const rate = this.pricing.rateOf(input.model);
    const row: ReserveRow = {
      userId: input.userId,
      requestId: input.requestId,
      keyId: input.keyId ?? null,
      model: input.model,
      credits: input.credits,
      inputRate: rateText(rate.input),
      outputRate: rateText(rate.output),
      holdMs: holdDeadlineMs(input.holdMs, this.config.reservationTimeoutMs),
    };
    this.addPending(input.userId, input.credits);
    let outcome: ReserveOutcome;
    try {
      outcome = await this.reserveRow(row);
      // A free request by a user who never had an account row: create it and try once more.
      if (!outcome.ok && outcome.reason === 'insufficient_credits' && input.credits === 0n) {
        if (!(await this.reservations.ensureAccount(input.userId)))
          throw new ApiError('not_found', 'User not found');
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
      remember(this.knownBalances, input.userId, outcome.balance);
      // Its settle will most likely run here: it need not read the hold back.
      if (input.holdMs === undefined)
        remember(this.ownHolds, input.requestId, { credits: input.credits, rate });
      return;
    }
    this.knownBalances.delete(input.userId);
    if (outcome.reason === 'conflict')
      throw new ApiError('conflict', `Request ${input.requestId} already reserved`);
    throw new ApiError('insufficient_credits');
  }

  /**
   * The hold of a reservation made in another process, as its settler read it with its own
   * statement (a queued task's worker reads it with the claim): the settle need not read it again.
   */
  adoptHold(requestId: string, hold: Hold): void {
    remember(this.ownHolds, requestId, hold);
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

  /**
   * Charges actual usage (pricing.ts chargeFor: at the hold's rates, capped at the hold) and
   * returns the rest. Idempotent: on a hold that is not open (settled, refunded, unknown) it
   * returns zeros. With `record`, the request's usage_records row is written in the same
   * transaction (credits = what this call charged), also when nothing was open.
   */
  async settle(
    requestId: string,
    usage: TokenUsage,
    record?: SettleUsageRecord,
  ): Promise<{ charged: bigint; refunded: bigint }> {
    const tokens = {
      inputTokens: tokenCount(usage.inputTokens),
      outputTokens: tokenCount(usage.outputTokens),
    };
    if (this.leases?.has(requestId)) return this.leases.settle(requestId, tokens, record);
    const hold = this.ownHolds.get(requestId) ?? (await this.reservations.openHold(requestId));
    this.ownHolds.delete(requestId);
    const settlement = hold ? chargeFor(hold, tokens) : null;
    const settled = await this.reservations.settle({
      requestId,
      charge: settlement ? settlement.charged : null,
      ...tokens,
      record,
    });
    if (!settled) return { charged: 0n, refunded: 0n };
    return { charged: settled.charged, refunded: settled.amount - settled.charged };
  }

  /**
   * Writes the request's usage row (credits 0) and leaves its hold open: a failure the hold's
   * owner will retry (queued tasks). The same statement as a settle, with nothing to charge.
   */
  async recordUsage(requestId: string, usage: TokenUsage, record: SettleUsageRecord): Promise<void> {
    await this.reservations.settle({
      requestId,
      charge: null,
      inputTokens: tokenCount(usage.inputTokens),
      outputTokens: tokenCount(usage.outputTokens),
      record,
    });
  }

  /** Returns the whole hold of an open reservation or lease hold; 0n when it is not open (idempotent). */
  async refund(requestId: string): Promise<bigint> {
    if (this.leases?.has(requestId))
      return (await this.leases.settle(requestId, { inputTokens: 0, outputTokens: 0 }, undefined, true))
        .refunded;
    this.ownHolds.delete(requestId);
    return (await this.reservations.refund(requestId)) ?? 0n;
  }

  /**
   * Request ids of open holds reserved with no deadline (`holdMs: null`) longer ago than
   * `olderThanMs`, oldest first. Their owner (the queue) refunds those it no longer knows.
   */
  holdsWithoutDeadline(olderThanMs: number, limit: number): Promise<string[]> {
    return this.reservations.withoutDeadline(olderThanMs, limit);
  }

  /** Open reservations past their deadline (a crashed process's), oldest first. */
  expiredReservations(limit: number): Promise<string[]> {
    return this.reservations.expired(limit);
  }

  /** Ends credit leases past their deadline (any process's: others may lease), at most `limit`; how many. */
  endExpiredLeases(limit: number): Promise<number> {
    return this.leaseStore.sweep(limit);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.tracker.settled();
    await this.leases?.close();
  }

  private addPending(userId: string, credits: bigint): void {
    const total = (this.pendingHolds.get(userId) ?? 0n) + credits;
    if (total === 0n) this.pendingHolds.delete(userId);
    else this.pendingHolds.set(userId, total);
  }

  private async reserveRow(row: ReserveRow): Promise<ReserveOutcome> {
    try {
      return await this.reservations.reserve(row);
    } catch (err) {
      // Run alone after its batch failed: a concurrent reserve of the same id committed first.
      if (sqlState(err) === '23505') return { ok: false, reason: 'conflict' };
      throw err;
    }
  }
}

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  if (map.size >= REMEMBERED) map.clear();
  map.set(key, value);
}

function assertHold(credits: bigint): void {
  if (credits < 0n) throw new RangeError('a hold must be >= 0 credits');
}

function tokenCount(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > 2_147_483_647)
    throw new RangeError(`token counts must be non-negative integers, got ${n}`);
  return n;
}
