import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { unavailableDependency } from '../common/dependency-errors';
import type { SettleUsageRecord } from './billing-batches';
import { type LeaseAsk, leaseAsk, leaseRenewIntervalMs } from './lease-sizing';
import type { LeaseStore } from './leases.repository';
import { chargeFor, type ModelRate, rateText, type TokenUsage } from './pricing';

/** A request to admit on a lease: what HoldsService.hold takes, with the rates resolved. */
export interface LeaseHoldInput {
  userId: string;
  keyId: string | null;
  requestId: string;
  model: string;
  credits: bigint;
  /** The model's rates at admission: the request is charged at these. */
  rate: ModelRate;
}

export interface LeaseOptions {
  /** How long a lease outlives its process's last word (take, settle, renewal) before the sweep ends it. */
  holdMs: number;
  /** An unused lease is given back after this long. */
  idleMs: number;
}

interface Lease {
  readonly id: string;
  readonly userId: string;
  /** Credits the database holds for this lease, as far as this process knows (never more than it holds). */
  amount: bigint;
  /** Everything the database granted it so far (its growth doubles this). */
  granted: bigint;
  /** Sum of the holds of requests admitted on it and not settled yet. */
  held: bigint;
  holds: number;
  /**
   * The database holds a row for it: set by its first take, cleared when it is given back whole or
   * found gone (a lease of only free requests never needs one). An ended lease still taken is one
   * retired after a settle of unknown outcome: given back whole once its requests have settled.
   */
  taken: boolean;
  /** No longer admits: given back, lost or retired. */
  ended: boolean;
  /** A take or release in flight; admissions that need the database wait for it. */
  busy: Promise<unknown> | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

interface Hold {
  lease: Lease;
  input: LeaseHoldInput;
}

/**
 * Per-process credit leases: the first request of a user takes a block of their credit in one
 * transaction (LeaseStore.take, sized by lease-sizing.ts: `accounts.leased` grows, no money
 * moves); later requests are
 * admitted against it in memory, with no database round trip before dispatch, as long as the block
 * covers them; each is settled like any request, in batches, writing its reserve and settle ledger
 * rows, reservation and usage rows at once, charged what pricing.ts chargeFor decides. When the
 * block runs short, it grows (at least the shortfall, so a request is refused exactly when the user's credit outside other
 * processes' leases cannot cover it); an idle lease goes back after BILLING_LEASE_IDLE_MS; a crashed
 * process's lease is swept when it expires (RESERVATION_TIMEOUT_MS after its last take, settle or
 * renewal), its running requests then unpaid, as a crashed process's reservations are refunded.
 */
export class CreditLeases {
  private readonly logger = new Logger(CreditLeases.name);
  private readonly leases = new Map<string, Lease>();
  private readonly holds = new Map<string, Hold>();
  private readonly releases = new Set<Promise<unknown>>();
  private renewTimer: NodeJS.Timeout | undefined;
  /**
   * A statement failed because the database was unreachable: admissions in memory stop until a
   * probe reaches it again, so an outage is answered 503, not served unbilled.
   */
  private databaseDown = false;
  private probing: Promise<unknown> | undefined;

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaseOptions,
  ) {}

  /** True while `requestId` is a hold on a lease of this process (admitted, not settled). */
  has(requestId: string): boolean {
    return this.holds.has(requestId);
  }

  /** Admits a request on its user's lease, growing the lease if needed; 402 when the credit is short. */
  async hold(input: LeaseHoldInput): Promise<void> {
    if (this.holds.has(input.requestId))
      throw new ApiError('conflict', `Request ${input.requestId} already reserved`);
    if (this.databaseDown) await this.probe();
    for (;;) {
      const lease = this.leaseOf(input.userId);
      const free = lease.amount - lease.held;
      if (free >= input.credits) {
        lease.held += input.credits;
        lease.holds++;
        clearTimeout(lease.idleTimer);
        lease.idleTimer = undefined;
        this.holds.set(input.requestId, { lease, input });
        return;
      }
      if (lease.busy) {
        await lease.busy.catch(() => undefined);
        continue;
      }
      const ask = leaseAsk(input.credits, free, lease.granted);
      if (!(await this.exclusive(lease, () => this.take(lease, ask)))) {
        this.idleLater(lease);
        throw new ApiError('insufficient_credits');
      }
    }
  }

  /**
   * Settles a hold of this process: charges what chargeFor decides (nothing with `refund`) and
   * writes its rows. Returns what was charged and given back.
   */
  async settle(
    requestId: string,
    usage: TokenUsage,
    record: SettleUsageRecord | undefined,
    refund = false,
  ): Promise<{ charged: bigint; refunded: bigint }> {
    const hold = this.holds.get(requestId);
    if (!hold) return { charged: 0n, refunded: 0n };
    this.holds.delete(requestId);
    const { lease, input } = hold;
    let charged: bigint | null = null;
    try {
      charged = await this.store.settle({
        leaseId: lease.id,
        requestId,
        userId: input.userId,
        keyId: input.keyId,
        model: input.model,
        amount: input.credits,
        charged: chargeFor({ credits: input.credits, rate: input.rate }, usage, refund).charged,
        inputRate: rateText(input.rate.input),
        outputRate: rateText(input.rate.output),
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        refund,
        record,
      });
    } catch (error) {
      // Whether the statement committed is unknown (a lost connection): no more admissions on
      // this lease; once idle it is given back whole, at the database's figure.
      this.ended(lease);
      this.noteFailure(error);
      throw error;
    } finally {
      lease.held -= input.credits;
      lease.holds--;
      if (charged !== null) lease.amount -= charged;
      else if (lease.taken && !lease.ended) this.lost(lease);
      if (!lease.ended) this.idleLater(lease);
      else if (lease.taken && lease.holds === 0) this.end(lease);
    }
    return { charged: charged ?? 0n, refunded: input.credits - (charged ?? 0n) };
  }

