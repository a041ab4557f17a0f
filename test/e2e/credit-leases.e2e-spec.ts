import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { type Billing, billingOf } from '../support/billing';
import { HostsService } from '../../src/hosts/hosts.service';
import { FakeHost, startFakeOpenAI } from '../fakes';
import { codeOf, cycle, expectBooksBalanced, usageRecord } from '../support/billing-books';
import { addHost, chatBody, eventually, fundedUser, postChat } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

// llama3.1: 100 credits per input token, 200 per output token. 'hello' (5) + max_tokens 8 holds 2,100;
// the host reports 1 prompt token and answers 4: 100 + 800 = 900 charged.
const HOLD = 2_100n;
const CHARGE = 900n;
const USED = { inputTokens: 1, outputTokens: 4 };

interface LeaseState {
  credits: bigint;
  leased: bigint;
  leases: number;
  leaseSum: bigint;
}

async function leaseState(db: DataSource, userId: string): Promise<LeaseState> {
  const [row] = (await db.query(
    `SELECT a.credits::text AS credits, a.leased::text AS leased,
            (SELECT count(*)::int FROM credit_leases c WHERE c.user_id = a.user_id) AS leases,
            (SELECT coalesce(sum(amount), 0)::text FROM credit_leases c WHERE c.user_id = a.user_id) AS lease_sum
     FROM accounts a WHERE a.user_id = $1`,
    [userId],
  )) as { credits: string; leased: string; leases: number; lease_sum: string }[];
  return {
    credits: BigInt(row!.credits),
    leased: BigInt(row!.leased),
    leases: row!.leases,
    leaseSum: BigInt(row!.lease_sum),
  };
}

/** The lease is given back: nothing leased, no lease row. */
async function expectNoLease(db: DataSource, userId: string): Promise<void> {
  await eventually(async () => (await leaseState(db, userId)).leases === 0);
  expect(await leaseState(db, userId)).toMatchObject({ leased: 0n, leases: 0, leaseSum: 0n });
}

/**
 * Credit leases (src/billing/credit-leases.ts, migration 1710000011000): synchronous requests are
 * admitted against a block of the user's credit held once per process; each writes its reserve and
 * settle ledger rows when it settles. The books balance at every step, a request the credit cannot
 * cover never reaches a host, and the credit comes back when the lease is idle, swept or closed.
 */
