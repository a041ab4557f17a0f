import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './lib/children';
import { renderProfile, summariseProfile, type ProfileSummary } from './lib/cpu-profile';
import { cannon } from './lib/load';
import type { BenchOptions } from './lib/options';
import { startFakeHost } from './lib/peers';
import { platformPeer, startPlatform, stopPlatform } from './lib/platform';
import { chatTarget } from './lib/requests';
import { CHUNKS } from './scenarios/throughput';

export interface ProfileResult extends ProfileSummary {
  file: string;
  rps_while_profiling: number;
  requests: number;
  summary: string;
}

/** The platform under scenario 1's load with `node --cpu-prof`; the profile is written at exit. */
export async function profilePlatform(
  options: BenchOptions,
  log: (l: string) => void,
): Promise<ProfileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'le-bench-prof-'));
  log(`profiling the platform under scenario 1 (profile in ${dir})`);
  const host = await startFakeHost('host-profile', CHUNKS, 0);
  try {
    const platform = await startPlatform({
      name: 'platform-profile',
      hostUrl: host.url,
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    });
    let rps = 0;
    let requests = 0;
    const window = { startUs: 0, endUs: 0 };
    try {
      const target = chatTarget(platformPeer(platform), false, CHUNKS);
      await cannon(target, 64, options.warmupSeconds);
      window.startUs = Number(process.hrtime.bigint() / 1000n);
      const result = await cannon(target, 64, options.measureSeconds);
      rps = result.rps;
      requests = result.ok + result.failed;
      window.endUs = Number(process.hrtime.bigint() / 1000n);
    } finally {
      await stopPlatform(platform);
    }
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const summary = summariseProfile(join(dir, file), 25, window);
    return {
      ...summary,
      file: join(dir, file),
      rps_while_profiling: rps,
      requests,
      summary: renderProfile(summary, requests),
    };
  } finally {
    await stopChild(host.child);
  }
}
