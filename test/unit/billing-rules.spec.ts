import { randomUUID } from 'node:crypto';
import Decimal from 'decimal.js';
import type { LeaseSettleRow } from '../../src/billing/billing-batches';
import { CreditLeases } from '../../src/billing/credit-leases';
import {
  GROW_REQUESTS,
  leaseAsk,
  LeaseAsk,
  leaseGrant,
  leaseRenewIntervalMs,
} from '../../src/billing/lease-sizing';
import type { LeaseStore, LeaseTake } from '../../src/billing/leases.repository';
import { chargeFor, creditsFor, estimateFor } from '../../src/billing/pricing';
import { holdDeadlineMs, orphanedHolds, SWEEP_BATCH, sweepAgain } from '../../src/billing/sweep-rules';
import { ApiError } from '../../src/common/api-error';

const rate = (input: string, output: string) => ({ input: new Decimal(input), output: new Decimal(output) });

describe('pricing: what a request holds and what it is charged', () => {
  it('estimates user characters in and max_tokens out at the model rates, rounded up', () => {
    // 5 characters × 0.01 + 10 × 0.02 = 0.25 cents = 2,500 credits.
    expect(estimateFor(rate('0.01', '0.02'), [{ role: 'user', content: 'hello' }], 10)).toBe(2_500n);
    // System and assistant text is not counted.
    expect(
      estimateFor(
        rate('0.01', '0.02'),
        [
          { role: 'system', content: 'long system prompt' },
          { role: 'user', content: 'hello' },
        ],
        10,
      ),
    ).toBe(2_500n);
  });

  it('charges actual usage at the hold rates, capped at the hold; the rest is returned', () => {
    const hold = { credits: 3_000n, rate: rate('0.01', '0.02') };
    // 20 × 0.01 + 35 × 0.02 = 0.9 cents = 9,000 credits > hold.
    expect(chargeFor(hold, { inputTokens: 20, outputTokens: 35 })).toEqual({ charged: 3_000n, returned: 0n });
    // 10 × 0.01 + 5 × 0.02 = 0.2 cents = 2,000 credits.
    expect(chargeFor(hold, { inputTokens: 10, outputTokens: 5 })).toEqual({
      charged: 2_000n,
      returned: 1_000n,
    });
    expect(chargeFor(hold, { inputTokens: 0, outputTokens: 0 })).toEqual({ charged: 0n, returned: 3_000n });
  });

  it('a refund charges nothing whatever the usage', () => {
    const hold = { credits: 700n, rate: rate('1', '1') };
    expect(chargeFor(hold, { inputTokens: 99, outputTokens: 99 }, true)).toEqual({
      charged: 0n,
      returned: 700n,
    });
  });

  it('rounds a fraction of a credit up, exactly, with rates far below a float’s precision', () => {
    const hold = { credits: 10n ** 30n, rate: rate('0.0000000001', '0.0000000000000000001') };
    // 1 × 1e-10 cents = 1e-6 credits → 1.
    expect(chargeFor(hold, { inputTokens: 1, outputTokens: 0 }).charged).toBe(1n);
    // 2,147,483,647 × 1e-19 cents ≈ 2.1e-6 credits → 1; the sum with 1e-6 still rounds to 1.
    expect(chargeFor(hold, { inputTokens: 1, outputTokens: 2_147_483_647 }).charged).toBe(1n);
    expect(creditsFor(rate('0.015', '0.015'), 2_147_483_647, 2_147_483_647)).toBe(644_245_094_100n);
  });

  it('the settle figures always add up: charged + returned = hold, 0 ≤ charged ≤ hold', () => {
    let seed = 42;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    for (let i = 0; i < 2_000; i++) {
      const hold = {
        credits: BigInt(next(1_000_000)),
        rate: rate(`0.${next(100_000)}`, `0.${next(100_000)}`),
      };
      const usage = { inputTokens: next(100_000), outputTokens: next(100_000) };
      const { charged, returned } = chargeFor(hold, usage);
      expect(charged + returned).toBe(hold.credits);
      expect(charged >= 0n && charged <= hold.credits).toBe(true);
      const full = creditsFor(hold.rate, usage.inputTokens, usage.outputTokens);
      expect(charged).toBe(full < hold.credits ? full : hold.credits);
    }
  });

  it('refuses negative holds and token counts that are not whole numbers', () => {
    expect(() =>
      chargeFor({ credits: -1n, rate: rate('1', '1') }, { inputTokens: 0, outputTokens: 0 }),
    ).toThrow(RangeError);
    expect(() =>
      chargeFor({ credits: 1n, rate: rate('1', '1') }, { inputTokens: 1.5, outputTokens: 0 }),
    ).toThrow(RangeError);
  });
});

