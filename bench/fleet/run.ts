/**
 * `npm run bench:fleet [-- --hosts 12 --users 64 --seconds 30]`: the fleet scenario of issue 17.
 * Simulated GPU hosts (bench/fleet/engine-host.ts, one process each), 2 API replicas of the
 * platform on one database and Redis, multi-turn conversations over several models; one run per
 * routing policy (random, round-robin, least-in-flight per process = the old behaviour, and the
 * new affinity policy with cluster-wide slots), each on reset hosts. Figures: TTFT p50/p99 as the
 * client sees it, throughput, host overload events, and the prefix-cache hit share of prompt tokens.
 * Results on stdout and in bench/results/fleet-<time>.json; bench/README.md is written by hand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';
import {
  freePort,
  killAllChildrenNow,
  startNode,
  stopAllChildren,
  stopChild,
  waitForHttp,
  type Child,
} from '../lib/children';
import {
  adminCall,
  cleanupPlatformState,
  createDatabase,
  makeAdminKey,
  PLATFORM_MAIN,
  PLATFORM_NODE_FLAGS,
  REDIS_URL,
  redisPrefixes,
} from '../lib/platform';
import { percentile, round, sleep } from '../lib/stats';
import { routingDecisionCost } from './decision';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '12' },
    users: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    slots: { type: 'string', default: '4' },
    policies: { type: 'string', default: 'random,round-robin,least-loaded,affinity' },
    decisions: { type: 'string', default: '100000' },
    'decisions-only': { type: 'boolean', default: false },
  },
});
const HOSTS = Number(values.hosts);
const USERS = Number(values.users);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const SLOTS = Number(values.slots);
const MODELS = ['fleet-a', 'fleet-b', 'fleet-c', 'fleet-d'];
/** Share of conversations per model: a popular one and a tail. */
const MODEL_WEIGHTS = [0.4, 0.3, 0.2, 0.1];
const TURNS = 4;
const OUTPUT_TOKENS = 24;
const THINK_MS = 300;

interface PolicyRun {
  name: string;
  env: Record<string, string>;
}
const POLICIES: Record<string, PolicyRun> = {
  random: { name: 'random', env: { ROUTING_POLICY: 'random', HOST_SLOT_SCOPE: 'process' } },
  'round-robin': { name: 'round-robin', env: { ROUTING_POLICY: 'round-robin', HOST_SLOT_SCOPE: 'process' } },
  'least-loaded': {
    name: 'least-in-flight per process (old)',
    env: { ROUTING_POLICY: 'least-loaded', HOST_SLOT_SCOPE: 'process' },
  },
  affinity: {
    name: 'affinity + cluster slots (new)',
    env: { ROUTING_POLICY: 'affinity', HOST_SLOT_SCOPE: 'cluster' },
  },
  // Ablations (not in the default run): one part of the new behaviour without the other.
  'least-loaded-cluster': {
    name: 'least-loaded + cluster slots',
    env: { ROUTING_POLICY: 'least-loaded', HOST_SLOT_SCOPE: 'cluster' },
  },
  'affinity-process': {
    name: 'affinity, slots per process',
    env: { ROUTING_POLICY: 'affinity', HOST_SLOT_SCOPE: 'process' },
  },
};

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Sample {
  at: number;
  ttftMs: number | null;
  ok: boolean;
  status: number;
}

/** A deterministic pseudo-random stream, so every policy sees the same conversations. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

function words(random: () => number, count: number): string {
  return Array.from({ length: count }, () => `w${Math.floor(random() * 5000)}`).join(' ');
}

const SYSTEM = MODELS.map((m, i) => `You are assistant ${m}. ${words(rng(100 + i), 220)}`);

/** One user: conversations of TURNS turns, each turn replaying the whole history. */
async function user(
  id: number,
  replicas: { pool: Pool; url: string }[],
  key: string,
  until: number,
  samples: Sample[],
): Promise<void> {
  const random = rng(id * 7919 + 1);
  while (Date.now() < until) {
    const pickModel = random();
    let acc = 0;
    const model = MODELS[MODEL_WEIGHTS.findIndex((w) => (acc += w) >= pickModel)] ?? MODELS[0]!;
    const messages: { role: string; content: string }[] = [
      { role: 'system', content: SYSTEM[MODELS.indexOf(model)]! },
      { role: 'user', content: words(random, 90) },
    ];
    for (let turn = 0; turn < TURNS && Date.now() < until; turn++) {
      const replica = replicas[Math.floor(random() * replicas.length)]!;
      const sample: Sample = { at: Date.now(), ttftMs: null, ok: false, status: 0 };
      const started = performance.now();
      let text = '';
      try {
        const res = await replica.pool.request({
          path: '/v1/chat/completions',
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages, max_tokens: OUTPUT_TOKENS, stream: true }),
        });
        sample.status = res.statusCode;
        let buffer = '';
        for await (const part of res.body) {
          buffer += (part as Buffer).toString('utf8');
          if (sample.ttftMs === null && /"content":"[^"]/.test(buffer))
            sample.ttftMs = performance.now() - started;
        }
        if (res.statusCode === 200) {
          for (const m of buffer.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g))
            text += JSON.parse(`"${m[1]}"`) as string;
          sample.ok = true;
        }
      } catch {
        sample.ok = false;
      }
      samples.push(sample);
      if (!sample.ok) break;
      messages.push({ role: 'assistant', content: text }, { role: 'user', content: words(random, 40) });
      await sleep(THINK_MS * (0.5 + random()));
    }
  }
}

