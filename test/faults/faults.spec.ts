import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { base62, formatKey } from '../../src/auth/api-key.format';
import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { AppProcess, OwnPostgres, OwnRedis, waitUntil } from './cluster';

/**
 * Faults as an operator meets them, on a PostgreSQL cluster and a redis-server of this suite's
 * own (so it may stop them): two API processes (one fail-open, one fail-closed on Redis) and a
 * worker. Every case asserts status codes and the money invariants; recovery times are printed,
 * not asserted beyond generous bounds.
 */
const ADMIN = formatKey(base62(randomBytes(8), 12), base62(randomBytes(32), 43));
const measured: Record<string, number> = {};

let db: OwnPostgres;
let redis: OwnRedis;
let host: FakeHost;
let slowHost: FakeHost;
let badHost: { server: Server; url: string };
let open: AppProcess;
let closed: AppProcess;
let worker: AppProcess;

/** One query on a connection of its own (the database may have been restarted since the last). */
const sql = {
  async query(text: string, values: unknown[] = []): Promise<{ rows: unknown[] }> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return await client.query(text, values);
    } finally {
      await client.end();
    }
  },
};

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'le-faults',
    ADMIN_API_KEY: ADMIN,
    HOST_CHECK_INTERVAL_MS: '500',
    HOST_FIRST_BYTE_TIMEOUT_MS: '1500',
    RESERVATION_TIMEOUT_MS: '3000',
    RESERVATION_SWEEP_INTERVAL_MS: '500',
    BILLING_SYNCHRONOUS_COMMIT: 'true',
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    QUEUE_LOCK_DURATION_MS: '2000',
    QUEUE_STALLED_INTERVAL_MS: '500',
    QUEUE_MAINTENANCE_INTERVAL_MS: '500',
    HOST_SLOT_LEASE_MS: '2000',
    ...extra,
  };
}

async function admin(
  app: AppProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${ADMIN}`,
      'Content-Type': 'application/json',
      'Idempotency-Key': `${path}-${Math.random()}`,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function fundedUser(
  credits: number,
  key: Record<string, unknown> = {},
): Promise<{ id: string; key: string }> {
  const user = await admin(open, 'POST', '/admin/users', { name: `u-${Math.random()}` });
  await admin(open, 'POST', `/admin/users/${String(user.id)}/credits`, { amount: credits });
  const created = await admin(open, 'POST', `/admin/users/${String(user.id)}/keys`, key);
  return { id: String(user.id), key: String(created.key) };
}

/** balance = Σ ledger, no overdraft, and (once idle leases went back and the sweeps ran) no lease or open hold left. */
async function booksBalanced(userId: string): Promise<{ balance: bigint; ledger: bigint }> {
  let r: { balance: string; leased: string; ledger: string; held: number } | undefined;
  await waitUntil(
    async () => {
      const rows = await sql.query(
        `SELECT a.credits::text AS balance, a.leased::text AS leased,
                (SELECT COALESCE(SUM(amount), 0)::text FROM credit_ledger WHERE user_id = $1) AS ledger,
                (SELECT count(*)::int FROM reservations WHERE user_id = $1 AND status = 'open') AS held
           FROM accounts a WHERE a.user_id = $1`,
        [userId],
      );
      r = rows.rows[0] as typeof r;
      return r !== undefined && r.leased === '0' && r.held === 0;
    },
    20_000,
    'leases back and holds closed',
  ).catch(() => undefined);
  expect(BigInt(r!.balance)).toBe(BigInt(r!.ledger));
  expect(BigInt(r!.balance)).toBeGreaterThanOrEqual(0n);
  expect({ leased: r!.leased, held: r!.held }).toEqual({ leased: '0', held: 0 });
  return { balance: BigInt(r!.balance), ledger: BigInt(r!.ledger) };
}

const chat = (app: AppProcess, key: string, extra: Record<string, unknown> = {}) =>
  fetch(`${app.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: 'llama3.1',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hello' }],
      ...extra,
    }),
  });

