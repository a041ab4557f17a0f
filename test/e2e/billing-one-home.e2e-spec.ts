import { randomUUID } from 'node:crypto';
import Decimal from 'decimal.js';
import { chargeFor } from '../../src/billing/pricing';
import { FakeHost, startFakeOpenAI } from '../fakes';
import { billingOf } from '../support/billing';
import { expectBooksBalanced, usageRecord } from '../support/billing-books';
import { addHost, fundedUser, postChat } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The charge has one home (src/billing/pricing.ts chargeFor): the database writes the figure it
 * is given, on both kinds of hold, and nothing in the database computes one.
 */
describe('billing: one home for the charge', () => {
  let t: TestApp;
  let host: FakeHost;

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    host = await startFakeOpenAI({ models: ['llama3.1'], tokens: 4 });
    await addHost(t, 'gpu-one-home', host.url, 'openai');
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  it('no function in the database prices tokens: the settle functions take the charge', async () => {
    const rows = (await t.dataSource.query(
      `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'public' AND p.prosrc ~* '(ceil|round)\\s*\\(|_rate\\w*\\s*(\\[\\w+\\])?\\s*\\*|\\*\\s*\\w*\\.?\\w*_rate'
       ORDER BY 1`,
    )) as { proname: string }[];
    expect(rows.map((r) => r.proname)).toEqual([]);
    const settles = (await t.dataSource.query(
      `SELECT proname, pg_get_function_identity_arguments(oid) AS args FROM pg_proc
       WHERE proname IN ('billing_settle_batch', 'billing_settle_set', 'billing_lease_settle_set') ORDER BY 1`,
    )) as { proname: string; args: string }[];
    expect(settles.map((s) => [s.proname, s.args.includes('p_charges bigint[]')])).toEqual([
      ['billing_lease_settle_set', true],
      ['billing_settle_batch', true],
      ['billing_settle_set', true],
    ]);
  });

  it('every settle charges what chargeFor decides, on leases and on reservations, one and many per statement', async () => {
    const billing = billingOf(t.app);
    await billing.setRate('test-one-home', '0.0012345', '0.0271');
    const rate = { input: new Decimal('0.0012345'), output: new Decimal('0.0271') };
    const user = await fundedUser(t, 10_000_000_000n);
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    const cases = Array.from({ length: 120 }, (_, i) => ({
      requestId: randomUUID(),
      credits: BigInt(next(50_000)),
      usage: { inputTokens: next(30), outputTokens: next(40) },
      via: i % 2 === 0 ? ('hold' as const) : ('reserve' as const),
    }));
    for (const c of cases)
      await billing[c.via]({
        userId: user.userId,
        requestId: c.requestId,
        model: 'test-one-home',
        credits: c.credits,
      });
    // Half settled one at a time, half all at once (batched statements).
    const results = [];
    for (const c of cases.slice(0, 60))
      results.push(await billing.settle(c.requestId, c.usage, usageRecord(user.userId)));
    results.push(
      ...(await Promise.all(
        cases.slice(60).map((c) => billing.settle(c.requestId, c.usage, usageRecord(user.userId))),
      )),
    );
    const expected = cases.map((c) => {
      const s = chargeFor({ credits: c.credits, rate }, c.usage);
      return { charged: s.charged, refunded: s.returned };
    });
    expect(results).toEqual(expected);
    const rows = (await t.dataSource.query(
      `SELECT request_id, charged::text AS charged FROM reservations WHERE request_id = ANY($1)`,
      [cases.map((c) => c.requestId)],
    )) as { request_id: string; charged: string }[];
    const charged = new Map(rows.map((r) => [r.request_id, BigInt(r.charged)]));
    expect(cases.map((c) => charged.get(c.requestId))).toEqual(expected.map((e) => e.charged));
    await expectBooksBalanced(t.dataSource, user.userId, 10_000_000_000n);
  });

  it('the database refuses a charge above its hold whoever computes it', async () => {
    const user = await fundedUser(t, 1_000n);
    const requestId = randomUUID();
    await billingOf(t.app).reserve({ userId: user.userId, requestId, model: 'llama3.1', credits: 500n });
    await expect(
      t.dataSource.query(
        `SELECT * FROM billing_settle_batch(ARRAY[$1]::text[], ARRAY[501]::bigint[], ARRAY[1], ARRAY[1], ARRAY[false],
           ARRAY[NULL]::uuid[], ARRAY[NULL]::uuid[], ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::text[],
           ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::integer[], ARRAY[NULL]::integer[],
           ARRAY[NULL]::text[], ARRAY[NULL]::text[])`,
        [requestId],
      ),
    ).rejects.toThrow(/reservations_charged_within_hold/);
    expect(await billingOf(t.app).refund(requestId)).toBe(500n);
    await expectBooksBalanced(t.dataSource, user.userId, 1_000n);
  });

  it('what tests once read from counters in the code is on /metrics: fast-path requests and billing batch sizes', async () => {
    const user = await fundedUser(t, 10_000_000n);
    expect((await postChat(t, user.key)).status).toBe(200);
    await billingOf(t.app).settled();
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const value = (line: RegExp) => Number(metrics.match(line)?.[1] ?? NaN);
    expect(value(/^le_http_fast_path_requests_total (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(
      value(/^le_billing_statement_rows_count\{statement="lease_settle"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(value(/^le_billing_statement_rows_sum\{statement="reserve"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
  });
});
