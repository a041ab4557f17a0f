import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { freePort, startNode, stopChild, waitForHttp, type Child } from './children';
import type { Peer } from './peers';
import { chatTarget } from './requests';

/**
 * Peer (d): Portkey's gateway (`@portkey-ai/gateway`, pinned in bench/peers/portkey/package.json),
 * installed into its own folder so the app's dependencies do not grow.
 */
export const PORTKEY_DIR = 'bench/peers/portkey';
const SERVER = `${PORTKEY_DIR}/node_modules/@portkey-ai/gateway/build/start-server.js`;
/** Binds the gateway to loopback: its start-server.js listens on every interface and has no flag for it. */
const LOOPBACK_PRELOAD = resolve('dist/bench/portkey-loopback.js');

/**
 * `npm ci` of the bench-only folder when its node_modules is missing. Scripts stay off: the
 * package's postinstall is patch-package, and the published package ships no patches/ folder, so
 * it would have nothing to apply (bench/README.md).
 */
export async function ensurePortkeyInstalled(log: (line: string) => void): Promise<void> {
  if (existsSync(SERVER)) return;
  log(`installing Portkey's gateway into ${PORTKEY_DIR} (npm ci --ignore-scripts)`);
  await promisify(execFile)(
    'npm',
    ['ci', '--prefix', PORTKEY_DIR, '--ignore-scripts', '--no-audit', '--no-fund'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  if (!existsSync(SERVER)) throw new Error(`npm ci --prefix ${PORTKEY_DIR} did not install ${SERVER}`);
}

/**
 * How the load generator addresses Portkey: its OpenAI provider with the fake host as custom host
 * (the default TRUSTED_CUSTOM_HOSTS include 127.0.0.1). The key is a placeholder the fake ignores.
 */
function portkeyHeaders(hostUrl: string): Record<string, string> {
  return {
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `${hostUrl}/v1`,
    authorization: 'Bearer sk-bench-portkey',
  };
}

export interface PortkeyGateway {
  url: string;
  child: Child;
  headers: Record<string, string>;
}

/**
 * `node start-server.js --port=<port> --headless` with NODE_ENV=production: its production setup,
 * without the log-streaming middleware of its local UI. It reads the port only as `--port=<n>`
 * (`--port <n>` is ignored and it listens on 8787).
 */
export async function startPortkey(name: string, hostUrl: string): Promise<PortkeyGateway> {
  const port = await freePort();
  const child = startNode(name, ['--require', LOOPBACK_PRELOAD, SERVER, `--port=${port}`, '--headless'], {
    NODE_ENV: 'production',
  });
  const url = `http://127.0.0.1:${port}`;
  const headers = portkeyHeaders(hostUrl);
  // GET /v1/models is forwarded to the custom host: a 200 means Portkey reaches the fake host.
  await waitForHttp(`${url}/v1/models`, child, 30_000, (status) => status === 200, headers);
  return { url, child, headers };
}

export function portkeyPeer(gateway: PortkeyGateway): Peer {
  return { name: 'portkey', baseUrl: gateway.url, pids: [gateway.child.pid], headers: gateway.headers };
}

/** What the fake host answers for one request: `tok0 tok1 …` (test/fakes). */
function expectedText(tokens: number): string {
  return Array.from({ length: tokens }, (_, i) => `tok${i} `).join('');
}

/** Tokens of the check requests: few, so the check is quick also with scenario 4's slow host. */
const CHECK_TOKENS = 3;

/**
 * One non-stream and one SSE request through the peer, checked against what the fake host sends:
 * the full text in the answer, every content chunk and `[DONE]` in the stream. Throws otherwise.
 */
export async function verifyForwarding(peer: Peer, tokens = CHECK_TOKENS): Promise<void> {
  const want = expectedText(tokens);
  for (const stream of [false, true]) {
    const target = chatTarget(peer, stream, tokens);
    const res = await request(target.baseUrl + target.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: target.body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    const what = `${peer.name} ${stream ? 'stream' : 'non-stream'}`;
    if (res.statusCode !== 200) throw new Error(`${what}: ${res.statusCode} ${text.slice(0, 300)}`);
    const got = stream ? streamedText(text) : nonStreamText(text);
    if (got !== want)
      throw new Error(`${what}: got ${JSON.stringify(got.slice(0, 200))}, want the host's text`);
    if (stream && !/^data: \[DONE\]$/m.test(text)) throw new Error(`${what}: no data: [DONE]`);
  }
}

function nonStreamText(body: string): string {
  const parsed = JSON.parse(body) as { choices?: Array<{ message?: { content?: string } }> };
  return parsed.choices?.[0]?.message?.content ?? '';
}

function streamedText(body: string): string {
  let out = '';
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6)) as { choices?: Array<{ delta?: { content?: string } }> };
    out += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return out;
}

/** Installs and starts the gateway, then checks it forwards both ways; the reason if it cannot. */
export async function tryPortkey(
  name: string,
  hostUrl: string,
  log: (line: string) => void,
): Promise<{ gateway?: PortkeyGateway; reason?: string }> {
  let gateway: PortkeyGateway | undefined;
  try {
    await ensurePortkeyInstalled(log);
    gateway = await startPortkey(name, hostUrl);
    await verifyForwarding(portkeyPeer(gateway));
    return { gateway };
  } catch (error) {
    if (gateway) await stopChild(gateway.child);
    // One line for the table: the first line and, for a crash, the error line of its output.
    const lines = (error as Error).message.split('\n');
    const cause = lines.slice(1).find((line) => /Error\b/.test(line));
    const reason = [lines[0], cause].filter(Boolean).join(' ').slice(0, 300) || 'failed';
    log(`  portkey unavailable: ${(error as Error).message.slice(0, 2000)}`);
    return { reason };
  }
}
