import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'undici';

/** One process the benchmark started: killed at the end whatever happens. */
export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** The last lines it wrote (stdout and stderr), to explain a failed start. */
  tail(): string;
}

const children = new Set<Child>();

/** Starts `node <args>` with its own environment; output is kept (not printed) for diagnostics. */
export function startNode(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start`);
  const lines: string[] = [];
  const keep = (data: Buffer) => {
    for (const line of data.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const child: Child = { name, pid: proc.pid, proc, tail: () => lines.join('\n') };
  children.add(child);
  proc.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** Last resort on a crash or Ctrl-C: no await possible, so straight to SIGKILL. */
export function killAllChildrenNow(): void {
  for (const child of children) child.proc.kill('SIGKILL');
  children.clear();
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until `accept(status, body)` holds; throws (with the child's output) after `timeoutMs`. */
export async function waitForHttp(
  url: string,
  child: Child,
  timeoutMs: number,
  accept: (status: number, body: string) => boolean = (status) => status < 500,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null)
      throw new Error(`${child.name} exited (${child.proc.exitCode}):\n${child.tail()}`);
    try {
      const res = await request(url, { headers, headersTimeout: 2000, bodyTimeout: 2000 });
      const body = await res.body.text();
      if (accept(res.statusCode, body)) return;
      last = `${res.statusCode} ${body.slice(0, 300)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${child.name}: ${url} not ready after ${timeoutMs} ms (${last})\n${child.tail()}`);
}