/** One request on every surface: each must answer in its own error shape. */
const SURFACES: {
  name: string;
  call: (app: AppProcess, key: string) => Promise<Response>;
  shape: (b: unknown) => boolean;
}[] = [
  {
    name: 'native',
    call: (app, key) =>
      fetch(`${app.url}/api/v1/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: key },
        body: JSON.stringify({
          model: 'llama3.1',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    shape: (b) =>
      (b as { success?: boolean }).success === false &&
      typeof (b as { message?: unknown }).message === 'string',
  },
  {
    name: 'openai',
    call: (app, key) => chat(app, key),
    shape: (b) => (b as { error?: { code?: string } }).error?.code === 'service_unavailable',
  },
  {
    name: 'serverless',
    call: (app, key) =>
      fetch(`${app.url}/api/v1/ai/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'llama3.1',
          maxTokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    shape: (b) => (b as { error?: { code?: string } }).error?.code === 'service_unavailable',
  },
  {
    name: 'llmapi',
    call: (app, key) =>
      fetch(`${app.url}/text_model/chat/completion`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      }),
    shape: (b) => typeof (b as { detail?: unknown }).detail === 'string',
  },
  {
    name: 'anthropic',
    call: (app, key) =>
      fetch(`${app.url}/v1/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({
          model: 'llama3.1',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    shape: (b) => (b as { type?: string }).type === 'error',
  },
  {
    name: 'ollama',
    call: (app, key) =>
      fetch(`${app.url}/api/chat`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'llama3.1',
          stream: false,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    shape: (b) => Object.keys(b as object).join() === 'error',
  },
];

let hung = 0;

/**
 * A host that answers its health checks but misbehaves: test-failover requests are accepted and
 * never answered; test-bad-json and test-endless streams send two chunks, then invalid JSON or an
 * endless line.
 */
async function startBadHost(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const data = [
          { id: 'test-bad-json' },
          { id: 'test-endless' },
          { id: 'test-failover' },
          { id: 'test-slow-task' },
        ];
        res.end(JSON.stringify({ object: 'list', data }));
        return;
      }
      const model = (JSON.parse(body || '{}') as { model?: string }).model;
      hung += model === 'test-failover' ? 1 : 0;
      // Accepts the request and never answers (a wedged GPU server).
      if (model === 'test-failover') return;
      // A non-streamed answer that takes 1 s, under the first-byte timeout (a task to kill a worker in).
      if (model === 'test-slow-task') {
        const usage = { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 };
        const message = { role: 'assistant', content: 'done in time' };
        const answer = {
          id: 'x',
          object: 'chat.completion',
          created: 1,
          model,
          usage,
          choices: [{ index: 0, message, finish_reason: 'stop' }],
        };
        const timer = setTimeout(() => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(answer));
        }, 1000);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      const chunk = (text: string) =>
        `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
      res.write(chunk('one ') + chunk('two '));
      // The bad part comes in a later read, after the client has the first two chunks.
      setTimeout(() => misbehave(res, model), 200);
    });
  });
  const misbehave = (res: import('node:http').ServerResponse, model: string | undefined) => {
    if (model === 'test-bad-json') {
      res.end('data: {"choices": [this is not json\n\n');
      return;
    }
    // An endless line: 1 MiB pieces without a newline until the client goes away.
    const piece = 'data: ' + 'x'.repeat(1024 * 1024);
    const pump = () => {
      while (!res.destroyed && res.write(piece));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  [db, redis] = await Promise.all([OwnPostgres.start(), OwnRedis.start()]);
  host = await startFakeOllama({ models: ['llama3.1', 'llava'] });
  slowHost = await startFakeOpenAI({
    models: ['test-slow'],
    tokens: 200,
    tokenDelayMs: 50,
    reportUsage: false,
  });
  badHost = await startBadHost();
  const hosts = `ollama=${host.url},openai=${slowHost.url},openai=${badHost.url}`;
  // Started one after the other: the first runs the migrations.
  open = await AppProcess.start(env({ HOSTS: hosts, TEXT_MODEL: 'llama3.1' }));
  [closed, worker] = await Promise.all([
    AppProcess.start(env({ HOSTS: hosts, RATE_LIMIT_FAIL_OPEN: 'false', TEXT_MODEL: 'llama3.1' })),
    AppProcess.start(env({ HOSTS: hosts }), 'worker'),
  ]);
  for (const model of ['test-slow', 'test-failover', 'test-bad-json', 'test-endless', 'test-slow-task']) {
    await admin(open, 'PUT', `/admin/rates/${model}`, { input_rate: '0.01', output_rate: '0.02' });
  }
}, 180_000);

