import { existsSync } from 'node:fs';
import { freePort, startNode, waitForHttp, type Child } from './children';

export type PeerName = 'direct' | 'plain' | 'platform' | 'portkey';
/** a, b, c, d: the order of the tables and of the measurements inside each round. */
export const PEER_NAMES: readonly PeerName[] = ['direct', 'plain', 'platform', 'portkey'];

/** Something the load generator talks to, and the processes whose CPU and memory it costs. */
export interface Peer {
  name: PeerName;
  baseUrl: string;
  /** The process(es) under test: the host itself for `direct`, the proxy, platform or gateway otherwise. */
  pids: number[];
  headers: Record<string, string>;
  /** Prometheus endpoint, when the peer has one (the platform). */
  metricsUrl?: string;
  /** The PostgreSQL backends serving it (the platform): their CPU is part of its cost. */
  databasePids?: () => Promise<number[]>;
}

export const MODEL = 'llama3.1';

/** The simulated GPU host (test/fakes), speaking the OpenAI protocol. */
export interface FakeHost {
  url: string;
  child: Child;
}

/** bench/host-process.ts (the test fake without its request log); BENCH_FAKE_HOST names another script with the same flags. */
export function fakeHostScript(): string {
  return process.env.BENCH_FAKE_HOST ?? 'dist/bench/host-process.js';
}

export async function startFakeHost(name: string, tokens: number, tokenDelayMs: number): Promise<FakeHost> {
  const script = fakeHostScript();
  if (!existsSync(script)) throw new Error(`fake host ${script} is not built (npm run build)`);
  const port = await freePort();
  const args = [script, '--kind', 'openai', '--port', String(port), '--models', MODEL];
  args.push('--tokens', String(tokens), '--token-delay-ms', String(tokenDelayMs));
  const child = startNode(name, args);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v1/models`, child, 15_000, (status) => status === 200);
  return { url, child };
}

export async function startPlainProxy(
  name: string,
  upstream: string,
): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const child = startNode(name, [
    'dist/bench/plain-proxy.js',
    '--port',
    String(port),
    '--upstream',
    upstream,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v1/models`, child, 15_000, (status) => status === 200);
  return { url, child };
}

export function directPeer(host: FakeHost): Peer {
  return { name: 'direct', baseUrl: host.url, pids: [host.child.pid], headers: {} };
}

export function plainPeer(proxy: { url: string; child: Child }): Peer {
  return { name: 'plain', baseUrl: proxy.url, pids: [proxy.child.pid], headers: {} };
}
