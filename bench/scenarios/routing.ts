import { pickHost } from '../../src/hosts/host-selection';
import type { HostState } from '../../src/hosts/host.types';
import { check, fromIssue, type Figures, type ScenarioResult } from '../lib/figures';
import type { BenchOptions } from '../lib/options';
import { percentile } from '../lib/stats';

const MODEL = 'llama3.1';
const OTHER_MODELS = ['qwen2.5', 'mistral', 'llava', 'phi3', 'gemma2'];

/** A registry of `n` hosts: a mix of states, loads, weights and models, like a real fleet. */
function fleet(n: number): HostState[] {
  const now = new Date();
  return Array.from({ length: n }, (_, i) => {
    const models =
      i % 4 === 3 ? OTHER_MODELS.slice(0, 2) : [MODEL, ...OTHER_MODELS.slice(i % 3, (i % 3) + 2)];
    return {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: `gpu-${i}`,
      baseUrl: `http://10.0.${i >> 8}.${i & 255}:8000`,
      provider: 'openai',
      apiKey: null,
      enabled: i % 17 !== 5,
      draining: i % 29 === 7,
      weight: 1 + (i % 3),
      maxConcurrency: 8 + (i % 5) * 8,
      labels: { gpu: i % 2 ? 'A100' : 'L4' },
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
    };
  });
}

/** Requests in flight across the fleet while deciding: each decision's host is released this many decisions later. */
const IN_FLIGHT = 32;

/**
 * Times `decisions` calls of the dispatcher's pure choice (`pickHost`), each with hrtime, while the
 * chosen hosts' in-flight counts rise and fall as under steady traffic.
 */
function timeDecisions(hosts: HostState[], decisions: number): Figures {
  const none = new Set<string>();
  const samples = new Float64Array(decisions);
  const running: Array<HostState | undefined> = new Array(IN_FLIGHT);
  let picked = 0;
  for (let i = 0; i < decisions; i++) {
    const now = Date.now();
    const start = process.hrtime.bigint();
    const host = pickHost(hosts, MODEL, none, now);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    const finished = running[i % IN_FLIGHT];
    if (finished) finished.inFlight--;
    running[i % IN_FLIGHT] = host;
    if (host) {
      picked++;
      host.inFlight++;
      host.lastPickedAt = now;
    }
  }
  const list = Array.from(samples);
  return {
    hosts: hosts.length,
    decisions,
    picked,
    mean_us: list.reduce((s, v) => s + v, 0) / decisions,
    p50_us: percentile(list, 50),
    p99_us: percentile(list, 99),
    max_us: list.reduce((m, v) => (v > m ? v : m), 0),
  };
}

/** Scenario 6: the dispatcher's host choice with 8 and 256 registered hosts, in process. */
export async function routingDecision(
  options: BenchOptions,
  log: (l: string) => void,
): Promise<ScenarioResult> {
  const decisions = options.quick ? 50_000 : 200_000;
  timeDecisions(fleet(256), decisions / 10); // warm-up: let V8 optimise pickHost
  const small = timeDecisions(fleet(8), decisions);
  const large = timeDecisions(fleet(256), decisions);
  log(`    8 hosts: ${JSON.stringify(small)}\n    256 hosts: ${JSON.stringify(large)}`);
  return {
    id: '6',
    title: 'routing decision (pickHost, src/hosts/host-selection.ts)',
    primary_metric: 'p99_us',
    peers: {},
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: fromIssue(
      '8',
      check('routing decision p99 at 256 hosts (µs)', large.p99_us, '<', 1000, ' µs (1 ms)'),
    ),
    notes: [
      `8 hosts: mean ${small.mean_us.toFixed(2)} µs, p50 ${small.p50_us.toFixed(2)} µs, p99 ${small.p99_us.toFixed(2)} µs, max ${small.max_us.toFixed(1)} µs`,
      `256 hosts: mean ${large.mean_us.toFixed(2)} µs, p50 ${large.p50_us.toFixed(2)} µs, p99 ${large.p99_us.toFixed(2)} µs, max ${large.max_us.toFixed(1)} µs`,
      'each decision timed with hrtime (≈0.05 µs of the figure is the clock itself); the fleet mixes unhealthy, cooldown, draining, disabled hosts and hosts without the model',
    ],
    micro: { '8 hosts': small, '256 hosts': large },
  };
}