interface EngineStats {
  requests: number;
  overloads: number;
  peak: number;
  loads: number;
  promptTokens: number;
  cachedPromptTokens: number;
}

async function get<T>(url: string): Promise<T> {
  const res = await request(url);
  return (await res.body.json()) as T;
}

async function main(): Promise<void> {
  const decisions = routingDecisionCost(Number(values.decisions));
  log('routing decision cost (µs):');
  for (const [name, f] of Object.entries(decisions))
    log(`  ${name}: p50 ${round(f.p50_us, 2)}, p99 ${round(f.p99_us, 2)}, max ${round(f.max_us, 1)}`);
  if (values['decisions-only']) return;

  log(`starting ${HOSTS} simulated GPU hosts (${SLOTS} slots, 2 of ${MODELS.length} models loaded at most)`);
  const engines: { url: string; child: Child }[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const port = await freePort();
    const child = startNode(`engine-${i}`, [
      'dist/bench/fleet/engine-host.js',
      '--port',
      String(port),
      '--models',
      MODELS.join(','),
      '--slots',
      String(SLOTS),
      '--max-concurrency',
      String(SLOTS),
    ]);
    engines.push({ url: `http://127.0.0.1:${port}`, child });
  }
  for (const e of engines) await waitForHttp(`${e.url}/api/version`, e.child, 15_000, (s) => s === 200);

  const databaseUrl = await createDatabase();
  const adminKey = makeAdminKey();
  let userKey = '';
  const results: Record<string, unknown>[] = [];
  for (const policy of values.policies.split(',').map((p) => POLICIES[p])) {
    if (!policy) throw new Error(`--policies: one of ${Object.keys(POLICIES).join(', ')}`);
    const prefix = `le-bench-fleet-${Math.random().toString(36).slice(2, 10)}`;
    redisPrefixes.add(prefix);
    const env = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      ADMIN_API_KEY: adminKey,
      HOSTS: '',
      HOST_CHECK_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
      APP_ROLE: 'api',
      ...policy.env,
    };
    const replicas: { url: string; child: Child; pool: Pool }[] = [];
    for (let r = 0; r < 2; r++) {
      const port = await freePort();
      const child = startNode(`api-${r}`, [...PLATFORM_NODE_FLAGS, PLATFORM_MAIN], {
        ...env,
        PORT: String(port),
      });
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/health`, child, 60_000, (s) => s === 200);
      replicas.push({ url, child, pool: new Pool(url, { connections: USERS }) });
      if (r === 0 && userKey === '') userKey = await setUp({ url, adminKey }, engines);
    }
    for (const r of replicas)
      await waitForHttp(
        `${r.url}/admin/hosts`,
        r.child,
        30_000,
        (s, body) => s === 200 && healthy(body) === HOSTS,
        {
          authorization: `Bearer ${adminKey}`,
        },
      );
    await Promise.all(
      engines.map((e) => request(`${e.url}/reset`, { method: 'POST' }).then((r) => r.body.text())),
    );
    // The hosts' /api/ps now lists nothing loaded: let every replica's health loop see that.
    await sleep(1500);

    log(`${policy.name}: ${USERS} users, ${WARMUP} s warm-up + ${SECONDS} s`);
    const samples: Sample[] = [];
    const start = Date.now();
    const measureFrom = start + WARMUP * 1000;
    const until = measureFrom + SECONDS * 1000;
    let before: EngineStats[] = [];
    const beforeRead = sleep(WARMUP * 1000).then(async () => {
      before = await Promise.all(engines.map((e) => get<EngineStats>(`${e.url}/stats`)));
    });
    await Promise.all(Array.from({ length: USERS }, (_, i) => user(i, replicas, userKey, until, samples)));
    await beforeRead;
    const after = await Promise.all(engines.map((e) => get<EngineStats>(`${e.url}/stats`)));
    const measured = samples.filter((s) => s.at >= measureFrom && s.at < until);
    const ttft = measured.filter((s) => s.ok && s.ttftMs !== null).map((s) => s.ttftMs!);
    const sum = (pick: (s: EngineStats) => number) =>
      after.reduce((n, s, i) => n + pick(s) - (before[i] ? pick(before[i]) : 0), 0);
    const figures = {
      policy: policy.name,
      requests: measured.length,
      ok: measured.filter((s) => s.ok).length,
      errors: measured.filter((s) => !s.ok).length,
      error_statuses: [...new Set(measured.filter((s) => !s.ok).map((s) => s.status))],
      throughput_rps: round(measured.filter((s) => s.ok).length / SECONDS, 1),
      ttft_p50_ms: round(percentile(ttft, 50), 0),
      ttft_p90_ms: round(percentile(ttft, 90), 0),
      ttft_p99_ms: round(percentile(ttft, 99), 0),
      overload_events: sum((s) => s.overloads),
      peak_in_flight_on_a_host: Math.max(...after.map((s) => s.peak)),
      model_loads: sum((s) => s.loads),
      replicas_that_lost_redis: replicas.filter((r) =>
        r.child.tail().includes('Redis unreachable for host slots'),
      ).length,
      prompt_tokens_cached_pct: round(
        (100 * sum((s) => s.cachedPromptTokens)) /
          Math.max(
            1,
            sum((s) => s.promptTokens),
          ),
        1,
      ),
    };
    log(`  ${JSON.stringify(figures)}`);
    results.push(figures);
    for (const r of replicas) await r.pool.close();
    await Promise.all(replicas.map((r) => stopChild(r.child, 8000)));
  }

  const table = [
    '| policy | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | req/s | errors | overload events | peak on a host | model loads | prompt tokens cached |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${String(r.policy)} | ${String(r.ttft_p50_ms)} | ${String(r.ttft_p90_ms)} | ${String(r.ttft_p99_ms)} | ${String(r.throughput_rps)} | ${String(r.errors)} | ${String(r.overload_events)} | ${String(r.peak_in_flight_on_a_host)} | ${String(r.model_loads)} | ${String(r.prompt_tokens_cached_pct)} % |`,
    ),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      {
        hosts: HOSTS,
        slots: SLOTS,
        users: USERS,
        seconds: SECONDS,
        models: MODELS,
        turns: TURNS,
        decisions,
        results,
      },
      null,
      2,
    ),
  );
  log(`results in ${file}`);
}

