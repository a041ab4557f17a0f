/**
 * `npm run bench [-- --quick] [-- --only 1,3] [-- --profile]`: what the platform costs in front of
 * GPU hosts, side by side with the host itself and a plain Node proxy (bench/README.md).
 */
import { killAllChildrenNow, stopAllChildren, stopChild } from './lib/children';
import { childPids } from './lib/proc-stats';
import type { ScenarioResult } from './lib/figures';
import { readOptions, type BenchOptions } from './lib/options';
import type { PeerSet } from './lib/peer-set';
import { directPeer, plainPeer, startFakeHost, startPlainProxy, type Peer, type PeerName } from './lib/peers';
import { portkeyPeer, tryPortkey } from './lib/portkey';
import {
  cleanupPlatformState,
  platformPeer,
  startPlatform,
  startWorker,
  stopPlatform,
  type Platform,
} from './lib/platform';
import {
  describeMachine,
  loadAverage,
  renderMachine,
  renderTable,
  updateReadme,
  writeJson,
  type BenchReport,
} from './lib/report';
import { chatTarget } from './lib/requests';
import { waitAtMost } from './lib/stats';
import { profilePlatform } from './profile';
import { multiCore } from './scenarios/multi-core';
import { openStreams } from './scenarios/open-streams';
import { queuedCompletions } from './scenarios/queue';
import { routingDecision } from './scenarios/routing';
import { CHUNKS, nonStreamChat, streamChat } from './scenarios/throughput';
import { unloadedLatency } from './scenarios/latency';