  /**
   * Gives back the part of the user's lease that no running request holds, so that a reserve
   * outside leases (a queued task) can use it. True when something was given back.
   */
  async giveBackUnused(userId: string): Promise<boolean> {
    const lease = this.leases.get(userId);
    if (!lease || !lease.taken) return false;
    if (lease.busy) await lease.busy.catch(() => undefined);
    const unused = lease.amount - lease.held;
    if (lease.ended || unused <= 0n) return false;
    return this.exclusive(lease, () => this.release(lease, lease.holds === 0 ? null : unused));
  }

  /** Gives back every lease with no running request; waits for releases in flight. */
  async close(): Promise<void> {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    for (const lease of [...this.leases.values()]) {
      clearTimeout(lease.idleTimer);
      if (lease.busy) await lease.busy.catch(() => undefined);
      if (lease.holds === 0) this.end(lease);
    }
    await Promise.allSettled([...this.releases]);
  }

  // ---- internals ----

  private leaseOf(userId: string): Lease {
    let lease = this.leases.get(userId);
    if (!lease) {
      lease = {
        id: randomUUID(),
        userId,
        amount: 0n,
        granted: 0n,
        held: 0n,
        holds: 0,
        taken: false,
        ended: false,
        busy: undefined,
        idleTimer: undefined,
      };
      this.leases.set(userId, lease);
    }
    return lease;
  }

  /** Runs one database step of a lease at a time. */
  private exclusive<T>(lease: Lease, step: () => Promise<T>): Promise<T> {
    const running = step().finally(() => {
      if (lease.busy === running) lease.busy = undefined;
    });
    lease.busy = running;
    return running;
  }

  /** One probe at a time while the database is thought down; its failure is the caller's 503. */
  private async probe(): Promise<void> {
    this.probing ??= this.store.ping().finally(() => (this.probing = undefined));
    await this.probing;
    this.databaseDown = false;
  }

  private noteFailure(error: unknown): void {
    if (unavailableDependency(error) === 'database') this.databaseDown = true;
  }

  /** Grows the lease by what lease-sizing grants of `ask`; false when the user's free credit cannot cover it. */
  private async take(lease: Lease, ask: LeaseAsk): Promise<boolean> {
    const taken = await this.store.take(lease.id, lease.userId, ask, lease.taken).catch((error: unknown) => {
      this.noteFailure(error);
      throw error;
    });
    if (taken.lost) {
      // Swept while this process still used it: start a new one (this request retries).
      this.lost(lease);
      return true;
    }
    if (taken.granted === null) return false;
    // Counted as a delta, like settles (−charged) and give-backs: a settle of this lease that
    // commits after this take but answers before it must not be undone by a total read here.
    lease.amount += taken.granted;
    lease.granted += taken.granted;
    lease.taken = true;
    this.renewLater();
    return true;
  }

  /** Gives back `amount` credits of the lease (null: all; the lease ends). */
  private async release(lease: Lease, amount: bigint | null): Promise<boolean> {
    const giving = amount ?? lease.amount;
    // Counted off first, so admissions meanwhile cannot use what is being given back.
    lease.amount -= giving;
    if (amount === null) {
      lease.taken = false;
      this.ended(lease);
    }
    return (await this.store.release(lease.id, amount)) > 0n;
  }

  /** Gives back an unused lease after BILLING_LEASE_IDLE_MS (0: on the next turn of the loop). */
  private idleLater(lease: Lease): void {
    if (lease.holds > 0 || lease.ended || lease.idleTimer) return;
    lease.idleTimer = setTimeout(() => {
      lease.idleTimer = undefined;
      if (lease.holds === 0 && !lease.busy && !lease.ended) this.end(lease);
    }, this.options.idleMs);
    lease.idleTimer.unref();
  }

  /** Ends a lease with no running request: no more admissions, its credit given back. */
  private end(lease: Lease): void {
    if (!lease.taken) {
      this.ended(lease);
      return;
    }
    const releasing = this.exclusive(lease, () => this.release(lease, null)).catch((err: Error) =>
      this.logger.warn(`giving back lease ${lease.id} failed (the sweep ends it): ${err.message}`),
    );
    this.releases.add(releasing);
    void releasing.finally(() => this.releases.delete(releasing));
  }

  private ended(lease: Lease): void {
    lease.ended = true;
    clearTimeout(lease.idleTimer);
    lease.idleTimer = undefined;
    if (this.leases.get(lease.userId) === lease) this.leases.delete(lease.userId);
  }

  /** The database no longer has the lease: its running requests settle unpaid; a new one starts. */
  private lost(lease: Lease): void {
    this.logger.warn(`lease ${lease.id} of user ${lease.userId} expired while in use; starting a new one`);
    lease.taken = false;
    lease.amount = 0n;
    this.ended(lease);
  }

  /** While leases are held, renews those with running requests every quarter of the hold time. */
  private renewLater(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      const busy = [...this.leases.values()].filter((l) => l.taken && l.holds > 0).map((l) => l.id);
      if (this.leases.size === 0) {
        clearInterval(this.renewTimer);
        this.renewTimer = undefined;
      }
      if (busy.length === 0) return;
      this.store
        .renew(busy)
        .catch((err: Error) => this.logger.warn(`renewing leases failed: ${err.message}`));
    }, leaseRenewIntervalMs(this.options.holdMs));
    this.renewTimer.unref();
  }
}
