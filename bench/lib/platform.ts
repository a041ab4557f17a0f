import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client as PgClient } from 'pg';
import { request } from 'undici';
import { freePort, startNode, stopChild, waitForHttp, type Child } from './children';
import { MODEL, type Peer } from './peers';
import { sleep } from './stats';

const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_BASE_URL = PG_ADMIN_URL.slice(0, PG_ADMIN_URL.lastIndexOf('/') + 1);
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOST_MAX_CONCURRENCY = 10_000;
/** What-if runs of a changed build: BENCH_PLATFORM_MAIN names another main.js (cwd stays the repo). */
export const PLATFORM_MAIN = process.env.BENCH_PLATFORM_MAIN ?? 'dist/src/main.js';
/**
 * The node flags `npm start` runs the platform with (package.json), so the bench measures the same
 * process; what-if runs set others with BENCH_PLATFORM_NODE_FLAGS (space-separated, may be empty).
 */
export const PLATFORM_NODE_FLAGS =
  process.env.BENCH_PLATFORM_NODE_FLAGS === undefined
    ? startFlags()
    : process.env.BENCH_PLATFORM_NODE_FLAGS.split(/\s+/).filter((w) => w !== '');

function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  if (words[0] !== 'node') throw new Error(`package.json start does not run node: ${pkg.scripts.start}`);
  return words.slice(1).filter((w) => w.startsWith('--'));
}
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Databases and Redis prefixes made by this run, removed by `cleanupPlatformState`. */
const databases = new Set<string>();
export const redisPrefixes = new Set<string>();

