import { randomUUID } from 'node:crypto';
import { billingOf } from '../support/billing';
import { HostsService } from '../../src/hosts/hosts.service';
import { FakeHost, startFakeOpenAI } from '../fakes';
import { expectBooksBalanced } from '../support/billing-books';
import { addHost, eventually, fundedUser, postChat, ledgerSum } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The hot path's billing order without credit leases (BILLING_CREDIT_LEASES=false; the lease path
 * is credit-leases.e2e-spec.ts): for a user whose last known balance covers the request, the reserve and the upstream request run at once; the answer goes out
 * before its settle has committed; balance reads and shutdown wait for running settles.
 */

// Open: in full runs the first chat of this suite is now and then answered 503 (seen after suites
// that registered and removed hosts on the shared run database; not reproduced alone). Retried
// until it is understood — every assertion still has to hold in one run.

describe('completion billing path: reserve beside dispatch, settle after the answer', () => {
  let t: TestApp;
  let host: FakeHost;

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000', BILLING_CREDIT_LEASES: 'false' });
    host = await startFakeOpenAI({ models: ['llama3.1'], tokens: 4 });
    await addHost(t, 'gpu-billing-path', host.url, 'openai');
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  it('a reserve that fails while the host is already asked: 402, the host request is cut, nothing changes', async () => {
    const user = await fundedUser(t, 10_000_000n);
    const billing = billingOf(t.app);
    expect((await postChat(t, user.key)).status).toBe(200);
    expect(billing.likelyCovers(user.userId, 1n)).toBe(true);
    // Another replica's hold takes the whole balance behind this process's back (the same
    // database function, not this HoldsService, so its balance hint still says "covered").
    const hold = randomUUID();
    const all = await billing.balance(user.userId);
    const [held] = (await t.dataSource.query(
      `SELECT ok FROM billing_reserve_batch($1::text[], $2::uuid[], $3::text[], $4::text[], $5::bigint[],
         $6::numeric[], $7::numeric[], $8::double precision[])`,
      [[hold], [user.userId], [null], ['llama3.1'], [all.toString()], ['0.01'], ['0.02'], [60000]],
    )) as { ok: boolean }[];
    expect(held).toEqual({ ok: true });
    expect(billing.likelyCovers(user.userId, 1n)).toBe(true);
    const ledgerBefore = await ledgerSum(t, user.userId);
    const asked = host.requests.length;
    const inFlight = () =>
      t.app
        .get(HostsService)
        .list()
        .find((h) => h.name === 'gpu-billing-path')?.in_flight;
    host.setMode('ok', { tokenDelayMs: 2000 });
    try {
      const res = await postChat(t, user.key);
      expect(res).toEqual({
        status: 402,
        body: {
          error: {
            message: expect.stringMatching(/credit/i),
            type: expect.any(String),
            param: null,
            code: 'insufficient_quota',
          },
        },
      });
      // The request did reach the host (it ran beside the reserve) and was cut off there.
      // The host slot is free long before the host would have answered (4 tokens × 2 s): the
      // upstream request was aborted, not left to finish.
      await eventually(async () => host.requests.length === asked + 1);
      await eventually(async () => inFlight() === 0, 4000);
    } finally {
      host.setMode('ok', { tokenDelayMs: 0 });
    }
    expect(await ledgerSum(t, user.userId)).toBe(ledgerBefore);
    const [usage] = (await t.dataSource.query(
      `SELECT count(*)::int AS n FROM usage_records WHERE user_id = $1`,
      [user.userId],
    )) as { n: number }[];
    expect(usage!.n).toBe(1);
    // The failed reserve made the hint forget the balance: the next request reserves first.
    expect(billing.likelyCovers(user.userId, 1n)).toBe(false);
    expect(await billing.refund(hold)).toBe(all);
    await expectBooksBalanced(t.dataSource, user.userId, 10_000_000n);
  });

  it('concurrent requests of one user in one process: a request its balance cannot cover never reaches a host', async () => {
    // llama3.1: 100 credits per input token, 200 per output token; 'hello' + max_tokens 8 holds 2,100.
    const user = await fundedUser(t, 6_400n);
    // Warm connections to the host, so a request sent by mistake would reach it at once.
    const rich = await fundedUser(t, 10_000_000n);
    await Promise.all(Array.from({ length: 8 }, () => postChat(t, rich.key)));
    expect((await postChat(t, user.key)).status).toBe(200);
    const asked = host.requests.length;
    const answers = await Promise.all(Array.from({ length: 6 }, () => postChat(t, user.key)));
    const ok = answers.filter((a) => a.status === 200).length;
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(ok).fill(200), ...Array(6 - ok).fill(402)]);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(6);
    // Only the answered requests were sent: the holds this process had in flight were counted.
    await new Promise((r) => setTimeout(r, 200));
    expect(host.requests.length - asked).toBe(ok);
    await expectBooksBalanced(t.dataSource, user.userId, 6_400n);
  });

  it('a user without a known balance reserves before any host is asked', async () => {
    const poor = await fundedUser(t, 1n);
    const asked = host.requests.length;
    const res = await postChat(t, poor.key);
    expect(res.status).toBe(402);
    expect(host.requests.length).toBe(asked);
  });

  it('the balance read right after each answer already shows its settle', async () => {
    const user = await fundedUser(t, 10_000_000n);
    for (let i = 0; i < 15; i++) {
      const res = await postChat(t, user.key);
      expect(res.status).toBe(200);
      const account = (await (
        await fetch(`${t.url}/api/v1/account`, { headers: { Authorization: `Bearer ${user.key}` } })
      ).json()) as { credits: number };
      const [entry] = (await t.dataSource.query(
        `SELECT balance_after::text AS b FROM credit_ledger WHERE user_id = $1 ORDER BY id DESC LIMIT 1`,
        [user.userId],
      )) as { b: string }[];
      // The newest entry is this request's settle (requests run one after another).
      expect(BigInt(account.credits)).toBe(BigInt(entry!.b));
    }
    await expectBooksBalanced(t.dataSource, user.userId, 10_000_000n);
  });

  it('closing the app right after the answers still settles every request', async () => {
    const app = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    // Read through the other app's connection: this one is closed before the books are read.
    const db = t.dataSource;
    let closed = false;
    try {
      // The host row is shared through the database: this app loaded it; one health round.
      await app.app.get(HostsService).checkAll();
      const user = await fundedUser(app, 10_000_000n);
      expect((await postChat(app, user.key)).status).toBe(200);
      const answers = await Promise.all(Array.from({ length: 20 }, () => postChat(app, user.key)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      await app.close();
      closed = true;
      const rows = (await db.query(
        `SELECT status, count(*)::int AS n FROM reservations WHERE user_id = $1 GROUP BY status`,
        [user.userId],
      )) as { status: string; n: number }[];
      expect(rows).toEqual([{ status: 'settled', n: 21 }]);
      const [books] = (await db.query(
        `SELECT (SELECT credits::text FROM accounts WHERE user_id = $1) AS balance,
                (SELECT sum(amount)::text FROM credit_ledger WHERE user_id = $1) AS ledger,
                (SELECT count(*)::int FROM usage_records WHERE user_id = $1) AS records`,
        [user.userId],
      )) as { balance: string; ledger: string; records: number }[];
      expect(books!.balance).toBe(books!.ledger);
      expect(books!.records).toBe(21);
    } finally {
      if (!closed) await app.close();
    }
  });
});