describe('lease sizing', () => {
  it('asks for the shortfall at least and room for more requests, or a doubling', () => {
    expect(leaseAsk(100n, 0n, 0n)).toEqual({ min: 100n, want: 100n + GROW_REQUESTS * 100n });
    expect(leaseAsk(100n, 30n, 50_000n)).toEqual({ min: 70n, want: 70n + 50_000n });
    expect(() => leaseAsk(100n, 100n, 1_000n)).toThrow(RangeError);
  });

  it('grants the wish when the free credit is plentiful, never more than min plus half the rest', () => {
    const ask: LeaseAsk = { min: 100n, want: 900n };
    expect(leaseGrant(ask, 1_000_000n)).toBe(900n);
    // 100 + (1,000 − 100) / 2 = 550.
    expect(leaseGrant(ask, 1_000n)).toBe(550n);
    // Exactly the minimum free: exactly the minimum.
    expect(leaseGrant(ask, 100n)).toBe(100n);
    // Short of the minimum: refused.
    expect(leaseGrant(ask, 99n)).toBeNull();
    // A wish below the minimum still gets the minimum.
    expect(leaseGrant({ min: 10n, want: 5n }, 1_000n)).toBe(10n);
  });

  it('renews running leases every quarter of the hold time, at most four times a second', () => {
    expect(leaseRenewIntervalMs(300_000)).toBe(75_000);
    expect(leaseRenewIntervalMs(400)).toBe(250);
  });
});

describe('sweep decisions', () => {
  it('a hold is swept after its own time, the default, or never (null)', () => {
    expect(holdDeadlineMs(undefined, 300_000)).toBe(300_000);
    expect(holdDeadlineMs(5_000, 300_000)).toBe(5_000);
    expect(holdDeadlineMs(null, 300_000)).toBeNull();
    expect(() => holdDeadlineMs(-1, 300_000)).toThrow(RangeError);
    expect(() => holdDeadlineMs(Number.NaN, 300_000)).toThrow(RangeError);
  });

  it('refunds the holds without a deadline that no task owns, in order', () => {
    expect(orphanedHolds(['a', 'b', 'c', 'd'], new Set(['b', 'd', 'x']))).toEqual(['a', 'c']);
    expect(orphanedHolds([], new Set(['a']))).toEqual([]);
  });

  it('runs another round only after a full batch', () => {
    expect(sweepAgain(SWEEP_BATCH)).toBe(true);
    expect(sweepAgain(SWEEP_BATCH - 1)).toBe(false);
    expect(sweepAgain(0)).toBe(false);
  });
});

/** Leases in memory: one user's credit, applying lease-sizing as the repository does. */
class MemoryLeaseStore implements LeaseStore {
  leased = 0n;
  readonly leases = new Map<string, bigint>();
  readonly asks: LeaseAsk[] = [];
  readonly settles: LeaseSettleRow[] = [];

  constructor(public credits: bigint) {}

  take(leaseId: string, _userId: string, ask: LeaseAsk, taken: boolean): Promise<LeaseTake> {
    this.asks.push(ask);
    if (taken && !this.leases.has(leaseId)) return Promise.resolve({ granted: null, lost: true });
    const granted = leaseGrant(ask, this.credits - this.leased);
    if (granted !== null) {
      this.leased += granted;
      this.leases.set(leaseId, (this.leases.get(leaseId) ?? 0n) + granted);
    }
    return Promise.resolve({ granted, lost: false });
  }

  release(leaseId: string, amount: bigint | null): Promise<bigint> {
    const held = this.leases.get(leaseId);
    if (held === undefined) return Promise.resolve(0n);
    const give = amount === null || amount > held ? held : amount;
    if (amount === null) this.leases.delete(leaseId);
    else this.leases.set(leaseId, held - give);
    this.leased -= give;
    return Promise.resolve(give);
  }

  settle(row: LeaseSettleRow): Promise<bigint | null> {
    const held = this.leases.get(row.leaseId);
    if (held === undefined) return Promise.resolve(null);
    this.settles.push(row);
    this.credits -= row.charged;
    this.leased -= row.charged;
    this.leases.set(row.leaseId, held - row.charged);
    return Promise.resolve(row.charged);
  }

  renew(): Promise<void> {
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }
}

