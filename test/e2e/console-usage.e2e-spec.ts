import { billingOf } from '../support/billing';
import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { createKey } from '../support/fixtures';
import { addHost, eventually, fundedUser } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

const DIMENSIONS = `date_trunc('hour', created_at), user_id, coalesce(key_id::text, ''), model, coalesce(host_id, '')`;

/** usage_records summed per hour and dimension, next to usage_hourly's rows, for `users`. */
async function bothSides(t: TestApp, users: string[]): Promise<{ records: unknown[]; hourly: unknown[] }> {
  const records = await t.dataSource.query(
    `SELECT ROW(${DIMENSIONS})::text AS dims, count(*)::text AS requests,
            count(*) FILTER (WHERE status = 'error')::text AS errors,
            count(*) FILTER (WHERE status IN ('client_closed', 'cancelled'))::text AS aborted,
            sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens,
            sum(credits)::text AS credits, sum(duration_ms)::text AS duration_ms
       FROM usage_records WHERE user_id = ANY ($1) GROUP BY ${DIMENSIONS} ORDER BY 1`,
    [users],
  );
  const hourly = await t.dataSource.query(
    `SELECT ROW(bucket, user_id, key_id, model, host_id)::text AS dims, requests::text, errors::text, aborted::text,
            input_tokens::text, output_tokens::text, credits::text, duration_ms::text
       FROM usage_hourly WHERE user_id = ANY ($1) ORDER BY 1`,
    [users],
  );
  return { records, hourly };
}