function randomBase62(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

/** A key in the issued format (src/auth/api-key.format.ts): sk-le-<12 base62>-<43 base62>. */
export function makeAdminKey(): string {
  return `sk-le-${randomBase62(12)}-${randomBase62(43)}`;
}

async function withAdminDb<T>(fn: (pg: PgClient) => Promise<T>): Promise<T> {
  const pg = new PgClient({ connectionString: PG_ADMIN_URL });
  await pg.connect();
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}

/** A fresh database; `settings` become its defaults (ALTER DATABASE … SET), e.g. synchronous_commit. */
export async function createDatabase(settings: Record<string, string> = {}): Promise<string> {
  const name = `le_bench_${Date.now()}_${randomBase62(6).toLowerCase()}`;
  await withAdminDb(async (pg) => {
    await pg.query(`CREATE DATABASE ${name}`);
    for (const [setting, value] of Object.entries(settings)) {
      if (!/^[a-z_]+$/.test(setting) || !/^[A-Za-z0-9_.]+$/.test(value))
        throw new Error(`bad setting ${setting}=${value}`);
      await pg.query(`ALTER DATABASE ${name} SET ${setting} = '${value}'`);
    }
  });
  databases.add(name);
  return PG_BASE_URL + name;
}

/** Process ids of the PostgreSQL backends connected to `database` now. */
async function backendPids(database: string): Promise<number[]> {
  return withAdminDb(async (pg) => {
    const { rows } = await pg.query(`SELECT pid FROM pg_stat_activity WHERE datname = '${database}'`);
    return (rows as Array<{ pid: number }>).map((row) => row.pid);
  });
}

/** Drops this run's databases and deletes its Redis keys; call after the platform processes are gone. */
export async function cleanupPlatformState(): Promise<void> {
  if (databases.size > 0) {
    await withAdminDb(async (pg) => {
      for (const name of databases) await pg.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
    databases.clear();
  }
  if (redisPrefixes.size > 0) {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      for (const prefix of redisPrefixes) {
        let cursor = '0';
        for (let round = 0; round < 100_000; round++) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      }
    } finally {
      redis.disconnect();
    }
    redisPrefixes.clear();
  }
}

/** One platform deployment: its database, Redis prefix, admin key and the processes running it. */
export interface Platform {
  url: string;
  databaseName: string;
  api: Child;
  env: NodeJS.ProcessEnv;
  adminKey: string;
  userKey: string;
  workers: Child[];
}

export interface PlatformOptions {
  name: string;
  hostUrl: string;
  /** Extra node flags for the API process (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Extra environment for the platform's processes (overrides the bench's own settings). */
  env?: NodeJS.ProcessEnv;
  /** PostgreSQL settings for its database (what-if runs: synchronous_commit=off). */
  pgSettings?: Record<string, string>;
}

export async function adminCall(
  platform: { url: string; adminKey: string },
  method: 'GET' | 'POST' | 'PUT' | 'PATCH',
  path: string,
  body?: unknown,
) {
  const res = await request(platform.url + path, {
    method,
    headers: { authorization: `Bearer ${platform.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/**
 * Starts `node dist/src/main.js` (API role) on a fresh database with the fake host as its only
 * host, then a funded user with one key through the admin API, and waits until it is ready and
 * the host is healthy.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const databaseUrl = await createDatabase(options.pgSettings);
  const prefix = `le-bench-${randomBase62(8)}`;
  redisPrefixes.add(prefix);
  const adminKey = makeAdminKey();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    ADMIN_API_KEY: adminKey,
    HOSTS: `openai=${options.hostUrl}`,
    HOST_CHECK_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
    AUTH_CACHE_TTL_MS: '5000',
    ...options.env,
  };
  const api = startNode(options.name, [...PLATFORM_NODE_FLAGS, ...(options.nodeFlags ?? []), PLATFORM_MAIN], {
    ...env,
    PORT: String(port),
    APP_ROLE: 'api',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, api, 60_000, (status) => status === 200);
  const databaseName = databaseUrl.slice(databaseUrl.lastIndexOf('/') + 1);
  const platform: Platform = { url, databaseName, api, env, adminKey, userKey: '', workers: [] };
  platform.userKey = await fundedUserKey(platform);
  await waitForHttp(`${url}/health/ready`, api, 30_000, (status) => status === 200);
  await waitForHealthyHost(platform);
  return platform;
}

async function fundedUserKey(platform: Platform): Promise<string> {
  const user = (await adminCall(platform, 'POST', '/admin/users', {
    name: 'bench',
    email: 'bench@example.com',
  })) as {
    id: string;
  };
  const userId = String(user.id);
  const key = (await adminCall(platform, 'POST', `/admin/users/${userId}/keys`, { name: 'bench' })) as {
    key: string;
  };
  await adminCall(platform, 'POST', `/admin/users/${userId}/credits`, { amount: 1_000_000_000_000 });
  const rates = await adminCall(platform, 'GET', '/admin/rates').catch(() => ({}));
  if (!JSON.stringify(rates).includes(`"${MODEL}"`)) {
    await adminCall(platform, 'PUT', `/admin/rates/${MODEL}`, { input_rate: '0.01', output_rate: '0.02' });
  }
  return String(key.key);
}

/**
 * Waits for the bootstrapped host to be healthy, then lifts its max_concurrency (default 16): the
 * fake host has no limit, and scenarios 1 and 4 need 64 and 1,000 requests in flight.
 */
async function waitForHealthyHost(platform: Platform): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    const hosts = (await adminCall(platform, 'GET', '/admin/hosts')) as Array<{ id: string; status: string }>;
    last = JSON.stringify(hosts);
    const host = hosts.find((h) => h.status === 'healthy');
    if (host) {
      await adminCall(platform, 'PATCH', `/admin/hosts/${host.id}`, {
        max_concurrency: HOST_MAX_CONCURRENCY,
      });
      return;
    }
    await sleep(200);
  }
  throw new Error(`no healthy host after 20 s: ${last.slice(0, 300)}`);
}

/** A queue worker process (APP_ROLE=worker) of the same deployment. */
export async function startWorker(platform: Platform, concurrency: number): Promise<Child> {
  const port = await freePort();
  const worker = startNode(`${platform.api.name}-worker`, [...PLATFORM_NODE_FLAGS, PLATFORM_MAIN], {
    ...platform.env,
    PORT: String(port),
    APP_ROLE: 'worker',
    QUEUE_CONCURRENCY: String(concurrency),
  });
  platform.workers.push(worker);
  await waitForHttp(`http://127.0.0.1:${port}/health`, worker, 60_000, (status) => status === 200);
  return worker;
}

export async function stopPlatform(platform: Platform): Promise<void> {
  await Promise.all([...platform.workers, platform.api].map((child) => stopChild(child, 12_000)));
}

export function platformPeer(platform: Platform): Peer {
  return {
    name: 'platform',
    baseUrl: platform.url,
    pids: [platform.api.pid],
    headers: { authorization: `Bearer ${platform.userKey}` },
    metricsUrl: `${platform.url}/metrics`,
    databasePids: () => backendPids(platform.databaseName),
  };
}