describe('credit leases: admission decisions', () => {
  const hold = (leases: CreditLeases, credits: bigint, requestId = randomUUID()) =>
    leases
      .hold({ userId: 'u', keyId: null, requestId, model: 'm', credits, rate: rate('0.01', '0.02') })
      .then(
        () => requestId,
        (e: unknown) => (e instanceof ApiError ? e.code : 'unexpected'),
      );

  it('admits later requests in memory once the lease has room, and asks the store only when it runs short', async () => {
    const store = new MemoryLeaseStore(1_000_000n);
    const leases = new CreditLeases(store, { holdMs: 60_000, idleMs: 60_000 });
    const ids = [];
    for (let i = 0; i < 9; i++) ids.push(await hold(leases, 100n));
    // The first take got room for itself and 8 more.
    expect(store.asks).toEqual([{ min: 100n, want: 900n }]);
    await hold(leases, 100n);
    // The tenth needed more: the lease doubles.
    expect(store.asks[1]).toEqual({ min: 100n, want: 1_000n });
    await leases.close();
  });

  it('a steadily used lease doubles what it was granted: takes grow logarithmically with the requests', async () => {
    const store = new MemoryLeaseStore(10n ** 15n);
    const leases = new CreditLeases(store, { holdMs: 60_000, idleMs: 60_000 });
    for (let i = 0; i < 2_000; i++) {
      const id = await hold(leases, 2_100n);
      // 1 × 0.01 + 4 × 0.02 = 0.09 cents = 900 credits charged of each 2,100 held.
      await leases.settle(id, { inputTokens: 1, outputTokens: 4 }, undefined);
    }
    // 2,000 × 900 = 1.8 M credits used: 18,900 at first, then doubling, is 7 takes (not one every ~20 requests).
    expect(store.asks.length).toBeLessThanOrEqual(8);
    // Each ask beyond its shortfall is what was granted so far (the first: 8 more requests).
    const [first, second, third] = store.asks;
    expect([first!.want - first!.min, second!.want - second!.min, third!.want - third!.min]).toEqual([
      16_800n,
      first!.want,
      first!.want + second!.want,
    ]);
    await leases.close();
  });

  it('refuses a request exactly when the credit outside other leases cannot cover it', async () => {
    const store = new MemoryLeaseStore(1_000n);
    const leases = new CreditLeases(store, { holdMs: 60_000, idleMs: 60_000 });
    const first = await hold(leases, 600n);
    expect(first).not.toBe('insufficient_credits');
    expect(await hold(leases, 401n)).toBe('insufficient_credits');
    expect(await hold(leases, 400n)).not.toBe('insufficient_credits');
    await leases.close();
  });

  it('settles at chargeFor: usage at the admitted rates, capped at the hold; a refund is free', async () => {
    const store = new MemoryLeaseStore(1_000_000n);
    const leases = new CreditLeases(store, { holdMs: 60_000, idleMs: 60_000 });
    const a = await hold(leases, 3_000n);
    const b = await hold(leases, 3_000n);
    const c = await hold(leases, 500n);
    expect(await leases.settle(a, { inputTokens: 10, outputTokens: 5 }, undefined)).toEqual({
      charged: 2_000n,
      refunded: 1_000n,
    });
    expect(await leases.settle(b, { inputTokens: 20, outputTokens: 35 }, undefined)).toEqual({
      charged: 3_000n,
      refunded: 0n,
    });
    expect(await leases.settle(c, { inputTokens: 20, outputTokens: 35 }, undefined, true)).toEqual({
      charged: 0n,
      refunded: 500n,
    });
    expect(store.settles.map((s) => [s.charged, s.refund])).toEqual([
      [2_000n, false],
      [3_000n, false],
      [0n, true],
    ]);
    expect(store.credits).toBe(1_000_000n - 5_000n);
    // Settled once: a second settle of the same request changes nothing.
    expect(await leases.settle(a, { inputTokens: 1, outputTokens: 1 }, undefined)).toEqual({
      charged: 0n,
      refunded: 0n,
    });
    await leases.close();
    expect(store.leased).toBe(0n);
  });

  it('a lease the store lost (swept) is replaced: the request is admitted on a new one', async () => {
    const store = new MemoryLeaseStore(1_000_000n);
    const leases = new CreditLeases(store, { holdMs: 60_000, idleMs: 60_000 });
    const first = await hold(leases, 100n);
    store.leases.clear();
    store.leased = 0n;
    // The lease has room in memory, so this one is admitted on it; its settle finds it gone.
    const second = await hold(leases, 100n);
    expect(await leases.settle(second, { inputTokens: 1, outputTokens: 1 }, undefined)).toEqual({
      charged: 0n,
      refunded: 100n,
    });
    expect(await leases.settle(first, { inputTokens: 1, outputTokens: 1 }, undefined)).toEqual({
      charged: 0n,
      refunded: 100n,
    });
    const third = await hold(leases, 100n);
    expect(third).not.toBe('insufficient_credits');
    expect(store.leases.size).toBe(1);
    await leases.close();
  });
});
