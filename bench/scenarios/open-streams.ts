import { Pool } from 'undici';
import { check, figuresOf, fromIssue, MB, withRatios, type Figures } from '../lib/figures';
import type { BenchOptions } from '../lib/options';
import { alternate, type PeerSet } from '../lib/peer-set';
import type { Peer } from '../lib/peers';
import { ProcessWindow, rssBytes } from '../lib/proc-stats';
import { chatTarget } from '../lib/requests';
import { sleep, waitAtMost } from '../lib/stats';

/** Reads `le_<name>` from a Prometheus text page. */
function promValue(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

/**
 * Opens `n` slow streams at once (one connection each), waits until all have their first chunk,
 * holds them for the hold window while measuring, then lets them finish (bounded).
 */
async function holdStreams(peer: Peer, options: BenchOptions): Promise<Figures> {
  const n = options.openStreams;
  const target = chatTarget(peer, true, options.slowTokens);
  const streamMs = options.slowTokens * options.slowTokenDelayMs;
  const pool = new Pool(peer.baseUrl, {
    connections: n,
    pipelining: 1,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const headers = { 'content-type': 'application/json', ...target.headers };
  let opened = 0;
  let open = 0;
  let maxOpen = 0;
  let done = 0;
  let failed = 0;
  const rssBeforeMb = peer.pids.reduce((sum, pid) => sum + rssBytes(pid), 0) / MB;
  const window = new ProcessWindow(peer.pids);
  const started = Date.now();
  const one = async () => {
    let counted = false;
    try {
      const res = await pool.request({ method: 'POST', path: target.path, headers, body: target.body });
      if (res.statusCode >= 300) {
        await res.body.dump();
        failed++;
        return;
      }
      for await (const chunk of res.body) {
        if (!counted && (chunk as Buffer).length > 0) {
          counted = true;
          opened++;
          maxOpen = Math.max(maxOpen, ++open);
        }
      }
      done++;
    } catch {
      failed++;
    } finally {
      if (counted) open--;
    }
  };
  const all = Promise.all(Array.from({ length: n }, one));
  const openDeadline = started + streamMs;
  while (opened + failed < n && Date.now() < openDeadline) await sleep(20);
  const openMs = Date.now() - started;
  if (peer.metricsUrl) await scrape(peer.metricsUrl); // resets prom-client's event-loop histogram
  await sleep(options.holdSeconds * 1000);
  const metrics = peer.metricsUrl ? await scrape(peer.metricsUrl) : '';
  const openDuringHold = open;
  await waitAtMost(all, streamMs + 10_000);
  await pool.destroy();
  const usage = window.finish();
  if (opened === 0) throw new Error(`no stream opened (${failed} failed)`);
  const figures: Figures = {
    streams: n,
    max_open: maxOpen,
    open_at_hold_end: openDuringHold,
    open_all_ms: openMs,
    completed: done,
    failed,
    rss_before_mb: rssBeforeMb,
    peak_rss_mb: usage.peakRssBytes / MB,
    rss_per_stream_kb: ((usage.peakRssBytes / MB - rssBeforeMb) * 1024) / n,
    cpu_us_per_stream: usage.cpuMicros / n,
  };
  const lag = promValue(metrics, 'le_nodejs_eventloop_lag_p99_seconds');
  if (lag !== undefined) figures.evloop_p99_ms = lag * 1000;
  const lagMax = promValue(metrics, 'le_nodejs_eventloop_lag_max_seconds');
  if (lagMax !== undefined) figures.evloop_max_ms = lagMax * 1000;
  const heapUsed = promValue(metrics, 'le_nodejs_heap_size_used_bytes');
  if (heapUsed !== undefined) figures.heap_used_mb = heapUsed / MB;
  return figures;
}

/** Scenario 4: many concurrent open streams at a slow token rate: memory and event-loop delay. */
export async function openStreams(set: PeerSet, options: BenchOptions, log: (l: string) => void) {
  const peers = await alternate(set, 1, (peer) => holdStreams(peer, options), log);
  const result = withRatios({
    id: '4',
    title: `${options.openStreams} concurrent open streams (${options.slowTokens} tokens, ${options.slowTokenDelayMs} ms apart)`,
    primary_metric: 'peak_rss_mb',
    peers,
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: [],
    notes: [
      'evloop_* from the platform /metrics (prom-client, histogram reset at the start of the hold window); peak RSS sampled from /proc every 100 ms.',
    ],
  });
  const platform = figuresOf(result, 'platform');
  result.targets = [
    ...fromIssue('8', [
      ...check('platform peak RSS', platform?.peak_rss_mb, '<=', 300, ' MB'),
      ...check('platform event-loop delay p99', platform?.evloop_p99_ms, '<=', 20, ' ms'),
    ]),
    ...fromIssue('19', check('platform peak RSS', platform?.peak_rss_mb, '<=', 160, ' MB')),
  ];
  if (options.openStreams < 1000)
    result.notes.push(`--quick: ${options.openStreams} streams, not 1,000; targets are for 1,000.`);
  return result;
}
