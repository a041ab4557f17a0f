import { randomUUID } from 'node:crypto';
import { billingOf } from '../support/billing';
import { createUserWithKey } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/** The billing HTTP surface: GET /api/v1/account and the admin credits, ledger and rates routes. */
describe('billing HTTP API', () => {
  let t: TestApp;
  let admin: string;
  let user: { userId: string; key: string };

  beforeAll(async () => {
    t = await startTestApp();
    admin = (await createUserWithKey(t, { role: 'admin' })).key;
    user = await createUserWithKey(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function call(
    method: string,
    path: string,
    key: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  async function ledgerSum(userId: string): Promise<bigint> {
    const [row] = (await t.dataSource.query(
      `SELECT COALESCE(SUM(amount), 0)::text AS sum FROM credit_ledger WHERE user_id = $1`,
      [userId],
    )) as { sum: string }[];
    return BigInt(row!.sum);
  }

  describe('GET /api/v1/account', () => {
    it("answers the caller's own balance as an integer", async () => {
      const me = await createUserWithKey(t);
      expect(await call('GET', '/api/v1/account', me.key)).toMatchObject({
        status: 200,
        body: { success: true, user_id: me.userId, credits: 0 },
      });
      await billingOf(t.app).topUp(me.userId, 123_456n);
      expect((await call('GET', '/api/v1/account', me.key)).body).toEqual({
        success: true,
        user_id: me.userId,
        credits: 123_456,
      });
    });

    it('needs a key (seed 000 error format)', async () => {
      const res = await fetch(`${t.url}/api/v1/account`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ success: false, message: 'Authorization header required' });
    });
  });

  describe('POST /admin/users/:id/credits', () => {
    it('20 concurrent top-ups with one Idempotency-Key credit once; a different body is 422', async () => {
      const target = await createUserWithKey(t);
      const path = `/admin/users/${target.userId}/credits`;
      const headers = { 'Idempotency-Key': `topup-${randomUUID()}` };
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          call('POST', path, admin, { amount: 5_000, reference: 'inv-7' }, headers),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
      expect(new Set(results.map((r) => r.body.entry_id)).size).toBe(1);
      expect(results.every((r) => r.body.credits === 5_000)).toBe(true);
      expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);

      const different = await call('POST', path, admin, { amount: 5_001, reference: 'inv-7' }, headers);
      expect(different.status).toBe(422);
      expect(different.body).toMatchObject({ statusCode: 422, error: 'idempotency_mismatch' });

      expect((await call('GET', '/api/v1/account', target.key)).body.credits).toBe(5_000);
      expect(await ledgerSum(target.userId)).toBe(5_000n);
    });

    it('without a key each call credits', async () => {
      const target = await createUserWithKey(t);
      const path = `/admin/users/${target.userId}/credits`;
      expect((await call('POST', path, admin, { amount: 10 })).body).toMatchObject({ credits: 10 });
      expect((await call('POST', path, admin, { amount: 10 })).body).toMatchObject({ credits: 20 });
    });

    it('rejects bad amounts with 400 and changes nothing', async () => {
      const target = await createUserWithKey(t);
      const path = `/admin/users/${target.userId}/credits`;
      for (const body of [
        { amount: 0 },
        { amount: -5 },
        { amount: 1.5 },
        { amount: '100' },
        {},
        { amount: 1e20 },
      ]) {
        const res = await call('POST', path, admin, body);
        expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
      }
      expect(await ledgerSum(target.userId)).toBe(0n);
    });

    it('is 404 for an unknown user, 400 for a malformed id, 403 for a user key', async () => {
      expect((await call('POST', `/admin/users/${randomUUID()}/credits`, admin, { amount: 1 })).status).toBe(
        404,
      );
      expect((await call('POST', `/admin/users/nope/credits`, admin, { amount: 1 })).status).toBe(400);
      expect(
        (await call('POST', `/admin/users/${user.userId}/credits`, user.key, { amount: 1 })).status,
      ).toBe(403);
      expect(await ledgerSum(user.userId)).toBe(0n);
    });
  });

  describe('GET /admin/users/:id/ledger', () => {
    it('pages newest first with an opaque cursor', async () => {
      const target = await createUserWithKey(t);
      for (const amount of [100, 200, 300]) {
        await call('POST', `/admin/users/${target.userId}/credits`, admin, {
          amount,
          reference: `r${amount}`,
        });
      }
      const first = await call('GET', `/admin/users/${target.userId}/ledger?limit=2`, admin);
      expect(first.status).toBe(200);
      const entries = first.body.data as Record<string, unknown>[];
      expect(entries.map((e) => [e.amount, e.balance_after, e.kind, e.reference])).toEqual([
        [300, 600, 'topup', 'r300'],
        [200, 300, 'topup', 'r200'],
      ]);
      const cursor = first.body.next_cursor as string;
      const second = await call(
        'GET',
        `/admin/users/${target.userId}/ledger?limit=2&cursor=${cursor}`,
        admin,
      );
      expect((second.body.data as Record<string, unknown>[]).map((e) => e.amount)).toEqual([100]);
      expect(second.body.next_cursor).toBeNull();
      expect((await call('GET', `/admin/users/${target.userId}/ledger?limit=0`, admin)).status).toBe(400);
      expect((await call('GET', `/admin/users/${target.userId}/ledger?cursor=zzz`, admin)).status).toBe(400);
      expect((await call('GET', `/admin/users/${randomUUID()}/ledger`, admin)).status).toBe(404);
    });
  });

  describe('rates', () => {
    it('GET /admin/rates lists the 18 seed models with exact decimal rates', async () => {
      const res = await call('GET', '/admin/rates', admin);
      expect(res.status).toBe(200);
      const rates = res.body as unknown as { model: string; input_rate: string; output_rate: string }[];
      expect(rates.find((r) => r.model === 'llama3.1')).toMatchObject({
        input_rate: '0.01',
        output_rate: '0.02',
      });
      expect(rates.find((r) => r.model === 'mistral-nemo')).toMatchObject({
        input_rate: '0.011',
        output_rate: '0.021',
      });
      // Other test files (same database) add rates named test-*.
      expect(rates.filter((r) => !r.model.startsWith('test-'))).toHaveLength(18);
    });

    it('PUT /admin/rates/:model stores strings and numbers exactly and prices with them at once', async () => {
      const put = await call('PUT', '/admin/rates/test-http-model', admin, {
        input_rate: '0.0000000001',
        output_rate: 0.015,
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        model: 'test-http-model',
        input_rate: '0.0000000001',
        output_rate: '0.015',
      });
      // 1 × 0.0000000001 + 2 × 0.015 = 0.0300000001 cents = 300.000001 credits → 301.
      const credits = billingOf(t.app).estimate('test-http-model', [{ role: 'user', content: 'x' }], 2);
      expect(credits).toBe(301n);
    });

    it('rejects negative, exponent, over-precise and non-numeric rates with 400 and keeps the old rate', async () => {
      for (const bad of [-0.01, '-1', 1e-20, '1e-5', '0.00000000001', 'abc', null, true]) {
        const res = await call('PUT', '/admin/rates/llama3', admin, {
          input_rate: bad,
          output_rate: '0.025',
        });
        expect([bad, res.status]).toEqual([bad, 400]);
      }
      const rates = (await call('GET', '/admin/rates', admin)).body as unknown as { model: string }[];
      expect(rates.find((r) => r.model === 'llama3')).toMatchObject({ input_rate: '0.015' });
      expect(
        (await call('PUT', '/admin/rates/llama3', user.key, { input_rate: 1, output_rate: 1 })).status,
      ).toBe(403);
    });
  });
});