/** Scenario 5: one worker process with the default QUEUE_CONCURRENCY. */
const WORKER_CONCURRENCY = 4;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A platform that starts but cannot serve a chat completion yet counts as unavailable. */
async function tryPlatform(
  name: string,
  hostUrl: string,
  options: BenchOptions,
): Promise<{ platform?: Platform; reason?: string }> {
  let platform: Platform | undefined;
  try {
    platform = await startPlatform({
      name,
      hostUrl,
      env: options.platformEnv,
      pgSettings: options.pgSettings,
    });
    const target = chatTarget(platformPeer(platform), false, CHUNKS);
    const res = await fetch(target.baseUrl + target.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: target.body,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST ${target.path}: ${res.status} ${text.slice(0, 200)}`);
    return { platform };
  } catch (error) {
    if (platform) await stopPlatform(platform);
    const reason = (error as Error).message.split('\n')[0] ?? 'failed';
    log(`  platform unavailable: ${(error as Error).message.slice(0, 2000)}`);
    return { reason };
  }
}

/** The four peers in front of one fake host configuration. */
async function withPeers(
  options: BenchOptions,
  label: string,
  tokens: number,
  tokenDelayMs: number,
  body: (set: PeerSet, platform: Platform | undefined) => Promise<void>,
): Promise<void> {
  log(`starting peers (${label}: ${tokens} tokens, ${tokenDelayMs} ms apart)`);
  const host = await startFakeHost(`host-${label}`, tokens, tokenDelayMs);
  const proxy = await startPlainProxy(`plain-${label}`, host.url);
  const { platform, reason } = await tryPlatform(`platform-${label}`, host.url, options);
  const portkey = await tryPortkey(`portkey-${label}`, host.url, log);
  const peers: Peer[] = [directPeer(host), plainPeer(proxy)];
  if (platform) peers.push(platformPeer(platform));
  if (portkey.gateway) peers.push(portkeyPeer(portkey.gateway));
  const unavailable: Partial<Record<PeerName, string>> = {};
  if (reason) unavailable.platform = reason;
  if (portkey.reason) unavailable.portkey = portkey.reason;
  try {
    await body({ peers, unavailable }, platform);
  } finally {
    if (platform) await stopPlatform(platform);
    if (portkey.gateway) await stopChild(portkey.gateway.child);
    await stopChild(proxy.child);
    await stopChild(host.child);
  }
}

async function scenario(
  results: ScenarioResult[],
  id: string,
  title: string,
  options: BenchOptions,
  run: () => Promise<ScenarioResult>,
): Promise<void> {
  if (options.only && !options.only.has(id)) return;
  log(`scenario ${id}: ${title}`);
  try {
    results.push(await run());
  } catch (error) {
    log(`  scenario ${id} failed: ${(error as Error).stack ?? String(error)}`);
    results.push({
      id,
      title,
      primary_metric: '',
      peers: {},
      ratio_platform_to_plain: null,
      ratio_platform_to_direct: null,
      targets: [],
      notes: [`failed: ${(error as Error).message.split('\n')[0]}`],
    });
  }
}

async function runAll(options: BenchOptions, report: BenchReport): Promise<void> {
  const results = report.scenarios;
  const wants = (...ids: string[]) => !options.only || ids.some((id) => options.only?.has(id));
  if (wants('1', '2', '3', '5')) {
    await withPeers(options, 'fast', CHUNKS, 0, async (set, platform) => {
      await scenario(results, '1', 'non-stream chat', options, () => nonStreamChat(set, options, log));
      await scenario(results, '2', 'stream chat', options, () => streamChat(set, options, log));
      await scenario(results, '3', 'unloaded latency', options, () => unloadedLatency(set, options, log));
      await scenario(results, '5', 'queued completions', options, () =>
        queuedCompletions(
          set.peers.find((p) => p.name === 'platform'),
          async () => ({
            pid: (await startWorker(platform as Platform, WORKER_CONCURRENCY)).pid,
            concurrency: WORKER_CONCURRENCY,
          }),
          options,
          log,
        ),
      );
    });
  }
  if (wants('4')) {
    await withPeers(options, 'slow', options.slowTokens, options.slowTokenDelayMs, (set) =>
      scenario(results, '4', 'open streams', options, () => openStreams(set, options, log)),
    );
  }
  await scenario(results, '6', 'routing decision', options, () => routingDecision(options, log));
  if (wants('7')) await scenario(results, '7', 'multi-core', options, () => multiCoreRun(options));
}

/** Scenario 7: the plain proxy, then the platform as 1 and as 2 API processes, on one fast host. */
async function multiCoreRun(options: BenchOptions): Promise<ScenarioResult> {
  log('starting peers (multi-core: 20 tokens, 0 ms apart)');
  const host = await startFakeHost('host-multi', CHUNKS, 0);
  const started: Platform[] = [];
  const proxy = await startPlainProxy('plain-multi', host.url);
  try {
    const cases = [{ name: 'plain proxy, 1 process', peer: plainPeer(proxy) }];
    for (const processes of [1, 2]) {
      const platform = await startPlatform({
        name: `platform-x${processes}`,
        hostUrl: host.url,
        env: { ...options.platformEnv, WEB_CONCURRENCY: String(processes) },
        pgSettings: options.pgSettings,
      });
      started.push(platform);
      const peer = platformPeer(platform);
      peer.pids = [platform.api.pid, ...childPids(platform.api.pid)];
      if (peer.pids.length !== processes + (processes > 1 ? 1 : 0))
        throw new Error(`WEB_CONCURRENCY=${processes}: pids ${peer.pids.join(', ')}`);
      cases.push({ name: `platform, ${processes} process${processes > 1 ? 'es' : ''}`, peer });
    }
    return await multiCore(cases, options, log);
  } finally {
    for (const platform of started) await stopPlatform(platform);
    await stopChild(proxy.child);
    await stopChild(host.child);
  }
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  const limitMs = (options.quick ? 4 : 15) * 60_000;
  // Interrupted or over time: children die at once; databases and Redis keys get 5 s to go.
  const abandon = (code: number, why: string) => {
    log(`bench: ${why}, stopping`);
    killAllChildrenNow();
    void waitAtMost(
      cleanupPlatformState().catch(() => undefined),
      5000,
    ).finally(() => process.exit(code));
  };
  const watchdog = setTimeout(() => abandon(2, `over ${limitMs / 60_000} minutes`), limitMs);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abandon(130, signal));
  process.once('exit', killAllChildrenNow);

  const report: BenchReport = {
    started_at: new Date().toISOString(),
    finished_at: '',
    mode: options.quick ? 'quick' : 'full',
    machine: describeMachine(),
    load_average_at_end: [],
    what_if: {
      platform_env: options.platformEnv,
      pg_settings: options.pgSettings,
      ...(process.env.BENCH_PLATFORM_MAIN ? { platform_main: process.env.BENCH_PLATFORM_MAIN } : {}),
      ...(process.env.BENCH_PLATFORM_NODE_FLAGS !== undefined
        ? { platform_node_flags: process.env.BENCH_PLATFORM_NODE_FLAGS }
        : {}),
    },
    scenarios: [],
  };
  let failure: unknown;
  try {
    await runAll(options, report);
    if (options.profile) report.profile = await profilePlatform(options, log);
  } catch (error) {
    failure = error;
    log(`bench failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    await stopAllChildren();
    await cleanupPlatformState().catch((error: unknown) =>
      log(`cleanup failed: ${(error as Error).message}`),
    );
  }
  report.finished_at = new Date().toISOString();
  report.load_average_at_end = loadAverage();
  process.stdout.write(`\n${renderMachine(report)}\n\n${renderTable(report)}\n`);
  if (report.profile) process.stdout.write(`\n${report.profile.summary}\n`);
  log(`\nresults: ${writeJson(report)}`);
  if (options.updateReadme && !options.only && updateReadme(report)) log('bench/README.md updated');
  clearTimeout(watchdog);
  process.exitCode = failure ? 1 : 0;
}

void main();