describe('usage aggregate (usage_hourly) and the usage / self-service API', () => {
  const apps: TestApp[] = [];
  const fakes: FakeHost[] = [];

  afterAll(async () => {
    // The run's database is shared by every suite: leave the seeded rate table as it was.
    await apps[0]?.dataSource.query(`DELETE FROM rates WHERE model IN ('qwen2.5', 'broken-model')`);
    await apps[0]?.dataSource.query(`DELETE FROM hosts WHERE name LIKE 'agg-%'`);
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(fakes.map((f) => f.close()));
  });

  async function platform(env: Record<string, string>): Promise<TestApp> {
    const t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000', ...env });
    apps.push(t);
    const ollama = await startFakeOllama({ models: ['llama3.1', 'qwen2.5'], tokens: 6, tokenDelayMs: 3 });
    const openai = await startFakeOpenAI({ models: ['llama3.1', 'qwen2.5'], tokens: 6, tokenDelayMs: 3 });
    const broken = await startFakeOpenAI({ models: ['broken-model'], mode: 'error500' });
    fakes.push(ollama, openai, broken);
    // Both apps share the run's database: each registers hosts of its own names.
    const n = apps.length;
    await addHost(t, `agg-ollama-${n}`, ollama.url, 'ollama', { max_concurrency: 100 });
    await addHost(t, `agg-openai-${n}`, openai.url, 'openai', { max_concurrency: 100 });
    await addHost(t, `agg-broken-${n}`, broken.url, 'openai', { max_concurrency: 100 });
    const billing = billingOf(t.app);
    await billing.setRate('qwen2.5', '0.003', '0.0125');
    await billing.setRate('broken-model', '0.01', '0.01');
    return t;
  }

  /** Several users and keys, both models and providers, native and OpenAI, failures and aborts. */
  async function concurrentRun(t: TestApp): Promise<{ users: string[]; sent: number }> {
    const users = await Promise.all([0, 1, 2, 3].map(() => fundedUser(t, 50_000_000n)));
    const keys = [
      ...users.map((u) => ({ userId: u.userId, key: u.key })),
      ...(await Promise.all(
        users.map(async (u) => ({ userId: u.userId, key: (await createKey(t, u.userId)).key })),
      )),
    ];
    const runs = Array.from({ length: 80 }, async (_, i) => {
      const k = keys[i % keys.length]!;
      const model = i % 10 === 9 ? 'broken-model' : i % 2 === 0 ? 'llama3.1' : 'qwen2.5';
      const native = i % 3 === 0;
      const abort = new AbortController();
      const res = await fetch(`${t.url}${native ? '/api/v1/completions' : '/v1/chat/completions'}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${k.key}` },
        body: JSON.stringify({
          model,
          messages: [{ role: 'user', content: `question ${i} `.repeat(1 + (i % 4)) }],
          max_tokens: 32,
          stream: i % 4 !== 1,
        }),
        signal: abort.signal,
      });
      if (i % 7 === 3 && res.body) {
        // A client that hangs up after the first bytes.
        const reader = res.body.getReader();
        await reader.read();
        abort.abort();
        return;
      }
      await res.text();
    });
    await Promise.allSettled(runs);
    const ids = users.map((u) => u.userId);
    await eventually(async () => {
      const rows = (await t.dataSource.query(
        `SELECT count(*)::int AS n FROM usage_records WHERE user_id = ANY ($1)`,
        [ids],
      )) as { n: number }[];
      return rows[0]?.n === runs.length;
    }, 20000);
    return { users: ids, sent: runs.length };
  }

  for (const [name, env] of [
    ['credit leases (set-based settles)', {}],
    ['no leases (reservation rows)', { BILLING_CREDIT_LEASES: 'false' }],
  ] as const) {
    it(`equals the usage records per hour, user, key, model and host after a concurrent run: ${name}`, async () => {
      const t = await platform(env);
      const { users } = await concurrentRun(t);
      const { records, hourly } = await bothSides(t, users);
      expect(hourly).toEqual(records);
      const statuses = (await t.dataSource.query(
        `SELECT DISTINCT status FROM usage_records WHERE user_id = ANY ($1) ORDER BY 1`,
        [users],
      )) as { status: string }[];
      expect(statuses.map((s) => s.status)).toEqual(expect.arrayContaining(['ok', 'error']));

      // The admin API's totals per dimension equal SUM over the records of the same period.
      const adminKey = (await fundedUser(t, 0n, { role: 'admin' } as never)).key;
      const from = new Date(Date.now() - 3 * 3600_000).toISOString();
      const to = new Date(Date.now() + 3600_000).toISOString();
      const columns = {
        user: 'user_id::text',
        key: 'key_id::text',
        model: 'model',
        host: 'host_id',
      } as const;
      for (const [group, column] of Object.entries(columns)) {
        const res = await fetch(
          `${t.url}/admin/usage?group_by=${group}&from=${from}&to=${to}&granularity=hour&format=json`,
          { headers: { Authorization: `Bearer ${adminKey}` } },
        );
        expect(res.status).toBe(200);
        const report = (await res.json()) as {
          totals: { group: string | null; requests: number; credits: string; input_tokens: number }[];
        };
        const expected = (await t.dataSource.query(
          `SELECT ${column} AS grp, count(*)::int AS requests, sum(credits)::text AS credits,
                  sum(input_tokens)::int AS input_tokens
             FROM usage_records WHERE created_at >= date_trunc('hour', $1::timestamptz) AND created_at < $2
            GROUP BY 1`,
          [from, to],
        )) as { grp: string | null; requests: number; credits: string; input_tokens: number }[];
        const sort = <T extends { grp?: string | null; group?: string | null }>(xs: T[]) =>
          [...xs].sort((a, b) => String(a.grp ?? a.group).localeCompare(String(b.grp ?? b.group)));
        expect(sort(report.totals).map((r) => [r.group, r.requests, r.credits, r.input_tokens])).toEqual(
          sort(expected).map((r) => [r.grp, r.requests, r.credits, r.input_tokens]),
        );
      }
    }, 120000);
  }

  it('follows UPDATE and DELETE of usage records, and exports CSV', async () => {
    const t = apps[0]!;
    const [userId] = (await t.dataSource.query(
      `SELECT user_id FROM usage_records GROUP BY user_id ORDER BY count(*) DESC LIMIT 1`,
    )) as { user_id: string }[];
    const users = [userId!.user_id];
    await t.dataSource.query(
      `UPDATE usage_records SET credits = credits + 7, model = CASE WHEN id % 2 = 0 THEN 'renamed' ELSE model END
        WHERE user_id = $1`,
      users,
    );
    // A row whose records moved away (renamed model) stays with zeros: compare the others.
    const nonEmpty = (rows: unknown[]) => rows.filter((r) => (r as { requests: string }).requests !== '0');
    let sides = await bothSides(t, users);
    expect(nonEmpty(sides.hourly)).toEqual(sides.records);
    await t.dataSource.query(`DELETE FROM usage_records WHERE user_id = $1 AND id % 3 = 0`, users);
    sides = await bothSides(t, users);
    expect(nonEmpty(sides.hourly)).toEqual(sides.records);

    const admin = await fundedUser(t, 0n, { role: 'admin' } as never);
    const csv = await fetch(`${t.url}/admin/usage?group_by=model&user_id=${users[0]}`, {
      headers: { Authorization: `Bearer ${admin.key}`, Accept: 'text/csv' },
    });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe(
      'bucket,group,label,requests,errors,aborted,input_tokens,output_tokens,credits,duration_ms',
    );
    expect(lines.length).toBeGreaterThan(1);
  });

  it('keeps users to their own data and admin routes to admins', async () => {
    const t = apps[0]!;
    const alice = await fundedUser(t, 1_000_000n, { rpm: 100, models: ['llama3.1'] });
    const bob = await fundedUser(t, 1_000_000n);
    const call = (key: string, path: string, method = 'GET', body?: unknown) =>
      fetch(`${t.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    for (const path of [
      '/admin/users',
      `/admin/users/${bob.userId}/ledger`,
      '/admin/usage',
      '/admin/queue',
      '/admin/hosts',
    ]) {
      expect((await call(alice.key, path)).status).toBe(403);
    }
    expect((await call(alice.key, `/admin/users/${bob.userId}/credits`, 'POST', { amount: 5 })).status).toBe(
      403,
    );

    await call(bob.key, '/v1/chat/completions', 'POST', {
      model: 'llama3.1',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4,
    });
    const mine = (await (await call(alice.key, '/api/v1/requests')).json()) as { data: unknown[] };
    expect(mine.data).toEqual([]);
    const bobs = (await (await call(bob.key, '/api/v1/requests')).json()) as { data: { model: string }[] };
    expect(bobs.data).toHaveLength(1);
    const usage = (await (await call(alice.key, `/api/v1/usage?user_id=${bob.userId}`)).json()) as {
      totals: unknown[];
    };
    expect(usage.totals).toEqual([]);
    expect(await (await call(alice.key, `/api/v1/keys/${bob.keyId}`, 'DELETE')).json()).toEqual({
      success: false,
      message: 'API key not found',
    });
    const keys = (await (await call(alice.key, '/api/v1/keys')).json()) as { data: { user_id: string }[] };
    expect(keys.data.every((k) => k.user_id === alice.userId)).toBe(true);

    // Self-service: never more than the signing key, never more than SELF_SERVICE_MAX_KEYS.
    const tooFast = await call(alice.key, '/api/v1/keys', 'POST', { rpm: 1000 });
    expect(tooFast.status).toBe(403);
    expect(((await tooFast.json()) as { message: string }).message).toMatch(/^rpm: at most 100/);
    expect((await call(alice.key, '/api/v1/keys', 'POST', { models: ['qwen2.5'] })).status).toBe(403);
    const child = await call(alice.key, '/api/v1/keys', 'POST', { name: 'ci' });
    expect(child.status).toBe(201);
    const created = (await child.json()) as { key: { key: string; rpm: number; models: string[] } };
    expect(created.key).toMatchObject({ rpm: 100, models: ['llama3.1'] });
    expect(created.key.key).toMatch(/^sk-le-/);
    for (let i = 0; i < 3; i++) expect((await call(alice.key, '/api/v1/keys', 'POST', {})).status).toBe(201);
    const over = await call(alice.key, '/api/v1/keys', 'POST', {});
    expect(over.status).toBe(403);
    expect(((await over.json()) as { message: string }).message).toMatch(/at most 5 live keys/);
    const me = (await (await call(alice.key, '/api/v1/me')).json()) as { role: string; credits: string };
    expect(me).toMatchObject({ role: 'user', credits: '1000000' });
  });
});
