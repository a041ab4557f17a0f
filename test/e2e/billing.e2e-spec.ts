import { randomUUID } from 'node:crypto';
import { type Billing, billingOf } from '../support/billing';
import { ApiError } from '../../src/common/api-error';
import { startTestApp, TestApp } from '../support/test-app';

/** The billing services against the real PostgreSQL database: money moves, concurrency, the ledger. */
describe('billing service (PostgreSQL)', () => {
  let t: TestApp;
  let billing: Billing;

  beforeAll(async () => {
    t = await startTestApp();
    billing = billingOf(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function newUser(): Promise<string> {
    const [row] = (await t.dataSource.query(`INSERT INTO users (name) VALUES ($1) RETURNING id`, [
      `billing-${randomUUID()}`,
    ])) as { id: string }[];
    return row!.id;
  }

  async function ledgerSum(userId: string): Promise<bigint> {
    const [row] = (await t.dataSource.query(
      `SELECT COALESCE(SUM(amount), 0)::text AS sum FROM credit_ledger WHERE user_id = $1`,
      [userId],
    )) as { sum: string }[];
    return BigInt(row!.sum);
  }

  async function codeOf(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
      return 'ok';
    } catch (err) {
      return err instanceof ApiError ? err.code : `unexpected: ${String(err)}`;
    }
  }

  describe('estimate (seed 000 rule)', () => {
    // 100 user characters (code points: "é" and "😀" count once each) in two messages;
    // system and assistant text is not counted. max_tokens 100.
    const userText = 'é😀' + 'x'.repeat(58);
    const messages = [
      { role: 'system', content: 'You are a terse assistant; this text is not billed.' },
      { role: 'user', content: userText },
      { role: 'assistant', content: 'Nor is this reply.' },
      { role: 'user', content: 'y'.repeat(40) },
    ];
    // Computed by hand: 100 × input_rate + 100 × output_rate cents, ÷ 0.0001.
    const expected: Record<string, bigint> = {
      'llama3.1': 30_000n, // 100 × 0.01 + 100 × 0.02 = 3 cents
      llama3: 40_000n, // 1.5 + 2.5
      llama2: 50_000n, // 2 + 3
      mistral: 34_000n, // 1.2 + 2.2
      qwen: 46_000n, // 1.8 + 2.8
      gemma2: 42_000n, // 1.6 + 2.6
      'llama3.2': 38_000n, // 1.4 + 2.4
      qwen2: 44_000n, // 1.7 + 2.7
      zephyr: 48_000n, // 1.9 + 2.9
      gemma: 36_000n, // 1.3 + 2.3
      llava: 40_000n, // 1.5 + 2.5
      'mistral-nemo': 32_000n, // 1.1 + 2.1
      phi3: 50_000n, // 2 + 3
      wizardlm2: 46_000n, // 1.8 + 2.8
      'orca-mini': 48_000n, // 1.9 + 2.9
      codellama: 44_000n, // 1.7 + 2.7
      'llama2-uncensored': 40_000n, // 1.5 + 2.5
      'owl_t-lite': 38_000n, // 1.4 + 2.4
    };

    it('prices all 18 seed models exactly as computed by hand', async () => {
      expect(Object.keys(expected)).toHaveLength(18);
      const rates = await billing.listRates();
      // Other test files of the run may add `test-*` models to the shared database.
      const seeded = rates.map((r) => r.model).filter((m) => !m.startsWith('test-'));
      expect(seeded.sort()).toEqual(Object.keys(expected).sort());
      for (const [model, credits] of Object.entries(expected)) {
        expect([model, await billing.estimate(model, messages, 100)]).toEqual([model, credits]);
      }
    });

    it('counts only user characters: 7 user characters, max_tokens 3 on llama3 = 1,800 credits', async () => {
      // 7 × 0.015 + 3 × 0.025 = 0.105 + 0.075 = 0.18 cents = 1,800 credits.
      const credits = await billing.estimate(
        'llama3',
        [
          { role: 'system', content: 'long system prompt '.repeat(10) },
          { role: 'user', content: 'hello 🌍' },
        ],
        3,
      );
      expect(credits).toBe(1_800n);
    });

    it('refuses a model without a rate', async () => {
      expect(await codeOf((async () => billing.estimate('no-such-model', messages, 10))())).toBe(
        'model_pricing_not_found',
      );
      expect(await billing.hasRate('no-such-model')).toBe(false);
      expect(await billing.hasRate('llama3.1')).toBe(true);
    });

    it('a changed rate is used at once and kept exactly, rounding up to whole credits', async () => {
      const saved = await billing.setRate('test-tiny', '0.0000012345', '0.1');
      expect(saved).toMatchObject({ model: 'test-tiny', inputRate: '0.0000012345', outputRate: '0.1' });
      // 3 × 0.0000012345 + 2 × 0.1 = 0.2000037035 cents = 2000.037035 credits, rounded up.
      expect(await billing.estimate('test-tiny', [{ role: 'user', content: 'abc' }], 2)).toBe(2_001n);
      expect(await billing.cost('test-tiny', { inputTokens: 0, outputTokens: 3 })).toBe(3_000n);
    });
  });

  describe('reserve', () => {
    it('200 concurrent reservations of 100 against 5,000: exactly 50 succeed, 150 get 402', async () => {
      const userId = await newUser();
      await billing.topUp(userId, 5_000n);
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, () =>
          codeOf(billing.reserve({ userId, requestId: randomUUID(), model: 'llama3.1', credits: 100n })),
        ),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(50);
      expect(outcomes.filter((o) => o === 'insufficient_credits')).toHaveLength(150);
      expect(await billing.balance(userId)).toBe(0n);
      expect(await ledgerSum(userId)).toBe(0n);
      const [open] = (await t.dataSource.query(
        `SELECT count(*)::int AS n, sum(amount)::text AS total FROM reservations WHERE user_id = $1 AND status = 'open'`,
        [userId],
      )) as { n: number; total: string }[];
      expect(open).toEqual({ n: 50, total: '5000' });
    });

    it('a short balance changes nothing', async () => {
      const userId = await newUser();
      await billing.topUp(userId, 99n);
      const requestId = randomUUID();
      expect(await codeOf(billing.reserve({ userId, requestId, model: 'llama3.1', credits: 100n }))).toBe(
        'insufficient_credits',
      );
      expect(await billing.balance(userId)).toBe(99n);
      expect(await ledgerSum(userId)).toBe(99n);
      expect(
        await t.dataSource.query(`SELECT 1 FROM reservations WHERE request_id = $1`, [requestId]),
      ).toEqual([]);
    });

    it('a request id is reserved once, even when sent twice at the same time', async () => {
      const userId = await newUser();
      await billing.topUp(userId, 1_000n);
      const requestId = randomUUID();
      const outcomes = await Promise.all(
        [1, 2].map(() => codeOf(billing.reserve({ userId, requestId, model: 'llama3.1', credits: 300n }))),
      );
      expect(outcomes.sort()).toEqual(['conflict', 'ok']);
      expect(await billing.balance(userId)).toBe(700n);
      expect(await ledgerSum(userId)).toBe(700n);
    });
  });

  describe('settle and refund', () => {
    async function reserved(
      credits: bigint,
      model = 'llama3.1',
    ): Promise<{ userId: string; requestId: string }> {
      const userId = await newUser();
      await billing.topUp(userId, 100_000n);
      const requestId = randomUUID();
      await billing.reserve({ userId, requestId, model, credits });
      return { userId, requestId };
    }

    it('settle below the reservation charges the usage and refunds the difference', async () => {
      const { userId, requestId } = await reserved(30_000n);
      expect(await billing.balance(userId)).toBe(70_000n);
      // 20 × 0.01 + 35 × 0.02 = 0.9 cents = 9,000 credits.
      expect(await billing.settle(requestId, { inputTokens: 20, outputTokens: 35 })).toEqual({
        charged: 9_000n,
        refunded: 21_000n,
      });
      expect(await billing.balance(userId)).toBe(91_000n);
      expect(await ledgerSum(userId)).toBe(91_000n);
      const rows = (await t.dataSource.query(
        `SELECT kind, amount::text AS amount FROM credit_ledger WHERE request_id = $1 ORDER BY id`,
        [requestId],
      )) as { kind: string; amount: string }[];
      // The request's rows sum to minus what it cost.
      expect(rows).toEqual([
        { kind: 'reserve', amount: '-30000' },
        { kind: 'settle', amount: '21000' },
      ]);
    });

    it('settle rounds a fraction of a credit up, like estimate and cost', async () => {
      await billing.setRate('test-fraction', '0.0000012345', '0.1');
      const { requestId } = await reserved(5_000n, 'test-fraction');
      const usage = { inputTokens: 3, outputTokens: 2 }; // 2000.037035 credits
      expect(await billing.cost('test-fraction', usage)).toBe(2_001n);
      expect(await billing.settle(requestId, usage)).toEqual({ charged: 2_001n, refunded: 2_999n });
    });

    it('charges the snapshot rates of the reservation even if the rate changes', async () => {
      await billing.setRate('test-snapshot', '0.01', '0.01');
      const { userId, requestId } = await reserved(10_000n, 'test-snapshot');
      await billing.setRate('test-snapshot', '1', '1');
      // Snapshot: (5 + 5) × 0.01 = 0.1 cents = 1,000 credits (not 100,000 at the new rate).
      expect(await billing.settle(requestId, { inputTokens: 5, outputTokens: 5 })).toEqual({
        charged: 1_000n,
        refunded: 9_000n,
      });
      expect(await billing.balance(userId)).toBe(99_000n);
    });

    it('never charges above the reservation', async () => {
      const { userId, requestId } = await reserved(1_000n);
      expect(await billing.settle(requestId, { inputTokens: 1_000, outputTokens: 1_000 })).toEqual({
        charged: 1_000n,
        refunded: 0n,
      });
      expect(await billing.balance(userId)).toBe(99_000n);
      expect(await ledgerSum(userId)).toBe(99_000n);
    });

    it('settle twice and refund after settle change nothing', async () => {
      const { userId, requestId } = await reserved(30_000n);
      await billing.settle(requestId, { inputTokens: 10, outputTokens: 10 }); // 3,000 credits
      expect(await billing.settle(requestId, { inputTokens: 1, outputTokens: 1 })).toEqual({
        charged: 0n,
        refunded: 0n,
      });
      expect(await billing.refund(requestId)).toBe(0n);
      expect(await billing.balance(userId)).toBe(97_000n);
      expect(await ledgerSum(userId)).toBe(97_000n);
    });

    it('refund returns the whole hold once; settle after refund changes nothing', async () => {
      const { userId, requestId } = await reserved(30_000n);
      const results = await Promise.all([billing.refund(requestId), billing.refund(requestId)]);
      expect(results.sort()).toEqual([0n, 30_000n]);
      expect(await billing.settle(requestId, { inputTokens: 10, outputTokens: 10 })).toEqual({
        charged: 0n,
        refunded: 0n,
      });
      expect(await billing.balance(userId)).toBe(100_000n);
      expect(await ledgerSum(userId)).toBe(100_000n);
    });

    it('concurrent settles of one reservation charge once', async () => {
      const { userId, requestId } = await reserved(30_000n);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => billing.settle(requestId, { inputTokens: 10, outputTokens: 10 })),
      );
      expect(results.filter((r) => r.charged > 0n)).toEqual([{ charged: 3_000n, refunded: 27_000n }]);
      expect(await billing.balance(userId)).toBe(97_000n);
      expect(await ledgerSum(userId)).toBe(97_000n);
    });

    it('an unknown request id settles and refunds nothing', async () => {
      expect(await billing.settle(randomUUID(), { inputTokens: 1, outputTokens: 1 })).toEqual({
        charged: 0n,
        refunded: 0n,
      });
      expect(await billing.refund(randomUUID())).toBe(0n);
    });
  });

  describe('sweep', () => {
    it('refunds a crashed reservation once, with two app instances sweeping at the same time', async () => {
      const other = await startTestApp({ DATABASE_POOL_SIZE: '2' });
      try {
        const userId = await newUser();
        await billing.topUp(userId, 10_000n);
        const crashed = randomUUID();
        const fresh = randomUUID();
        await billing.reserve({ userId, requestId: crashed, model: 'llama3.1', credits: 4_000n });
        await billing.reserve({ userId, requestId: fresh, model: 'llama3.1', credits: 1_000n });
        // The process that made `crashed` died an hour ago: its hold is past its deadline.
        await t.dataSource.query(
          `UPDATE reservations SET created_at = now() - interval '1 hour', expires_at = now() - interval '50 minutes'
           WHERE request_id = $1`,
          [crashed],
        );
        const sweepers = [billing, billingOf(other.app)];
        const counts = await Promise.all([...sweepers, ...sweepers].map((b) => b.sweepExpiredReservations()));
        expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
        const [refunds] = (await t.dataSource.query(
          `SELECT count(*)::int AS n FROM credit_ledger WHERE request_id = $1 AND kind = 'refund'`,
          [crashed],
        )) as { n: number }[];
        expect(refunds!.n).toBe(1);
        expect(await billing.balance(userId)).toBe(9_000n);
        expect(await ledgerSum(userId)).toBe(9_000n);
        const statuses = (await t.dataSource.query(
          `SELECT request_id, status FROM reservations WHERE user_id = $1 ORDER BY status`,
          [userId],
        )) as { request_id: string; status: string }[];
        expect(statuses).toEqual([
          { request_id: fresh, status: 'open' },
          { request_id: crashed, status: 'refunded' },
        ]);
      } finally {
        await other.close();
      }
    });
  });

  describe('periodic sweeper', () => {
    it('refunds a hold older than RESERVATION_TIMEOUT_MS on its own, but not one reserved without expiry', async () => {
      const sweeping = await startTestApp({
        RESERVATION_SWEEP_INTERVAL_MS: '100',
        RESERVATION_TIMEOUT_MS: '1000',
        DATABASE_POOL_SIZE: '2',
      });
      try {
        const userId = await newUser();
        await billing.topUp(userId, 1_000n);
        const crashed = randomUUID();
        const queued = randomUUID();
        const short = billingOf(sweeping.app);
        await short.reserve({ userId, requestId: crashed, model: 'llama3.1', credits: 600n });
        await short.reserve({ userId, requestId: queued, model: 'llama3.1', credits: 300n, holdMs: null });
        const statusOf = async (requestId: string): Promise<string> => {
          const [row] = (await t.dataSource.query(`SELECT status FROM reservations WHERE request_id = $1`, [
            requestId,
          ])) as { status: string }[];
          return row!.status;
        };
        for (let i = 0; i < 300 && (await statusOf(crashed)) === 'open'; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(await statusOf(crashed)).toBe('refunded');
        // Old as it gets, a hold reserved with holdMs null is left to its owner.
        await t.dataSource.query(
          `UPDATE reservations SET created_at = now() - interval '1 day' WHERE request_id = $1`,
          [queued],
        );
        expect(await short.sweepExpiredReservations()).toBe(0);
        expect(await statusOf(queued)).toBe('open');
        expect(await billing.balance(userId)).toBe(700n);
        expect(await ledgerSum(userId)).toBe(700n);
      } finally {
        await sweeping.close();
      }
    });
  });

  describe('top-ups and the ledger', () => {
    it('20 concurrent top-ups with one idempotency key credit once; a different body is 422', async () => {
      const userId = await newUser();
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          billing.topUp(userId, 2_500n, { reference: 'invoice-1', idempotencyKey: 'key-1' }),
        ),
      );
      expect(new Set(results.map((r) => r.entryId)).size).toBe(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(results.every((r) => r.credits === 2_500n)).toBe(true);
      expect(await billing.balance(userId)).toBe(2_500n);
      expect(
        await codeOf(billing.topUp(userId, 2_501n, { reference: 'invoice-1', idempotencyKey: 'key-1' })),
      ).toBe('idempotency_mismatch');
      expect(
        await codeOf(billing.topUp(userId, 2_500n, { reference: 'other', idempotencyKey: 'key-1' })),
      ).toBe('idempotency_mismatch');
      // The same key belongs to each user separately.
      const other = await newUser();
      expect((await billing.topUp(other, 7n, { idempotencyKey: 'key-1' })).replayed).toBe(false);
      expect(await billing.balance(userId)).toBe(2_500n);
      expect(await ledgerSum(userId)).toBe(2_500n);
    });

    it('top-up and ledger of an unknown user are 404', async () => {
      expect(await codeOf(billing.topUp(randomUUID(), 1n))).toBe('not_found');
      expect(await codeOf(billing.topUp('not-a-uuid', 1n))).toBe('not_found');
      expect(await codeOf(billing.ledger(randomUUID()))).toBe('not_found');
    });

    it('balances: many users in one call, a user without an account has 0', async () => {
      const a = await newUser();
      const b = await newUser();
      await billing.topUp(a, 42n);
      const map = await billing.balances([a, b]);
      expect([...map.entries()].sort()).toEqual(
        [
          [a, 42n],
          [b, 0n],
        ].sort(),
      );
    });

    it('lists the ledger newest first, page by page, with balance_after', async () => {
      const userId = await newUser();
      // Make the ids cross a power of ten (…998, …999, 1000…): newest first must sort numerically.
      const [{ max }] = (await t.dataSource.query(
        `SELECT COALESCE(max(id), 1)::text AS max FROM credit_ledger`,
      )) as {
        max: string;
      }[];
      const next = 10n ** BigInt(max.length + 1) - 3n;
      await t.dataSource.query(`SELECT setval(pg_get_serial_sequence('credit_ledger', 'id'), $1)`, [
        next.toString(),
      ]);
      for (const amount of [1n, 2n, 3n, 4n, 5n])
        await billing.topUp(userId, amount, { reference: `r${amount}` });
      const first = await billing.ledger(userId, { limit: 2 });
      expect(first.entries.map((e) => [e.amount, e.balanceAfter, e.kind])).toEqual([
        [5n, 15n, 'topup'],
        [4n, 10n, 'topup'],
      ]);
      const second = await billing.ledger(userId, { limit: 2, cursor: first.nextCursor! });
      expect(second.entries.map((e) => e.reference)).toEqual(['r3', 'r2']);
      const third = await billing.ledger(userId, { limit: 2, cursor: second.nextCursor! });
      expect(third.entries.map((e) => e.reference)).toEqual(['r1']);
      expect(third.nextCursor).toBeNull();
      expect(await codeOf(billing.ledger(userId, { cursor: 'garbage' }))).toBe('invalid_request');
    });

    it('the database refuses UPDATE, DELETE and TRUNCATE on the ledger', async () => {
      const userId = await newUser();
      await billing.topUp(userId, 10n);
      await expect(
        t.dataSource.query(`UPDATE credit_ledger SET amount = 1000 WHERE user_id = $1`, [userId]),
      ).rejects.toThrow(/append-only/);
      await expect(
        t.dataSource.query(`DELETE FROM credit_ledger WHERE user_id = $1`, [userId]),
      ).rejects.toThrow(/append-only/);
      await expect(t.dataSource.query(`TRUNCATE credit_ledger`)).rejects.toThrow(/append-only/);
      expect(await ledgerSum(userId)).toBe(10n);
    });

    it('the database refuses a negative balance', async () => {
      const userId = await newUser();
      await billing.topUp(userId, 10n);
      await expect(
        t.dataSource.query(`UPDATE accounts SET credits = -1 WHERE user_id = $1`, [userId]),
      ).rejects.toThrow(/check constraint/);
    });
  });
});
