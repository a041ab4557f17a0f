import { check, figuresOf, fromIssue, MB, withRatios } from '../lib/figures';
import { timeSequential } from '../lib/load';
import type { BenchOptions } from '../lib/options';
import { alternate, type PeerSet } from '../lib/peer-set';
import { DatabaseWindow, ProcessWindow } from '../lib/proc-stats';
import { chatTarget } from '../lib/requests';
import { percentile } from '../lib/stats';
import { CHUNKS } from './throughput';

/** Scenario 3: one connection, back to back, timed with hrtime; the added latency is c - a. */
export async function unloadedLatency(set: PeerSet, options: BenchOptions, log: (l: string) => void) {
  const peers = await alternate(
    set,
    options.rounds,
    async (peer) => {
      const target = chatTarget(peer, false, CHUNKS);
      await timeSequential(target, options.warmupSeconds * 1000, 100_000);
      const database = await DatabaseWindow.open(peer);
      const window = new ProcessWindow(peer.pids);
      const timing = await timeSequential(target, options.latencySeconds * 1000, 100_000);
      const usage = window.finish();
      const ok = timing.totalMs.length;
      if (ok === 0) throw new Error(`no successful response (${timing.failed} failed)`);
      return {
        rps: ok / options.latencySeconds,
        p50_ms: percentile(timing.totalMs, 50),
        p99_ms: percentile(timing.totalMs, 99),
        cpu_us_per_req: usage.cpuMicros / ok,
        ...database.finish(ok),
        peak_rss_mb: usage.peakRssBytes / MB,
        ok,
        failed: timing.failed,
      };
    },
    log,
  );
  const result = withRatios({
    id: '3',
    title: 'one connection, unloaded latency',
    primary_metric: 'p50_ms',
    peers,
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: [],
    notes: [],
  });
  const platform = figuresOf(result, 'platform');
  const direct = figuresOf(result, 'direct');
  for (const name of ['plain', 'platform', 'portkey'] as const) {
    const peer = figuresOf(result, name);
    if (!peer || !direct) continue;
    peer.added_p50_ms = peer.p50_ms - direct.p50_ms;
    peer.added_p99_ms = peer.p99_ms - direct.p99_ms;
  }
  result.targets = [
    ...fromIssue('8', [
      ...check('added latency p50 (platform - direct)', platform?.added_p50_ms, '<=', 1, ' ms'),
      ...check('added latency p99 (platform - direct)', platform?.added_p99_ms, '<=', 5, ' ms'),
    ]),
    ...fromIssue('19', [
      ...check('added latency p50 (platform - direct)', platform?.added_p50_ms, '<=', 0.3, ' ms'),
      ...check('added latency p99 (platform - direct)', platform?.added_p99_ms, '<=', 1.5, ' ms'),
    ]),
  ];
  return result;
}
