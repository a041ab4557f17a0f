import { check, figuresOf, fromIssue, MB, withRatios, type Figures } from '../lib/figures';
import { cannon, timeSequential, type Target } from '../lib/load';
import type { BenchOptions } from '../lib/options';
import { alternate, type PeerSet } from '../lib/peer-set';
import type { Peer } from '../lib/peers';
import { DatabaseWindow, ProcessWindow } from '../lib/proc-stats';
import { chatTarget } from '../lib/requests';
import { percentile } from '../lib/stats';

export const CHUNKS = 20;

/** Warm-up, then `connections` closed-loop connections for the measured window. */
export async function loadFigures(
  peer: Peer,
  target: Target,
  connections: number,
  options: BenchOptions,
): Promise<Figures> {
  await cannon(target, connections, options.warmupSeconds);
  const database = await DatabaseWindow.open(peer);
  const window = new ProcessWindow(peer.pids);
  const result = await cannon(target, connections, options.measureSeconds);
  const usage = window.finish();
  if (result.ok === 0) throw new Error(`no successful response (${result.failed} failed)`);
  return {
    rps: result.rps,
    p50_ms: result.p50Ms,
    p99_ms: result.p99Ms,
    cpu_us_per_req: usage.cpuMicros / result.ok,
    ...database.finish(result.ok),
    peak_rss_mb: usage.peakRssBytes / MB,
    ok: result.ok,
    failed: result.failed,
  };
}

/** Scenario 1: non-stream chat at 64 connections. */
export async function nonStreamChat(set: PeerSet, options: BenchOptions, log: (l: string) => void) {
  const peers = await alternate(
    set,
    options.rounds,
    (peer) => loadFigures(peer, chatTarget(peer, false, CHUNKS), 64, options),
    log,
  );
  const result = withRatios({
    id: '1',
    title: 'non-stream chat, 64 connections',
    primary_metric: 'rps',
    peers,
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: [],
    notes: [],
  });
  const toPlain = result.ratio_platform_to_plain ?? undefined;
  result.targets = [
    ...fromIssue('8', [
      ...check('platform req/s', figuresOf(result, 'platform')?.rps, '>=', 3000),
      ...check('platform / plain req/s', toPlain, '>=', 0.25),
    ]),
    ...fromIssue('19', [
      ...check('platform / plain req/s', toPlain, '>=', 0.4),
      ...check('platform / Portkey req/s', result.ratio_platform_to_portkey ?? undefined, '>=', 3),
    ]),
  ];
  return result;
}

/**
 * Scenario 2: stream chat (20 chunks) at 32 connections. Time to first byte is sampled by one
 * extra connection during the load (every 10 ms), and again unloaded afterwards (one connection,
 * back to back): the unloaded figure is what the platform adds, the loaded one includes queueing.
 */
export async function streamChat(set: PeerSet, options: BenchOptions, log: (l: string) => void) {
  const peers = await alternate(
    set,
    options.rounds,
    async (peer) => {
      const target = chatTarget(peer, true, CHUNKS);
      const loadMs = (options.warmupSeconds + options.measureSeconds) * 1000;
      const sampler = timeSequential(target, loadMs, 100_000, 10);
      const [figures, loaded] = await Promise.all([loadFigures(peer, target, 32, options), sampler]);
      const unloaded = await timeSequential(target, options.ttfbSeconds * 1000, 100_000);
      return {
        ...figures,
        ttfb_loaded_p50_ms: percentile(loaded.firstByteMs, 50),
        ttfb_loaded_p99_ms: percentile(loaded.firstByteMs, 99),
        ttfb_p50_ms: percentile(unloaded.firstByteMs, 50),
        ttfb_p99_ms: percentile(unloaded.firstByteMs, 99),
      };
    },
    log,
  );
  const result = withRatios({
    id: '2',
    title: `stream chat (${CHUNKS} chunks), 32 connections`,
    primary_metric: 'rps',
    peers,
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: [],
    notes: [
      'ttfb_loaded_*: one extra connection sampling during the load (warm-up included); ttfb_*: unloaded, one connection, after the load.',
    ],
  });
  const platform = figuresOf(result, 'platform');
  const direct = figuresOf(result, 'direct');
  const toPlain = result.ratio_platform_to_plain ?? undefined;
  result.targets = [
    ...fromIssue('8', [
      ...check('platform / plain streams/s', toPlain, '>=', 0.5),
      ...check(
        'added TTFB p50 (platform - direct, unloaded)',
        platform && direct ? platform.ttfb_p50_ms - direct.ttfb_p50_ms : undefined,
        '<=',
        1,
        ' ms',
      ),
    ]),
    ...fromIssue('19', check('platform / plain streams/s', toPlain, '>=', 0.75)),
  ];
  return result;
}
