import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';

export interface Spawned {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  err(): string;
  exit: Promise<[number | null, string | null]>;
}

/** Runs a built entry point (`npm test` builds first) as a real process with only `env` (+ PATH, HOME). */
export function spawnBuilt(script: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    child,
    out: () => stdout,
    err: () => stderr,
    exit: once(child, 'exit') as Promise<[number | null, string | null]>,
  };
}

/** Polls `url` until it answers `status` (default any 2xx). */
export async function waitForStatus(url: string, ms: number, status?: number): Promise<Response> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url);
      if (status === undefined ? res.ok : res.status === status) return res;
      await res.body?.cancel();
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`${url} did not answer ${status ?? '2xx'} in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}