function healthy(body: string): number {
  try {
    return (JSON.parse(body) as { status: string }[]).filter((h) => h.status === 'healthy').length;
  } catch {
    return 0;
  }
}

/** Rates for the models, the hosts (max_concurrency = their slots), a funded user and its key. */
async function setUp(
  platform: { url: string; adminKey: string },
  engines: { url: string }[],
): Promise<string> {
  for (const model of MODELS)
    await adminCall(platform, 'PUT', `/admin/rates/${model}`, {
      input_rate: '0.0001',
      output_rate: '0.0002',
    });
  for (const [i, e] of engines.entries())
    await adminCall(platform, 'POST', '/admin/hosts', {
      name: `gpu-${i}`,
      base_url: e.url,
      provider: 'ollama',
      max_concurrency: SLOTS,
    });
  const user = (await adminCall(platform, 'POST', '/admin/users', { name: 'fleet' })) as { id: string };
  const key = (await adminCall(platform, 'POST', `/admin/users/${user.id}/keys`, { name: 'fleet' })) as {
    key: string;
  };
  await adminCall(platform, 'POST', `/admin/users/${user.id}/credits`, { amount: 1_000_000_000_000 });
  return key.key;
}

const watchdog = setTimeout(() => {
  log('fleet bench: watchdog (10 min), stopping');
  killAllChildrenNow();
  process.exit(1);
}, 10 * 60_000);
process.once('SIGINT', () => {
  killAllChildrenNow();
  process.exit(130);
});
main()
  .catch((error: unknown) => {
    log(`fleet bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAllChildren();
    await cleanupPlatformState().catch(() => undefined);
    clearTimeout(watchdog);
  });