describe('credit leases', () => {
  let t: TestApp;
  let host: FakeHost;
  let billing: Billing;

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000', BILLING_LEASE_IDLE_MS: '300' });
    host = await startFakeOpenAI({ models: ['llama3.1'], tokens: 4 });
    await addHost(t, 'gpu-leases', host.url, 'openai');
    billing = billingOf(t.app);
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  it('requests on a lease take no reserve statement; each writes reserve and settle rows; the idle lease goes back', async () => {
    const user = await fundedUser(t, 10_000_000n);
    const before = await billing.batchStatements();
    for (let i = 0; i < 5; i++) expect((await postChat(t, user.key)).status).toBe(200);
    // Settles linger for company (BILLING_SETTLE_DELAY_MS): count once they are written.
    await billing.settled();
    const after = await billing.batchStatements();
    expect(after.reserve).toBe(before.reserve);
    expect(after.leaseSettle - before.leaseSettle).toBeGreaterThanOrEqual(1);

    // While it lasts, the lease holds part of the credit; the balance is the ledger's sum.
    const held = await leaseState(t.dataSource, user.userId);
    expect(held.leases).toBe(1);
    expect(held.leased).toBe(held.leaseSum);
    expect(held.leased).toBeGreaterThanOrEqual(HOLD);
    expect(held.credits).toBe(10_000_000n - 5n * CHARGE);

    const ledger = (await t.dataSource.query(
      `SELECT request_id, kind, amount::text AS amount, balance_after::text AS after FROM credit_ledger
       WHERE user_id = $1 AND kind <> 'topup' ORDER BY id`,
      [user.userId],
    )) as { request_id: string; kind: string; amount: string; after: string }[];
    expect(ledger).toHaveLength(10);
    let balance = 10_000_000n;
    for (let i = 0; i < 10; i += 2) {
      const [reserve, settle] = [ledger[i]!, ledger[i + 1]!];
      expect(settle.request_id).toBe(reserve.request_id);
      expect([reserve.kind, reserve.amount, reserve.after]).toEqual([
        'reserve',
        `-${HOLD}`,
        `${balance - HOLD}`,
      ]);
      balance -= CHARGE;
      expect([settle.kind, settle.amount, settle.after]).toEqual([
        'settle',
        `${HOLD - CHARGE}`,
        `${balance}`,
      ]);
    }
    await expectBooksBalanced(t.dataSource, user.userId, 10_000_000n);
    await expectNoLease(t.dataSource, user.userId);
    expect((await leaseState(t.dataSource, user.userId)).credits).toBe(10_000_000n - 5n * CHARGE);
  });

  it('concurrent requests of one user: exactly those the credit covers are answered, no other reaches a host', async () => {
    // A model only this slow host serves (llama3: 150 credits per input token, 250 per output
    // token; the hold is 5 × 150 + 8 × 250 = 2,750, the charge 150 + 4 × 250 = 1,150): no answer
    // ends, and so no credit comes back, while the six are admitted or refused: streams, whose
    // tokens the host sends a second apart.
    const hold = 2_750n;
    const charge = 1_150n;
    const body = chatBody({ model: 'llama3', stream: true });
    const slow = await startFakeOpenAI({ models: ['llama3'], tokens: 4, tokenDelayMs: 1000 });
    const app = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000', HOSTS: `openai=${slow.url}` });
    const post = async (key: string) => {
      const res = await fetch(`${app.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
        body,
      });
      return { status: res.status, text: await res.text() };
    };
    try {
      await app.app.get(HostsService).checkAll();
      // Warm connections to the host, so a request sent by mistake would reach it at once.
      const rich = await fundedUser(app, 10_000_000n);
      await Promise.all(Array.from({ length: 6 }, () => post(rich.key)));
      const user = await fundedUser(app, 3n * hold + 99n);
      const asked = slow.requests.length;
      const answers = await Promise.all(Array.from({ length: 6 }, () => post(user.key)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 402, 402, 402]);
      const refused = answers.find((a) => a.status === 402)!;
      expect(JSON.parse(refused.text)).toMatchObject({ error: { code: 'insufficient_quota' } });
      expect(answers.find((a) => a.status === 200)!.text).toContain('data: [DONE]');
      await new Promise((r) => setTimeout(r, 200));
      expect(slow.requests.length - asked).toBe(3);
      await expectBooksBalanced(app.dataSource, user.userId, 3n * hold + 99n);
      expect((await leaseState(app.dataSource, user.userId)).credits).toBe(3n * hold + 99n - 3n * charge);
    } finally {
      await app.close();
      await slow.close();
    }
  });

  it('a reserve outside leases (a queued task) gets the credit this process leases and does not use', async () => {
    const user = await fundedUser(t, 6_400n);
    const requestId = randomUUID();
    await billing.hold({ userId: user.userId, requestId, model: 'llama3.1', credits: HOLD });
    await billing.settle(requestId, USED, usageRecord(user.userId));
    const leased = await leaseState(t.dataSource, user.userId);
    expect(leased.credits).toBe(6_400n - CHARGE);
    // More than the credit outside the lease, less than the balance.
    const big = leased.credits - leased.leased + 1n;
    expect(big).toBeLessThanOrEqual(leased.credits);
    const task = randomUUID();
    await billing.reserve({
      userId: user.userId,
      requestId: task,
      model: 'llama3.1',
      credits: big,
      holdMs: null,
    });
    expect(await leaseState(t.dataSource, user.userId)).toMatchObject({ leased: 0n, leases: 0 });
    expect(await billing.refund(task)).toBe(big);
    await expectBooksBalanced(t.dataSource, user.userId, 6_400n);
  });

  it('with a request still running on the lease, only its unused part goes back to a reserve outside leases', async () => {
    const user = await fundedUser(t, 6_400n);
    const running = randomUUID();
    await billing.hold({ userId: user.userId, requestId: running, model: 'llama3.1', credits: HOLD });
    const leased = await leaseState(t.dataSource, user.userId);
    expect(leased.leased).toBeGreaterThan(HOLD);
    // Everything but the running request's hold: more than the credit outside the lease.
    const task = randomUUID();
    const big = 6_400n - HOLD;
    expect(big).toBeGreaterThan(leased.credits - leased.leased);
    await billing.reserve({
      userId: user.userId,
      requestId: task,
      model: 'llama3.1',
      credits: big,
      holdMs: null,
    });
    expect(await leaseState(t.dataSource, user.userId)).toMatchObject({
      leased: HOLD,
      leases: 1,
      leaseSum: HOLD,
    });
    expect((await billing.settle(running, USED, usageRecord(user.userId))).charged).toBe(CHARGE);
    expect(await billing.refund(task)).toBe(big);
    await expectBooksBalanced(t.dataSource, user.userId, 6_400n);
    await expectNoLease(t.dataSource, user.userId);
  });

  it('a lease with a request running is renewed, so the sweep leaves it alone past its first deadline', async () => {
    const app = await startTestApp({ RESERVATION_TIMEOUT_MS: '1000' });
    try {
      const leases = billingOf(app.app);
      const user = await fundedUser(app, 1_000_000n);
      const running = randomUUID();
      await leases.hold({ userId: user.userId, requestId: running, model: 'llama3.1', credits: HOLD });
      const deadline = async () =>
        (
          (await app.dataSource.query(`SELECT expires_at FROM credit_leases WHERE user_id = $1`, [
            user.userId,
          ])) as {
            expires_at: Date;
          }[]
        )[0]!.expires_at.getTime();
      const first = await deadline();
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await deadline()).toBeGreaterThan(first);
      expect(Date.now()).toBeGreaterThan(first);
      expect(await leases.sweepLeases()).toBe(0);
      expect((await leases.settle(running, USED, usageRecord(user.userId))).charged).toBe(CHARGE);
      await expectBooksBalanced(app.dataSource, user.userId, 1_000_000n);
    } finally {
      await app.close();
    }
  });

  it('a settle the database refuses charges nothing and retires the lease, which goes back whole', async () => {
    const user = await fundedUser(t, 100_000n);
    const leaseIds = async () =>
      (
        (await t.dataSource.query(`SELECT id FROM credit_leases WHERE user_id = $1`, [user.userId])) as {
          id: string;
        }[]
      ).map((r) => r.id);
    // A reservation row with the same id makes the lease settle's insert fail.
    const clash = randomUUID();
    await billing.reserve({
      userId: user.userId,
      requestId: clash,
      model: 'llama3.1',
      credits: 1n,
      holdMs: null,
    });
    await billing.hold({ userId: user.userId, requestId: clash, model: 'llama3.1', credits: HOLD });
    const [retired] = await leaseIds();
    await expect(billing.settle(clash, USED, usageRecord(user.userId))).rejects.toMatchObject({
      code: '23505',
    });
    // The next request opens a new lease (an unretired one would serve it); the retired one goes back.
    const next = randomUUID();
    await billing.hold({ userId: user.userId, requestId: next, model: 'llama3.1', credits: HOLD });
    await eventually(async () => !(await leaseIds()).includes(retired!));
    expect(await leaseIds()).toHaveLength(1);
    expect((await billing.settle(next, USED, usageRecord(user.userId))).charged).toBe(CHARGE);
    expect(await billing.refund(clash)).toBe(1n);
    await expectBooksBalanced(t.dataSource, user.userId, 100_000n);
    await expectNoLease(t.dataSource, user.userId);
  });

  it('a lease swept after its deadline: its running request settles unpaid, the next one opens a new lease', async () => {
    const user = await fundedUser(t, 1_000_000n);
    const running = randomUUID();
    await billing.hold({ userId: user.userId, requestId: running, model: 'llama3.1', credits: HOLD });
    const [first] = (await t.dataSource.query(`SELECT id FROM credit_leases WHERE user_id = $1`, [
      user.userId,
    ])) as { id: string }[];
    // As if this process had been silent past RESERVATION_TIMEOUT_MS.
    await t.dataSource.query(
      `UPDATE credit_leases SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [first!.id],
    );
    expect(await billing.sweepLeases()).toBe(1);
    expect(await leaseState(t.dataSource, user.userId)).toMatchObject({ leased: 0n, leases: 0 });
    expect(await billing.settle(running, USED, usageRecord(user.userId))).toEqual({
      charged: 0n,
      refunded: HOLD,
    });
    const next = randomUUID();
    await billing.hold({ userId: user.userId, requestId: next, model: 'llama3.1', credits: HOLD });
    const [second] = (await t.dataSource.query(`SELECT id FROM credit_leases WHERE user_id = $1`, [
      user.userId,
    ])) as { id: string }[];
    expect(second!.id).not.toBe(first!.id);
    expect(await billing.settle(next, USED, usageRecord(user.userId))).toEqual({
      charged: CHARGE,
      refunded: HOLD - CHARGE,
    });
    await expectBooksBalanced(t.dataSource, user.userId, 1_000_000n);
    await expectNoLease(t.dataSource, user.userId);
  });

  it('the periodic sweep of any process ends a lease past its deadline', async () => {
    const user = await fundedUser(t, 1_000_000n);
    const running = randomUUID();
    await billing.hold({ userId: user.userId, requestId: running, model: 'llama3.1', credits: HOLD });
    await t.dataSource.query(
      `UPDATE credit_leases SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [user.userId],
    );
    // Another process, leases off itself, sweeping every 100 ms.
    const sweeper = await startTestApp({
      BILLING_CREDIT_LEASES: 'false',
      RESERVATION_SWEEP_INTERVAL_MS: '100',
    });
    try {
      await eventually(async () => (await leaseState(t.dataSource, user.userId)).leases === 0);
      expect(await leaseState(t.dataSource, user.userId)).toMatchObject({ leased: 0n, leases: 0 });
    } finally {
      await sweeper.close();
    }
    expect((await billing.settle(running, USED, usageRecord(user.userId))).charged).toBe(0n);
    await expectBooksBalanced(t.dataSource, user.userId, 1_000_000n);
  });

  it('a refund of a lease hold writes reserve and refund rows; a second settle or refund changes nothing', async () => {
    const user = await fundedUser(t, 100_000n);
    const requestId = randomUUID();
    await billing.hold({ userId: user.userId, requestId, model: 'llama3.1', credits: HOLD });
    expect(
      await codeOf(billing.hold({ userId: user.userId, requestId, model: 'llama3.1', credits: 1n })),
    ).toBe('conflict');
    expect(await billing.refund(requestId)).toBe(HOLD);
    expect(await billing.refund(requestId)).toBe(0n);
    expect(await billing.settle(requestId, { inputTokens: 1, outputTokens: 1 })).toEqual({
      charged: 0n,
      refunded: 0n,
    });
    const rows = (await t.dataSource.query(
      `SELECT kind, amount::text AS amount FROM credit_ledger WHERE request_id = $1 ORDER BY id`,
      [requestId],
    )) as { kind: string; amount: string }[];
    expect(rows).toEqual([
      { kind: 'reserve', amount: `-${HOLD}` },
      { kind: 'refund', amount: `${HOLD}` },
    ]);
    await expectBooksBalanced(t.dataSource, user.userId, 100_000n);
  });

  it('two processes, one user, concurrent holds, settles, reserves and top-ups: books balance, nothing spent twice', async () => {
    const other = await startTestApp({ BILLING_LEASE_IDLE_MS: '50' });
    let closed = false;
    try {
      const user = await fundedUser(t, 200_000n);
      const apps = [billing, billingOf(other.app)];
      let toppedUp = 0n;
      const work = Array.from({ length: 300 }, async (_, i) => {
        const b = apps[i % 2]!;
        if (i % 17 === 0) {
          await b.topUp(user.userId, 5_000n);
          toppedUp += 5_000n;
          return 'topup';
        }
        return cycle(b, user.userId, i, 'llama3.1', i % 5 === 0 ? 'reserve' : 'hold');
      });
      const outcomes = await Promise.all(work);
      expect(outcomes.filter((o) => !['ok', 'topup', 'insufficient_credits'].includes(o))).toEqual([]);
      expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(10);
      // Credit was short at times (so leases competed), and the balance never went below zero.
      expect(outcomes).toContain('insufficient_credits');
      await other.close();
      closed = true;
      await expectBooksBalanced(t.dataSource, user.userId, 200_000n + toppedUp);
      await expectNoLease(t.dataSource, user.userId);
    } finally {
      if (!closed) await other.close();
    }
  });

  it('closing the app gives its leases back', async () => {
    const app = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000', BILLING_LEASE_IDLE_MS: '3600000' });
    let closed = false;
    try {
      await app.app.get(HostsService).checkAll();
      const user = await fundedUser(app, 1_000_000n);
      expect((await postChat(app, user.key)).status).toBe(200);
      expect((await leaseState(app.dataSource, user.userId)).leases).toBe(1);
      await app.close();
      closed = true;
      expect(await leaseState(t.dataSource, user.userId)).toMatchObject({
        credits: 1_000_000n - CHARGE,
        leased: 0n,
        leases: 0,
      });
    } finally {
      if (!closed) await app.close();
    }
  });
});
