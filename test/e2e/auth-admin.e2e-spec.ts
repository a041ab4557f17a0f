import { randomBytes } from 'node:crypto';
import { base62, formatKey } from '../../src/auth/api-key.format';
import { createAdmin } from '../../src/auth/create-admin';
import { LastUsedRecorder } from '../../src/auth/last-used.recorder';
import { createUserWithKey } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

const freshKey = () => formatKey(base62(randomBytes(8), 12), base62(randomBytes(32), 43));
const secretOf = (key: string) => key.slice(key.lastIndexOf('-') + 1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Admin API for users and keys, ADMIN_API_KEY bootstrap, the CLI, the cache TTL and key storage. */
describe('auth: admin API and key lifecycle (PostgreSQL)', () => {
  const adminKey = freshKey();
  let t: TestApp;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };
  const json = <T>(r: { text: string }) => JSON.parse(r.text) as T;
  const account = async (key: string) =>
    (await fetch(`${t.url}/api/v1/account`, { headers: { Authorization: key } })).status;

  beforeAll(async () => {
    t = await startTestApp({ ADMIN_API_KEY: adminKey, AUTH_CACHE_TTL_MS: '300' });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('ADMIN_API_KEY bootstrap', () => {
    it('makes the configured key an admin key', async () => {
      expect((await admin('GET', '/admin/users')).status).toBe(200);
      const rows: { role: string }[] = await t.dataSource.query(
        `SELECT u.role FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.public_id = $1`,
        [adminKey.split('-')[2]],
      );
      expect(rows).toEqual([{ role: 'admin' }]);
    });

    it('a second start with the same key reuses (and re-activates) the same user and key', async () => {
      const owner = () =>
        t.dataSource.query(`SELECT id, user_id, revoked_at FROM api_keys WHERE public_id = $1`, [
          adminKey.split('-')[2],
        ]) as Promise<{ id: string; user_id: string; revoked_at: Date | null }[]>;
      const [before] = await owner();
      await t.dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [before?.id]);
      const again = await startTestApp({ ADMIN_API_KEY: adminKey });
      try {
        const res = await fetch(`${again.url}/admin/users`, { headers: { 'X-API-Key': adminKey } });
        expect(res.status).toBe(200);
        expect(await owner()).toEqual([{ ...before, revoked_at: null }]);
      } finally {
        await again.close();
      }
    });

    it('refuses to start with a weak or malformed key, naming ADMIN_API_KEY', async () => {
      await expect(startTestApp({ ADMIN_API_KEY: 'changeme' })).rejects.toThrow(/ADMIN_API_KEY/);
      await expect(startTestApp({ ADMIN_API_KEY: `sk-le-AbCdEf012345-${'a'.repeat(43)}` })).rejects.toThrow(
        /ADMIN_API_KEY: .*weak/,
      );
    });

    it('`create-admin` issues a working admin key', async () => {
      const { key } = await createAdmin('ops', {
        ignoreEnvFile: true,
        env: {
          DATABASE_URL: process.env.LE_TEST_DATABASE_URL,
          ADMIN_API_KEY: undefined,
          LOG_LEVEL: 'silent',
        },
      });
      const res = await fetch(`${t.url}/admin/users`, { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
    });
  });

  describe('users', () => {
    it('creates, lists and reads users with their credits', async () => {
      const created = await admin('POST', '/admin/users', { name: 'Ada', email: 'ada@example.com' });
      expect(created.status).toBe(201);
      const user = json<{ id: string }>(created);
      expect(user).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'Ada',
        email: 'ada@example.com',
        role: 'user',
        disabled: false,
        credits: 0,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      expect(json<unknown>(await admin('GET', `/admin/users/${user.id}`))).toEqual(user);
      expect(json<{ id: string }[]>(await admin('GET', '/admin/users')).map((u) => u.id)).toContain(user.id);
      const adminUser = json<{ role: string }>(
        await admin('POST', '/admin/users', { name: 'Root', role: 'admin' }),
      );
      expect(adminUser.role).toBe('admin');
    });

    it('answers 400 naming the field, 404 for unknown ids and 409 for a taken email', async () => {
      const noName = await admin('POST', '/admin/users', { email: 'x@example.com' });
      expect(noName.status).toBe(400);
      expect(json<{ message: string }>(noName).message).toMatch(/^name:/);
      const badRole = await admin('POST', '/admin/users', { name: 'x', role: 'root' });
      expect([badRole.status, json<{ message: string }>(badRole).message]).toEqual([
        400,
        expect.stringMatching(/^role:/),
      ]);
      const badId = await admin('GET', '/admin/users/not-a-uuid');
      expect([badId.status, json<{ message: string }>(badId).message]).toEqual([
        400,
        expect.stringMatching(/^id:/),
      ]);
      expect((await admin('GET', '/admin/users/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await admin('POST', '/admin/users/00000000-0000-4000-8000-000000000000/keys', {})).status).toBe(
        404,
      );
      expect((await admin('DELETE', '/admin/keys/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      await admin('POST', '/admin/users', { name: 'a', email: 'dup@example.com' });
      const dup = await admin('POST', '/admin/users', { name: 'b', email: 'DUP@example.com' });
      expect(dup.status).toBe(409);
    });
  });

  describe('keys', () => {
    let userId: string;
    beforeAll(async () => {
      userId = json<{ id: string }>(await admin('POST', '/admin/users', { name: 'Key holder' })).id;
    });

    it('creates a key (plaintext once), lists, changes and revokes it', async () => {
      const created = await admin('POST', `/admin/users/${userId}/keys`, {
        name: 'ci',
        ip_whitelist: ['127.0.0.1', '10.0.0.0/8'],
        models: ['llama3.1'],
        rpm: 60,
        tpm: 10000,
        expires_at: '2100-01-01T00:00:00Z',
      });
      expect(created.status).toBe(201);
      const key = json<{ id: string; key: string; prefix: string }>(created);
      expect(key).toMatchObject({
        user_id: userId,
        name: 'ci',
        ip_whitelist: ['127.0.0.1', '10.0.0.0/8'],
        models: ['llama3.1'],
        rpm: 60,
        tpm: 10000,
        expires_at: '2100-01-01T00:00:00.000Z',
        revoked_at: null,
        last_used_at: null,
      });
      expect(key.key).toMatch(/^sk-le-[0-9A-Za-z]{12}-[0-9A-Za-z]{43}$/);
      expect(key.key.startsWith(`${key.prefix}-`)).toBe(true);
      expect(await account(key.key)).toBe(200);

      const listed = await admin('GET', `/admin/users/${userId}/keys`);
      expect(json<{ id: string }[]>(listed).map((k) => k.id)).toEqual([key.id]);
      expect(listed.text).not.toContain(secretOf(key.key));
      expect(listed.text).not.toMatch(/"key"|hash/);

      const changed = await admin('PATCH', `/admin/keys/${key.id}`, { rpm: null, models: [], name: 'ci-2' });
      expect(json<unknown>(changed)).toMatchObject({ rpm: null, models: [], name: 'ci-2', tpm: 10000 });
      const narrowed = await admin('PATCH', `/admin/keys/${key.id}`, { ip_whitelist: ['203.0.113.9'] });
      expect(narrowed.status).toBe(200);
      expect(await account(key.key)).toBe(401);

      const revoked = await admin('DELETE', `/admin/keys/${key.id}`);
      expect(json<{ revoked_at: string | null }>(revoked).revoked_at).not.toBeNull();
      expect(json<{ revoked_at: string }>(await admin('GET', `/admin/keys/${key.id}`)).revoked_at).toBe(
        json<{ revoked_at: string }>(revoked).revoked_at,
      );
    });

    it('validates key settings with 400 naming the field, changing nothing', async () => {
      for (const [body, field] of [
        [{ ip_whitelist: ['10.0.0.0/33'] }, 'ip_whitelist'],
        [{ ip_whitelist: 'any' }, 'ip_whitelist'],
        [{ rpm: 0 }, 'rpm'],
        [{ tpm: 1.5 }, 'tpm'],
        [{ expires_at: 'tomorrow' }, 'expires_at'],
        [{ models: [''] }, 'models'],
      ] as const) {
        const before = json<unknown[]>(await admin('GET', `/admin/users/${userId}/keys`)).length;
        const res = await admin('POST', `/admin/users/${userId}/keys`, body);
        expect(json<unknown[]>(await admin('GET', `/admin/users/${userId}/keys`))).toHaveLength(before);
        expect([field, res.status]).toEqual([field, 400]);
        expect(json<{ message: string }>(res).message).toMatch(new RegExp(`^${field}`));
      }
      const { keyId } = await createUserWithKey(t);
      const bad = await admin('PATCH', `/admin/keys/${keyId}`, { ip_whitelist: ['nope'] });
      expect(bad.status).toBe(400);
      expect(
        json<{ ip_whitelist: string[] }>(await admin('GET', `/admin/keys/${keyId}`)).ip_whitelist,
      ).toEqual([]);
    });

    it('no database column holds a plaintext key or secret', async () => {
      const issued = [await createUserWithKey(t), await createUserWithKey(t, { role: 'admin' })];
      const viaApi = json<{ key: string }>(await admin('POST', `/admin/users/${userId}/keys`, {})).key;
      const dump: { row: string }[] = await t.dataSource.query(
        `SELECT row_to_json(k)::text AS row FROM api_keys k UNION ALL SELECT row_to_json(u)::text FROM users u`,
      );
      const everything = dump.map((d) => d.row).join('\n');
      for (const key of [...issued.map((i) => i.key), viaApi, adminKey]) {
        expect(everything).not.toContain(secretOf(key));
      }
    });

    it('records last use in batches', async () => {
      const { keyId, key } = await createUserWithKey(t);
      expect(await account(key)).toBe(200);
      await t.app.get(LastUsedRecorder).flush();
      const body = json<{ last_used_at: string | null }>(await admin('GET', `/admin/keys/${keyId}`));
      expect(body.last_used_at).not.toBeNull();
    });
  });

  describe('verified-key cache', () => {
    const revokeBehindTheCache = (keyId: string) =>
      t.dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [keyId]);

    it('a key revoked by another replica stops working within AUTH_CACHE_TTL_MS (300 here)', async () => {
      const { keyId, key } = await createUserWithKey(t);
      expect(await account(key)).toBe(200);
      await revokeBehindTheCache(keyId);
      await sleep(700);
      expect(await account(key)).toBe(401);
    });

    it('serves a cached key without asking the database (TTL 60 s)', async () => {
      const cached = await startTestApp({ AUTH_CACHE_TTL_MS: '60000' });
      try {
        const { keyId, key } = await createUserWithKey(cached);
        const status = async () =>
          (await fetch(`${cached.url}/api/v1/account`, { headers: { Authorization: key } })).status;
        expect(await status()).toBe(200);
        await cached.dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [keyId]);
        expect(await status()).toBe(200);
        await fetch(`${t.url}/admin/keys/${keyId}`, {
          method: 'DELETE',
          headers: { Authorization: adminKey },
        });
        expect(await status()).toBe(200);
      } finally {
        await cached.close();
      }
    });
  });
});
