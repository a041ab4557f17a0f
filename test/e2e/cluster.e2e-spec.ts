import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Client } from 'undici';
import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';

/** The built app (`npm test` builds first) as a real process. */
const run = (env: Record<string, string>) => spawnBuilt('dist/src/main.js', [], env);

/** Process ids whose parent is `ppid` (/proc/<pid>/stat, field 4). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** For each established TCP connection whose local port is `port`: the pid holding its socket. */
function ownersOfConnections(port: number, pids: number[]): number[] {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is cols[1] (ADDR:PORT), st is cols[3] (01 = ESTABLISHED), inode is cols[9].
      if (cols.length > 9 && cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '01')
        inodes.add(cols[9] as string);
    }
  }
  const owners: number[] = [];
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) owners.push(pid);
    }
  }
  return owners;
}

describe('WEB_CONCURRENCY: several API processes on one port', () => {
  it('runs two processes that both serve connections on the same port, and stops both on SIGTERM', async () => {
    const port = randomPort();
    const p = run({
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_PREFIX: `le-test-cluster-${port}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      APP_ROLE: 'api',
      WEB_CONCURRENCY: '2',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: '0',
    });
    const clients: Client[] = [];
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health`, 45000);
      // Both must be listening: the primary only hands connections to processes that are.
      let workers: number[] = [];
      for (let i = 0; i < 100 && workers.length < 2; i++) {
        workers = childrenOf(p.child.pid as number);
        if (workers.length < 2) await new Promise((r) => setTimeout(r, 200));
      }
      expect(workers).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 1000));
      // Eight kept-alive connections, each with one answered request, then: who holds each socket?
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const client = new Client(`http://127.0.0.1:${port}`, { keepAliveTimeout: 30_000 });
        clients.push(client);
        const res = await client.request({ method: 'GET', path: '/health' });
        await res.body.text();
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual(Array(8).fill(200));
      // Eight, or one more: waitForStatus's fetch may still keep its connection.
      const owners = ownersOfConnections(port, workers);
      expect(owners.length).toBeGreaterThanOrEqual(8);
      for (const worker of workers) expect(owners.filter((pid) => pid === worker).length).toBeGreaterThan(0);
      await Promise.all(clients.splice(0).map((c) => c.close()));

      p.child.kill('SIGTERM');
      const [code] = await p.exit;
      expect(code).toBe(0);
      expect(childrenOf(p.child.pid as number)).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.destroy()));
      if (p.child.exitCode === null) {
        for (const pid of childrenOf(p.child.pid as number)) process.kill(pid, 'SIGKILL');
        p.child.kill('SIGKILL');
      }
    }
  });

  it('refuses several processes on the embedded database with one clear line', async () => {
    const p = run({ WEB_CONCURRENCY: '2', APP_ROLE: 'api', PORT: '0', DATABASE_URL: '', REDIS_URL: '' });
    const [code] = await p.exit;
    expect(code).toBe(1);
    expect(p.err().trim()).toBe(
      'LlmEndpoint did not start. Invalid configuration: WEB_CONCURRENCY: several processes need DATABASE_URL and REDIS_URL (the embedded database and Redis live inside one process)',
    );
  });

  it('refuses several processes for the queue worker role', async () => {
    const p = run({
      WEB_CONCURRENCY: '3',
      APP_ROLE: 'worker',
      PORT: '0',
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    const [code] = await p.exit;
    expect(code).toBe(1);
    expect(p.err().trim()).toBe(
      'LlmEndpoint did not start. Invalid configuration: WEB_CONCURRENCY: several processes serve APP_ROLE=api or all, not worker',
    );
  });
});
