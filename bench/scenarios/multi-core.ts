import { combineRounds, type Figures, type ScenarioResult } from '../lib/figures';
import { round } from '../lib/stats';
import type { BenchOptions } from '../lib/options';
import type { Peer } from '../lib/peers';
import { chatTarget } from '../lib/requests';
import { CHUNKS, loadFigures } from './throughput';

/** One way of serving the API in scenario 7, under a row name of its own. */
export interface MultiCoreCase {
  name: string;
  peer: Peer;
}

/**
 * Scenario 7: scenario 1's load (non-stream chat, 64 connections) on the platform run as 1 and as
 * 2 API processes on one port (WEB_CONCURRENCY, node:cluster), the plain proxy beside them as the
 * box's reference; the cases alternate inside each round like the peers of scenario 1.
 */
export async function multiCore(
  cases: MultiCoreCase[],
  options: BenchOptions,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const rounds = new Map<string, Figures[]>();
  for (let round = 0; round < options.rounds; round++) {
    for (const { name, peer } of cases) {
      const figures = await loadFigures(peer, chatTarget(peer, false, CHUNKS), 64, options);
      rounds.set(name, [...(rounds.get(name) ?? []), figures]);
      log(
        `    ${name.padEnd(24)} round ${round + 1}: rps=${figures.rps?.toFixed(0)} cpu_us_per_req=${figures.cpu_us_per_req?.toFixed(0)}`,
      );
    }
  }
  const micro: Record<string, Figures> = {};
  for (const [name, measured] of rounds) micro[name] = combineRounds(measured);
  const one = micro[cases.find((c) => c.name.startsWith('platform, 1'))?.name ?? '']?.rps;
  const two = cases.find((c) => c.name.startsWith('platform, 2'));
  const twoFigures = two ? micro[two.name] : undefined;
  if (twoFigures && one) twoFigures.speedup_vs_1 = round(twoFigures.rps / one, 3);
  return {
    id: '7',
    title: 'multi-core: API processes on one port (non-stream chat, 64 connections)',
    primary_metric: 'rps',
    peers: {},
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: [],
    notes: [
      'WEB_CONCURRENCY=2: node:cluster, the primary accepts and hands connections to its 2 processes round-robin; CPU and RSS are the primary plus both processes.',
      'The 2 cores also run the load generator (autocannon, this process), the fake host, PostgreSQL and Redis: a second API process can only use what they leave.',
    ],
    micro,
  };
}
