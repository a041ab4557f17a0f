import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUserWithKey } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

const REFUSED = { status: 401, body: { success: false, message: 'Unauthorized IP address' } };
const OK = { status: 200 };

async function call(base: string, key: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/api/v1/account`, { headers: { Authorization: key, ...headers } });
  const body = (await res.json()) as { success: boolean };
  return body.success ? { status: res.status } : { status: res.status, body };
}

/** The same app also served on a dual-stack socket: IPv4 peers appear as ::ffff:a.b.c.d there. */
async function listenDualStack(t: TestApp): Promise<{ server: Server; port: number }> {
  const server = createServer(t.app.getHttpAdapter().getInstance());
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('auth: IP whitelists, socket peers (no TRUST_PROXY)', () => {
  let t: TestApp;
  let dual: { server: Server; port: number };
  let v6: string;
  let mapped: string;
  const keyFor = async (ip_whitelist: string[]) => (await createUserWithKey(t, { ip_whitelist })).key;

  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: '' });
    dual = await listenDualStack(t);
    v6 = `http://[::1]:${dual.port}`;
    mapped = `http://127.0.0.1:${dual.port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => dual?.server.close(resolve));
    await t?.close();
  });

  it('a single allowed IPv4 address', async () => {
    const key = await keyFor(['127.0.0.1']);
    expect(await call(t.url, key)).toEqual(OK);
    expect(await call(v6, key)).toEqual(REFUSED);
  });

  it('an allowed IPv4 CIDR range', async () => {
    expect(await call(t.url, await keyFor(['127.0.0.0/8']))).toEqual(OK);
    expect(await call(t.url, await keyFor(['10.0.0.0/8']))).toEqual(REFUSED);
  });

  it('an allowed IPv6 address and CIDR range', async () => {
    expect(await call(v6, await keyFor(['::1']))).toEqual(OK);
    const range = await keyFor(['::/120']);
    expect(await call(v6, range)).toEqual(OK);
    expect(await call(t.url, range)).toEqual(REFUSED);
    expect(await call(v6, await keyFor(['2001:db8::/32']))).toEqual(REFUSED);
  });

  it('a refused address, in the OpenAI format too', async () => {
    const key = await keyFor(['203.0.113.9']);
    expect(await call(t.url, key)).toEqual(REFUSED);
    const openai = await fetch(`${t.url}/v1/models`, { headers: { Authorization: `Bearer ${key}` } });
    expect(openai.status).toBe(401);
    expect(((await openai.json()) as { error: { code: string } }).error.code).toBe('ip_not_authorized');
  });

  it('IPv4-mapped IPv6 equals the IPv4 form (socket and whitelist side)', async () => {
    expect(await call(mapped, await keyFor(['127.0.0.1']))).toEqual(OK);
    expect(await call(t.url, await keyFor(['::ffff:127.0.0.1']))).toEqual(OK);
    expect(await call(mapped, await keyFor(['::ffff:127.0.0.0/104']))).toEqual(OK);
  });

  it('ignores a spoofed X-Forwarded-For from an untrusted peer', async () => {
    const key = await keyFor(['203.0.113.9']);
    expect(await call(t.url, key, { 'X-Forwarded-For': '203.0.113.9' })).toEqual(REFUSED);
    const local = await keyFor(['127.0.0.1']);
    expect(await call(t.url, local, { 'X-Forwarded-For': '203.0.113.9' })).toEqual(OK);
  });
});

describe('auth: IP whitelists behind a trusted proxy (TRUST_PROXY=127.0.0.1/32)', () => {
  let t: TestApp;
  const keyFor = async (ip_whitelist: string[]) => (await createUserWithKey(t, { ip_whitelist })).key;

  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: '127.0.0.1/32' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('honours X-Forwarded-For from the trusted proxy', async () => {
    const key = await keyFor(['203.0.113.9']);
    expect(await call(t.url, key, { 'X-Forwarded-For': '203.0.113.9' })).toEqual(OK);
    expect(await call(t.url, key)).toEqual(REFUSED);
    const proxyOnly = await keyFor(['127.0.0.1']);
    expect(await call(t.url, proxyOnly, { 'X-Forwarded-For': '203.0.113.9' })).toEqual(REFUSED);
  });

  it('reads right to left: the client cannot choose the left part', async () => {
    const spoofed = await keyFor(['198.51.100.1']);
    expect(await call(t.url, spoofed, { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9' })).toEqual(REFUSED);
    const real = await keyFor(['203.0.113.0/24']);
    expect(await call(t.url, real, { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9' })).toEqual(OK);
  });

  it('an IPv6 client behind the proxy against an IPv6 range', async () => {
    const key = await keyFor(['2001:db8::/32']);
    expect(await call(t.url, key, { 'X-Forwarded-For': '2001:db8::5' })).toEqual(OK);
    expect(await call(t.url, key, { 'X-Forwarded-For': '2001:db9::5' })).toEqual(REFUSED);
  });
});
