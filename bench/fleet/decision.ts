/**
 * The added cost of a routing decision on the hot path, in process: the old `pickHost` against
 * the new `HostRouter.choose` + `ClusterSlots.take` (a slot from this replica's block, no Redis
 * round trip) + release, over 8 and 256 hosts with a mix of states, loads, loaded models and
 * engine signals, 32 requests in flight. Each decision is timed with hrtime.
 */
import { ClusterSlots } from '../../src/hosts/cluster-slots';
import { pickHost } from '../../src/hosts/host-selection';
import type { HostState } from '../../src/hosts/host.types';
import type { AppConfig } from '../../src/config/app-config';
import type { RedisService } from '../../src/redis/redis.service';
import { HostRouter } from '../../src/hosts/routing-policy';
import { percentile } from '../lib/stats';

const MODEL = 'llama3.1';
const OTHER = ['qwen2.5', 'mistral', 'llava', 'phi3'];
const IN_FLIGHT = 32;

function fleet(n: number): HostState[] {
  const now = new Date();
  return Array.from({ length: n }, (_, i) => {
    const models = i % 4 === 3 ? OTHER.slice(0, 2) : [MODEL, ...OTHER.slice(i % 3, (i % 3) + 2)];
    const max = 8 + (i % 5) * 8;
    const host: HostState = {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: `gpu-${i}`,
      baseUrl: `http://10.0.${i >> 8}.${i & 255}:8000`,
      provider: i % 2 ? 'openai' : 'ollama',
      apiKey: null,
      enabled: i % 17 !== 5,
      draining: i % 29 === 7,
      weight: 1 + (i % 3),
      maxConcurrency: max,
      labels: {},
      models: i % 2 === 0 ? models : [],
      status: i % 11 === 4 ? 'unhealthy' : i % 13 === 6 ? 'cooldown' : 'healthy',
      consecutiveFailures: 0,
      cooldownUntil: i % 13 === 6 ? Date.now() + 60_000 : null,
      lastCheckAt: now,
      lastError: null,
      discovered: models.map((name, k) => ({ name, warm: k === 0 })),
      inFlight: i % 7,
      lastPickedAt: 0,
      createdAt: now,
      updatedAt: now,
      // This replica holds a block with spare slots; others run a few requests too.
      load: { held: max, others: i % 3, pending: 0, owed: 0, lastTakeAt: 0 },
      signals:
        i % 2
          ? {
              source: 'vllm-metrics',
              readAt: now.toISOString(),
              running: i % 5,
              waiting: i % 3,
              kvCacheUsage: 0.5,
            }
          : {
              source: 'ollama-ps',
              readAt: now.toISOString(),
              loaded: [{ name: models[0]!, expiresAt: null, sizeVram: null }],
            },
    };
    return host;
  });
}

export interface DecisionFigures {
  hosts: number;
  decisions: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
}

function summary(hosts: number, samples: Float64Array): DecisionFigures {
  const list = Array.from(samples);
  return {
    hosts,
    decisions: list.length,
    p50_us: percentile(list, 50),
    p99_us: percentile(list, 99),
    max_us: list.reduce((m, v) => (v > m ? v : m), 0),
  };
}

function timeOld(hosts: HostState[], decisions: number): DecisionFigures {
  const none = new Set<string>();
  const samples = new Float64Array(decisions);
  const running: Array<HostState | undefined> = new Array(IN_FLIGHT);
  for (let i = 0; i < decisions; i++) {
    const now = Date.now();
    const start = process.hrtime.bigint();
    const host = pickHost(hosts, MODEL, none, now);
    if (host) host.inFlight++;
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    const done = running[i % IN_FLIGHT];
    if (done) done.inFlight--;
    running[i % IN_FLIGHT] = host;
  }
  return summary(hosts.length, samples);
}

function timeNew(
  hosts: HostState[],
  decisions: number,
  policy: 'affinity' | 'least-loaded',
): DecisionFigures {
  const config = { hostSlotScope: 'cluster', hostSlotLeaseMs: 10_000 } as AppConfig;
  // A Redis client that answers at once: a give-back's promise chain is counted, not a round trip.
  const client = { defineCommand: () => undefined, hostSlotsRelease: () => Promise.resolve(0) };
  const redis = { prefix: 'bench', create: () => client } as unknown as RedisService;
  const slots = new ClusterSlots(config, redis);
  const router = new HostRouter(policy, slots);
  const none = new Set<string>();
  const samples = new Float64Array(decisions);
  const running: Array<HostState | undefined> = new Array(IN_FLIGHT);
  for (let i = 0; i < decisions; i++) {
    const now = Date.now();
    const affinity = i % 3 === 0 ? (i * 2654435761) >>> 0 : undefined;
    const start = process.hrtime.bigint();
    const host = router.choose(hosts, { model: MODEL, exclude: none, now, affinity });
    if (host) slots.take(host); // counts the request in host.inFlight
    const done = running[i % IN_FLIGHT];
    if (done) {
      done.inFlight--;
      slots.release(done);
      if (done.load) done.load.held = done.maxConcurrency; // keep the block full: no Redis here
    }
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    running[i % IN_FLIGHT] = host;
    if (host && affinity !== undefined) router.served(affinity, host.id, now);
  }
  return summary(hosts.length, samples);
}

export function routingDecisionCost(decisions: number): Record<string, DecisionFigures> {
  timeOld(fleet(256), decisions / 10);
  timeNew(fleet(256), decisions / 10, 'affinity');
  return {
    'pickHost (old), 8 hosts': timeOld(fleet(8), decisions),
    'pickHost (old), 256 hosts': timeOld(fleet(256), decisions),
    'affinity + slot, 8 hosts': timeNew(fleet(8), decisions, 'affinity'),
    'affinity + slot, 256 hosts': timeNew(fleet(256), decisions, 'affinity'),
    'least-loaded + slot, 256 hosts': timeNew(fleet(256), decisions, 'least-loaded'),
  };
}
