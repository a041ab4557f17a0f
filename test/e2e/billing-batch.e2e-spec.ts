import { randomUUID } from 'node:crypto';
import { type Billing, billingOf } from '../support/billing';
import {
  codeOf,
  cycle,
  expectAwkwardTextsKept,
  expectBooksBalanced,
  newUser,
  usageRecord,
} from '../support/billing-books';
import { startTestApp, TestApp } from '../support/test-app';

/** Batched reserve/settle (WriteBatcher + billing_*_batch functions) on PostgreSQL. */
describe('billing batches (PostgreSQL)', () => {
  let t: TestApp;
  let billing: Billing;

  beforeAll(async () => {
    t = await startTestApp();
    billing = billingOf(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a mixed batch gives every caller its own outcome, the same as one by one', async () => {
    const [a, b] = [await newUser(t.dataSource), await newUser(t.dataSource)];
    await billing.topUp(a, 1_000n);
    await billing.topUp(b, 50n);
    const dup = randomUUID();
    const calls: [user: string, requestId: string, credits: bigint][] = [
      [a, dup, 300n],
      [b, randomUUID(), 100n], // short: b has 50
      [a, randomUUID(), 300n],
      [a, dup, 100n], // same id again: a still has 400, so conflict
      [b, randomUUID(), 50n],
      [a, randomUUID(), 500n], // short: a has 400 left
      [a, randomUUID(), 400n],
    ];
    const before = (await billing.batchStatements()).reserve;
    // All submitted in one tick: one statement.
    const outcomes = await Promise.all(
      calls.map(([userId, requestId, credits]) =>
        codeOf(billing.reserve({ userId, requestId, model: 'llama3.1', credits })),
      ),
    );
    expect((await billing.batchStatements()).reserve - before).toBe(1);
    expect(outcomes).toEqual([
      'ok',
      'insufficient_credits',
      'ok',
      'conflict',
      'ok',
      'insufficient_credits',
      'ok',
    ]);
    expect(await billing.balance(a)).toBe(0n);
    expect(await billing.balance(b)).toBe(0n);

    // Settle them (and an unknown id, and one twice) in one batch, each with its usage record.
    const settled = [calls[0]!, calls[2]!, calls[4]!, calls[6]!];
    const unknown = randomUUID();
    const results = await Promise.all([
      ...settled.map(([userId, requestId]) =>
        billing.settle(requestId, { inputTokens: 10, outputTokens: 5 }, usageRecord(userId)),
      ),
      billing.settle(unknown, { inputTokens: 1, outputTokens: 1 }, usageRecord(a)),
      billing.settle(dup, { inputTokens: 1, outputTokens: 1 }, usageRecord(a)),
    ]);
    // 10 × 0.01 + 5 × 0.02 = 0.2 cents = 2,000 credits, capped at each hold.
    expect(results).toEqual([
      { charged: 300n, refunded: 0n },
      { charged: 300n, refunded: 0n },
      { charged: 50n, refunded: 0n },
      { charged: 400n, refunded: 0n },
      { charged: 0n, refunded: 0n },
      { charged: 0n, refunded: 0n },
    ]);
    // Settles of holds this process did not make read the hold first, so they may form a later batch.
    const usage = (await t.dataSource.query(
      `SELECT request_id, credits::text AS credits, input_tokens, output_tokens, duration_ms, host_name
       FROM usage_records WHERE request_id = ANY($1) ORDER BY request_id = $2, input_tokens DESC`,
      [[dup, unknown], unknown],
    )) as { request_id: string; credits: string }[];
    expect(usage).toEqual([
      {
        request_id: dup,
        credits: '300',
        input_tokens: 10,
        output_tokens: 5,
        duration_ms: 12,
        host_name: 'host one',
      },
      {
        request_id: dup,
        credits: '0',
        input_tokens: 1,
        output_tokens: 1,
        duration_ms: 12,
        host_name: 'host one',
      },
      {
        request_id: unknown,
        credits: '0',
        input_tokens: 1,
        output_tokens: 1,
        duration_ms: 12,
        host_name: 'host one',
      },
    ]);
    await expectBooksBalanced(t.dataSource, a, 1_000n);
    await expectBooksBalanced(t.dataSource, b, 50n);
  });

  it('request ids and texts with quotes, commas, braces, NULL and backslashes survive the arrays', async () => {
    await expectAwkwardTextsKept(t.dataSource, billing, 'llama3.1');
  });

  it('one bad row of a batch fails only its own caller', async () => {
    const userId = await newUser(t.dataSource);
    await billing.topUp(userId, 5_000n);
    const ids = [randomUUID(), randomUUID()];
    for (const requestId of ids)
      await billing.reserve({ userId, requestId, model: 'llama3.1', credits: 1_000n });
    // Not a uuid: the usage row cannot be written, so that settle is refused as a whole.
    const bad = { ...usageRecord(userId), keyId: 'not-a-uuid' };
    const outcomes = await Promise.allSettled([
      billing.settle(ids[0]!, { inputTokens: 1, outputTokens: 1 }, bad),
      billing.settle(ids[1]!, { inputTokens: 1, outputTokens: 1 }, usageRecord(userId)),
    ]);
    expect(outcomes[0]!.status).toBe('rejected');
    // 1 × 0.01 + 1 × 0.02 = 0.03 cents = 300 credits.
    expect(outcomes[1]).toEqual({ status: 'fulfilled', value: { charged: 300n, refunded: 700n } });
    const open = (await t.dataSource.query(
      `SELECT request_id FROM reservations WHERE user_id = $1 AND status = 'open'`,
      [userId],
    )) as { request_id: string }[];
    expect(open).toEqual([{ request_id: ids[0] }]);
    expect(await billing.refund(ids[0]!)).toBe(1_000n);
    await expectBooksBalanced(t.dataSource, userId, 5_000n);
  });

  it('500 concurrent estimate → reserve → settle cycles over 5 users keep every book balanced, in fewer statements', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser(t.dataSource)));
    // Enough for most cycles but not all: some reserves are refused along the way.
    const initial = 300_000n;
    for (const u of users) await billing.topUp(u, initial);
    const before = await billing.batchStatements();
    const outcomes = await Promise.all(
      Array.from({ length: 500 }, (_, i) => cycle(billing, users[i % 5]!, i)),
    );
    const after = await billing.batchStatements();
    const ok = outcomes.filter((o) => o === 'ok').length;
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'insufficient_credits')).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(after.reserve - before.reserve).toBeLessThan(500);
    expect(after.settle - before.settle).toBeLessThan(ok);
    for (const u of users) await expectBooksBalanced(t.dataSource, u, initial);
    const [records] = (await t.dataSource.query(
      `SELECT count(*)::int AS n FROM usage_records WHERE user_id = ANY($1::uuid[])`,
      [users],
    )) as { n: number }[];
    expect(records!.n).toBe(ok);
  });

  it.each(['billing_reserve_batch_async', 'billing_reserve_set_async'])(
    '%s commits without waiting for the WAL flush, in its own transaction only',
    async (fn) => {
      const userId = await newUser(t.dataSource);
      await billing.topUp(userId, 1_000n);
      const runner = t.dataSource.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        const [row] = (await runner.query(
          `SELECT ok FROM ${fn}($1::text[], $2::uuid[], $3::text[], $4::text[],
           $5::bigint[], $6::numeric[], $7::numeric[], $8::double precision[])`,
          [[randomUUID()], [userId], [null], ['llama3.1'], ['10'], ['0.01'], ['0.02'], [60000]],
        )) as { ok: boolean }[];
        expect(row).toEqual({ ok: true });
        expect(await runner.query('SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'off' }]);
        await runner.rollbackTransaction();
        expect(await runner.query('SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'on' }]);
      } finally {
        await runner.release();
      }
      expect(await billing.balance(userId)).toBe(1_000n);
    },
  );

  it('BILLING_SYNCHRONOUS_COMMIT=true: the waiting variants keep the same books', async () => {
    const sync = await startTestApp({ BILLING_SYNCHRONOUS_COMMIT: 'true' });
    try {
      const syncBilling = billingOf(sync.app);
      const users = await Promise.all(Array.from({ length: 3 }, () => newUser(sync.dataSource)));
      for (const u of users) await syncBilling.topUp(u, 200_000n);
      const outcomes = await Promise.all(
        Array.from({ length: 150 }, (_, i) => cycle(syncBilling, users[i % 3]!, i)),
      );
      expect(outcomes.filter((o) => o !== 'ok' && o !== 'insufficient_credits')).toEqual([]);
      for (const u of users) await expectBooksBalanced(sync.dataSource, u, 200_000n);
    } finally {
      await sync.close();
    }
  });

  it('the set-based functions keep index plans, whatever the table sizes were when a connection planned them', async () => {
    const rows = (await t.dataSource.query(
      `SELECT proname, proconfig FROM pg_proc WHERE proname IN ('billing_reserve_set', 'billing_settle_set') ORDER BY proname`,
    )) as { proname: string; proconfig: string[] }[];
    expect(rows.map((r) => r.proname)).toEqual(['billing_reserve_set', 'billing_settle_set']);
    for (const row of rows)
      expect(row.proconfig).toEqual(
        expect.arrayContaining([
          'plan_cache_mode=force_generic_plan',
          'enable_seqscan=off',
          'enable_hashjoin=off',
          'enable_mergejoin=off',
        ]),
      );
  });
});