afterAll(async () => {
  await Promise.all([open?.kill(), closed?.kill(), worker?.kill()]);
  await redis?.down();
  db?.destroy();
  await Promise.all([host?.close(), slowHost?.close()]);
  badHost?.server.close();
  console.log(`fault suite, measured: ${JSON.stringify(measured)}`);
}, 60_000);

describe('PostgreSQL down', () => {
  it('every surface answers 503 with Retry-After in its own shape; readiness follows; nothing moves; recovery is automatic', async () => {
    const user = await fundedUser(10_000_000);
    expect((await chat(open, user.key)).status).toBe(200);
    const before = await booksBalanced(user.id);
    const seen = host.requests.length;
    db.down();
    try {
      const unready = await waitUntil(
        async () => (await fetch(`${open.url}/health/ready`)).status === 503,
        15_000,
        'unready',
      );
      measured.pgUnreadyMs = unready;
      for (const surface of SURFACES) {
        const res = await surface.call(open, user.key);
        const body = (await res.json()) as unknown;
        expect([surface.name, res.status]).toEqual([surface.name, 503]);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect([surface.name, surface.shape(body)]).toEqual([surface.name, true]);
      }
      // A new key (not in the auth cache) is refused the same way, not with a 500.
      const stranger = await fetch(`${open.url}/api/v1/account`, {
        headers: { Authorization: formatKey(base62(randomBytes(8), 12), base62(randomBytes(32), 43)) },
      });
      expect(stranger.status).toBe(503);
    } finally {
      db.up();
    }
    measured.pgRecoveryMs = await waitUntil(
      async () => (await chat(open, user.key)).status === 200,
      30_000,
      'recovery',
    );
    await waitUntil(
      async () => (await fetch(`${open.url}/health/ready`)).status === 200,
      15_000,
      'ready again',
    );
    // No request of the outage reached a host (dispatch comes after the reserve).
    expect(host.requests.filter((r) => r.path === '/api/chat').length).toBeLessThanOrEqual(seen + 1);
    const after = await booksBalanced(user.id);
    expect(after.balance).toBeLessThan(before.balance);
  }, 90_000);
});

describe('Redis down', () => {
  it('fail-open serves limited keys without limits, fail-closed answers 503; submits are refused and undone; readiness follows', async () => {
    const user = await fundedUser(10_000_000, { rpm: 100, tpm: 100_000 });
    const unlimited = await fundedUser(10_000_000);
    expect((await chat(open, user.key)).status).toBe(200);
    expect((await chat(closed, user.key)).status).toBe(200);
    await redis.down();
    try {
      measured.redisUnreadyMs = await waitUntil(
        async () => (await fetch(`${open.url}/health/ready`)).status === 503,
        15_000,
        'unready',
      );
      const started = Date.now();
      expect((await chat(open, user.key)).status).toBe(200);
      expect((await chat(open, unlimited.key)).status).toBe(200);
      measured.failOpenAnswerMs = Date.now() - started;
      const refused = await chat(closed, user.key);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await refused.json()) as unknown).toMatchObject({ error: { code: 'service_unavailable' } });
      expect((await chat(closed, unlimited.key)).status).toBe(200);

      const balance = (await booksBalanced(unlimited.id)).balance;
      const submit = await fetch(`${open.url}/api/v1/qcompletions`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: unlimited.key,
          'Idempotency-Key': 'during-outage',
        },
        body: JSON.stringify({
          model: 'llama3.1',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'queued' }],
        }),
      });
      expect(submit.status).toBe(503);
      expect(((await submit.json()) as { success: boolean }).success).toBe(false);
      await waitUntil(
        async () => (await booksBalanced(unlimited.id)).balance === balance,
        10_000,
        'hold refunded',
      );
    } finally {
      await redis.up();
    }
    measured.redisRecoveryMs = await waitUntil(
      async () => (await fetch(`${open.url}/health/ready`)).status === 200,
      30_000,
      'ready again',
    );
    // The retried submit (same Idempotency-Key) is a new task that runs.
    const retried = await fetch(`${open.url}/api/v1/qcompletions`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: unlimited.key,
        'Idempotency-Key': 'during-outage',
      },
      body: JSON.stringify({
        model: 'llama3.1',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'queued' }],
      }),
    });
    expect(retried.status).toBe(200);
    const { task_id } = (await retried.json()) as { task_id: string };
    await waitUntil(
      async () =>
        (
          (await (
            await fetch(`${open.url}/api/v1/qcompletions/${task_id}`, {
              headers: { Authorization: unlimited.key },
            })
          ).json()) as {
            status: string;
          }
        ).status === 'completed',
      30_000,
      'task completed',
    );
    await booksBalanced(unlimited.id);
    await booksBalanced(user.id);
  }, 90_000);
});

