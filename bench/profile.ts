import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './lib/children';
import { renderProfile, summariseProfile, type ProfileSummary, type ProfileWindow } from './lib/cpu-profile';
import { cannon, timeSequential, type Target } from './lib/load';
import type { BenchOptions } from './lib/options';
import { startFakeHost } from './lib/peers';
import { platformPeer, startPlatform, stopPlatform } from './lib/platform';
import { chatTarget } from './lib/requests';
import { CHUNKS } from './scenarios/throughput';

export interface ProfilePhase extends ProfileSummary {
  requests: number;
  rps: number;
}

export interface ProfileResult {
  file: string;
  /** Scenario 1's load (64 connections). */
  loaded: ProfilePhase;
  /** Scenario 3's pattern (one connection): the main thread is never kept off the CPU by the others. */
  sequential: ProfilePhase;
  /** Scenario 2's load (32 streaming connections). */
  streams: ProfilePhase;
  summary: string;
}

const now = () => Number(process.hrtime.bigint() / 1000n);

/** Runs `load` inside a profile window; returns the window and the requests answered. */
async function phase(load: () => Promise<number>): Promise<{ window: ProfileWindow; requests: number }> {
  const startUs = now();
  const requests = await load();
  return { window: { startUs, endUs: now() }, requests };
}

/**
 * The platform under `node --cpu-prof` (the profile is written at exit): scenario 1's load,
 * scenario 3's one connection, then scenario 2's streams; each phase summarised from its own window
 * of the same profile.
 */
export async function profilePlatform(
  options: BenchOptions,
  log: (l: string) => void,
): Promise<ProfileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'le-bench-prof-'));
  log(`profiling the platform under scenarios 1, 3 and 2 (profile in ${dir})`);
  const host = await startFakeHost('host-profile', CHUNKS, 0);
  try {
    const platform = await startPlatform({
      name: 'platform-profile',
      hostUrl: host.url,
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      env: options.platformEnv,
      pgSettings: options.pgSettings,
    });
    let loaded: Awaited<ReturnType<typeof phase>>;
    let sequential: Awaited<ReturnType<typeof phase>>;
    let streams: Awaited<ReturnType<typeof phase>>;
    try {
      const target: Target = chatTarget(platformPeer(platform), false, CHUNKS);
      await cannon(target, 64, options.warmupSeconds);
      loaded = await phase(async () => {
        const result = await cannon(target, 64, options.measureSeconds);
        return result.ok + result.failed;
      });
      sequential = await phase(async () => {
        const timing = await timeSequential(target, options.measureSeconds * 1000, 1_000_000);
        return timing.totalMs.length + timing.failed;
      });
      const streamTarget: Target = chatTarget(platformPeer(platform), true, CHUNKS);
      await cannon(streamTarget, 32, options.warmupSeconds);
      streams = await phase(async () => {
        const result = await cannon(streamTarget, 32, options.measureSeconds);
        return result.ok + result.failed;
      });
    } finally {
      await stopPlatform(platform);
    }
    const name = readdirSync(dir).find((entry) => entry.endsWith('.cpuprofile'));
    if (!name) throw new Error(`no .cpuprofile written in ${dir}`);
    const file = join(dir, name);
    const summarise = (p: typeof loaded): ProfilePhase => ({
      ...summariseProfile(file, 25, p.window),
      requests: p.requests,
      rps: p.requests / options.measureSeconds,
    });
    const result = {
      file,
      loaded: summarise(loaded),
      sequential: summarise(sequential),
      streams: summarise(streams),
    };
    const summary = [
      `Scenario 1's load, 64 connections (${Math.round(result.loaded.rps)} req/s while profiled):`,
      '',
      renderProfile(result.loaded, result.loaded.requests),
      '',
      `Scenario 3's pattern, one connection (${Math.round(result.sequential.rps)} req/s while profiled):`,
      '',
      renderProfile(result.sequential, result.sequential.requests),
      '',
      `Scenario 2's load, 32 streaming connections (${Math.round(result.streams.rps)} streams/s while profiled):`,
      '',
      renderProfile(result.streams, result.streams.requests),
    ].join('\n');
    return { ...result, summary };
  } finally {
    await stopChild(host.child);
  }
}
