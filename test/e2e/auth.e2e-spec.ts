import { createKey, createUser, createUserWithKey } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/** Headers, refusals with the seed's exact texts, roles, and that no plaintext key is kept. */
describe('auth: API keys (PostgreSQL)', () => {
  let t: TestApp;
  let admin: string;

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { headers });
  const secretOf = (key: string) => key.split('-').pop() as string;

  beforeAll(async () => {
    t = await startTestApp();
    admin = (await createUserWithKey(t, { role: 'admin' })).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('header forms (CONTRACT §1)', () => {
    let user: { userId: string; key: string };
    beforeAll(async () => {
      user = await createUserWithKey(t);
    });

    it.each([
      ['Authorization: Bearer <key>', (k: string) => ({ Authorization: `Bearer ${k}` })],
      ['Authorization: <key>', (k: string) => ({ Authorization: k })],
      ['X-API-Key: <key>', (k: string) => ({ 'X-API-Key': k })],
    ])('%s authenticates', async (_name, headers) => {
      const res = await get('/api/v1/account', headers(user.key));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ success: true, user_id: user.userId });
    });

    it('Authorization wins over X-API-Key', async () => {
      const res = await get('/api/v1/account', {
        Authorization: `Bearer ${user.key}`,
        'X-API-Key': 'sk-le-bogus',
      });
      expect(res.status).toBe(200);
      const wrong = await get('/api/v1/account', { Authorization: 'sk-le-bogus', 'X-API-Key': user.key });
      expect(wrong.status).toBe(401);
    });
  });

  describe('refusals on the native API use seed 000’s texts', () => {
    const native = async (headers: Record<string, string>) => {
      const res = await get('/api/v1/account', headers);
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const invalid = { status: 401, body: { success: false, message: 'Invalid API key' } };

    it('missing header: 401 Authorization header required', async () => {
      expect(await native({})).toEqual({
        status: 401,
        body: { success: false, message: 'Authorization header required' },
      });
      expect(await native({ Authorization: 'Bearer ' })).toEqual({
        status: 401,
        body: { success: false, message: 'Authorization header required' },
      });
    });

    it('wrong secret, wrong public id, garbage', async () => {
      const { key } = await createUserWithKey(t);
      const [, publicId] = /^sk-le-([^-]+)-/.exec(key) as RegExpExecArray;
      const secret = secretOf(key);
      const otherSecret = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
      expect(await native({ Authorization: `sk-le-${publicId}-${otherSecret}` })).toEqual(invalid);
      const otherId = (publicId as string).slice(0, -1) + (publicId?.endsWith('A') ? 'B' : 'A');
      expect(await native({ Authorization: `sk-le-${otherId}-${secret}` })).toEqual(invalid);
      expect(await native({ Authorization: 'not-a-key' })).toEqual(invalid);
      // The genuine key still works: the refusals above were about the changes.
      expect((await native({ Authorization: key })).status).toBe(200);
    });

    it('revoked key', async () => {
      const { keyId, key } = await createUserWithKey(t);
      expect((await native({ Authorization: key })).status).toBe(200);
      const revoke = await fetch(`${t.url}/admin/keys/${keyId}`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${admin}` },
      });
      expect(revoke.status).toBe(200);
      expect(((await revoke.json()) as { revoked_at: string }).revoked_at).toEqual(expect.any(String));
      expect(await native({ Authorization: key })).toEqual(invalid);
    });

    it('expired key', async () => {
      const user = await createUser(t);
      const expired = await createKey(t, user.id, { expires_at: new Date(Date.now() - 60000).toISOString() });
      const live = await createKey(t, user.id, { expires_at: new Date(Date.now() + 3600000).toISOString() });
      expect(await native({ Authorization: expired.key })).toEqual(invalid);
      expect((await native({ Authorization: live.key })).status).toBe(200);
    });

    it('disabled user', async () => {
      const { userId, key } = await createUserWithKey(t);
      expect((await native({ Authorization: key })).status).toBe(200);
      const res = await fetch(`${t.url}/admin/users/${userId}`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ disabled: true }),
      });
      expect(res.status).toBe(200);
      expect(await native({ Authorization: key })).toEqual(invalid);
    });
  });

  describe('refusals on the OpenAI API use its error object', () => {
    it('missing and invalid keys', async () => {
      const missing = await get('/v1/models');
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('missing_api_key');
      const invalid = await get('/v1/models', { Authorization: 'Bearer sk-le-nope' });
      expect(invalid.status).toBe(401);
      expect(await invalid.json()).toEqual({
        error: {
          message: 'Invalid API key',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    });
  });

  describe('admin routes', () => {
    const ZERO = '00000000-0000-0000-0000-000000000000';
    const mine = [
      'POST /admin/users',
      'GET /admin/users',
      'GET /admin/users/:id',
      'PATCH /admin/users/:id',
      'POST /admin/users/:id/keys',
      'GET /admin/users/:id/keys',
      'GET /admin/keys/:id',
      'PATCH /admin/keys/:id',
      'DELETE /admin/keys/:id',
    ];

    /** Every /admin route the running app serves, including other modules' (from express's router). */
    function adminRoutes(): string[] {
      interface Layer {
        route?: { path: string; methods: Record<string, boolean> };
      }
      const stack = (t.app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router.stack;
      return stack.flatMap((layer) =>
        layer.route?.path.startsWith('/admin')
          ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route?.path}`)
          : [],
      );
    }

    it('a user key gets 403 on every admin route (and no key gets 401)', async () => {
      const { key } = await createUserWithKey(t);
      const routes = adminRoutes();
      expect(routes).toEqual(expect.arrayContaining(mine));
      for (const route of routes) {
        const [method, pattern] = route.split(' ') as [string, string];
        const url = `${t.url}${pattern.replace(/[:*]\w+/g, ZERO)}`;
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
        const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
        const res = await fetch(url, { method, headers, body });
        expect([route, res.status]).toEqual([route, 403]);
        expect(await res.json()).toMatchObject({ statusCode: 403, error: 'forbidden' });
        const anonymous = await fetch(url, { method, body, headers: { 'Content-Type': 'application/json' } });
        expect([route, anonymous.status]).toEqual([route, 401]);
      }
    });
  });
});