describe('processes killed with work in flight', () => {
  it('SIGKILL of an API process with open streams: every credit accounted after the sweep', async () => {
    const victim = await AppProcess.start(env({ HOSTS: `openai=${slowHost.url}` }));
    const user = await fundedUser(10_000_000);
    const streams = Array.from({ length: 5 }, () =>
      fetch(`${victim.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
        body: JSON.stringify({
          model: 'test-slow',
          stream: true,
          max_tokens: 300,
          messages: [{ role: 'user', content: 'long' }],
        }),
      }).then(async (res) => {
        const reader = res.body!.getReader();
        await reader.read();
        return reader;
      }),
    );
    await Promise.all(streams);
    await victim.kill('SIGKILL');
    // The crashed process's lease expires (RESERVATION_TIMEOUT_MS 3 s) and the sweep ends it.
    measured.sweptAfterKillMs = await waitUntil(
      async () => {
        const r = await sql.query(`SELECT leased::text AS leased FROM accounts WHERE user_id = $1`, [
          user.id,
        ]);
        return (r.rows[0] as { leased: string }).leased === '0';
      },
      30_000,
      'lease swept',
    );
    await booksBalanced(user.id);
  }, 90_000);

  it('SIGKILL of the worker with tasks in flight: every task finishes once and is charged once', async () => {
    const user = await fundedUser(10_000_000);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${open.url}/api/v1/qcompletions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: user.key },
        body: JSON.stringify({
          model: 'test-slow-task',
          max_tokens: 40,
          messages: [{ role: 'user', content: `task ${i}` }],
        }),
      });
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { task_id: string }).task_id);
    }
    await waitUntil(
      async () => {
        const r = await sql.query(
          `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND status = 'processing'`,
          [ids],
        );
        return (r.rows[0] as { n: number }).n > 0;
      },
      20_000,
      'a task processing',
    ).catch(async (error: Error) => {
      const r = await sql.query(`SELECT status, error FROM tasks WHERE id = ANY($1)`, [ids]);
      throw new Error(`${error.message}: ${JSON.stringify(r.rows)}\n${worker.log.slice(-3000)}`);
    });
    await worker.kill('SIGKILL');
    worker = await AppProcess.start(
      env({ HOSTS: `ollama=${host.url},openai=${slowHost.url},openai=${badHost.url}` }),
      'worker',
    );
    measured.tasksAfterWorkerKillMs = await waitUntil(
      async () => {
        const r = await sql.query(
          `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND status = 'completed'`,
          [ids],
        );
        return (r.rows[0] as { n: number }).n === ids.length;
      },
      60_000,
      'tasks completed',
    ).catch(async (error: Error) => {
      const r = await sql.query(`SELECT status, error, attempts FROM tasks WHERE id = ANY($1)`, [ids]);
      throw new Error(`${error.message}: ${JSON.stringify(r.rows)}\n${worker.log.slice(-3000)}`);
    });
    const usage = await sql.query(
      `SELECT request_id::text AS id, count(*)::int AS n, SUM(credits)::text AS credits FROM usage_records
        WHERE request_id = ANY($1) AND credits > 0 GROUP BY request_id`,
      [ids],
    );
    expect((usage.rows as { n: number }[]).map((r) => r.n)).toEqual(ids.map(() => 1));
    const settles = await sql.query(
      `SELECT count(*)::int AS n FROM credit_ledger WHERE request_id = ANY($1) AND kind = 'settle'`,
      [ids],
    );
    expect((settles.rows[0] as { n: number }).n).toBe(ids.length);
    await booksBalanced(user.id);
  }, 120_000);
});

describe('hosts that misbehave', () => {
  it('a host that hangs after accepting is left after the first-byte timeout, and another host answers', async () => {
    const backup = await startFakeOpenAI({ models: ['test-failover'] });
    try {
      // Weight 0: among equally loaded hosts the wedged one is chosen first (ROUTING_POLICY breaks
      // ties by weight), so a request must wait out its first-byte timeout and fail over.
      await admin(open, 'POST', '/admin/hosts', {
        name: 'backup',
        base_url: backup.url,
        provider: 'openai',
        weight: 0,
      });
      await waitUntil(
        async () => {
          const hosts = (await (
            await fetch(`${open.url}/admin/hosts`, { headers: { Authorization: `Bearer ${ADMIN}` } })
          ).json()) as {
            name: string;
            status: string;
          }[];
          return hosts.some((h) => h.name === 'backup' && h.status === 'healthy');
        },
        15_000,
        'backup healthy',
      );
      // The worker SIGKILLed above held slots of the wedged host (counted across replicas in
      // Redis): they come back once its lease (HOST_SLOT_LEASE_MS) lapses.
      await waitUntil(
        async () => {
          const hosts = (await (
            await fetch(`${open.url}/admin/hosts`, { headers: { Authorization: `Bearer ${ADMIN}` } })
          ).json()) as { cluster_in_flight: number }[];
          return hosts.every((h) => h.cluster_in_flight === 0);
        },
        15_000,
        'slots of the killed worker back',
      );
      const user = await fundedUser(10_000_000);
      const started = Date.now();
      const wedged = hung;
      for (let i = 0; i < 3; i++)
        expect((await chat(open, user.key, { model: 'test-failover' })).status).toBe(200);
      measured.failoverMs = Date.now() - started;
      // At least one request went to the wedged host first and waited out the first-byte timeout
      // (1.5 s) before the backup answered it; every answer came from the backup.
      expect(hung).toBeGreaterThan(wedged);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(backup.requests.filter((r) => r.path === '/v1/chat/completions').length).toBe(3);
      await booksBalanced(user.id);
    } finally {
      await backup.close();
    }
  }, 60_000);

  it('invalid JSON mid-stream and an endless line end cleanly, bounded in memory, billed for what was delivered', async () => {
    const user = await fundedUser(10_000_000);
    const stream = async (model: string) => {
      const res = await chat(open, user.key, { model, stream: true, max_tokens: 50 });
      return { status: res.status, text: await res.text() };
    };
    const bad = await stream('test-bad-json');
    const hosts = await (
      await fetch(`${open.url}/admin/hosts`, { headers: { Authorization: `Bearer ${ADMIN}` } })
    ).text();
    expect([bad.status, bad.text.slice(0, 300), hosts.length > 0]).toEqual([200, expect.any(String), true]);
    expect(bad.text).toContain('"content":"one "');
    expect(bad.text).toContain('"error"');
    const rssBefore = await rss(open);
    const endless = await stream('test-endless');
    expect(endless.status).toBe(200);
    expect(endless.text).toContain('"error"');
    const rssAfter = await rss(open);
    measured.endlessLineRssGrowthMb = Math.round((rssAfter - rssBefore) / 1e6);
    // The line is cut at 8 MiB of characters: far from the gigabytes an endless line would take.
    expect(rssAfter - rssBefore).toBeLessThan(400e6);
    await waitUntil(
      async () => {
        const r = await sql.query(`SELECT count(*)::int AS n FROM usage_records WHERE user_id = $1`, [
          user.id,
        ]);
        return (r.rows[0] as { n: number }).n === 2;
      },
      10_000,
      'usage recorded',
    );
    const usage = await sql.query(
      `SELECT output_tokens, credits::text AS credits, status FROM usage_records WHERE user_id = $1`,
      [user.id],
    );
    for (const row of usage.rows as { output_tokens: number; credits: string; status: string }[]) {
      expect(row.status).toBe('error');
      expect(row.output_tokens).toBe(2);
      expect(BigInt(row.credits)).toBe(BigInt('hello'.length * 100 + 2 * 200));
    }
    await booksBalanced(user.id);
  }, 60_000);
});

async function rss(app: AppProcess): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('le_process_resident_memory_bytes'));
  return Number(line?.split(' ')[1] ?? 0);
}
