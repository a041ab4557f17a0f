import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { FakeHost, startFakeOllama } from '../fakes';
import { launchBrowser } from '../support/browser';
import { addHost, balanceOf, fundedUser, removeHosts } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/** A page server on its own port: another origin than the app's. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>chat ui</title><h1>chat ui</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** What a browser chat UI does: POST /v1/chat/completions with the SDKs' headers, read the answer and headers. */
const CALL_FROM_PAGE = async ([url, key]: [string, string]) => {
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${key}`,
        'X-Stainless-OS': 'Linux',
        'X-Stainless-Lang': 'js',
      },
      body: JSON.stringify({ model: 'llama3.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
    });
    const body = (await res.json()) as { choices?: { message: { content: string } }[] };
    return {
      status: res.status,
      content: body.choices?.[0]?.message.content ?? null,
      requestId: res.headers.get('x-request-id'),
      limit: res.headers.get('x-ratelimit-limit'),
    };
  } catch (error) {
    return { error: String(error) };
  }
};

// Open: in full runs the first chat of this suite is now and then answered 503 (seen after suites
// that registered and removed hosts on the shared run database; not reproduced alone). Retried
// until it is understood — every assertion still has to hold in one run.

describe('CORS for browser clients', () => {
  let t: TestApp;
  let host: FakeHost;
  let allowed: { server: Server; origin: string };
  let other: { server: Server; origin: string };
  let browser: Browser;
  let user: { userId: string; key: string };
  let hostId: string | undefined;

  beforeAll(async () => {
    allowed = await pageServer();
    other = await pageServer();
    t = await startTestApp({ CORS_ORIGINS: allowed.origin, HOST_CHECK_INTERVAL_MS: '60000' });
    host = await startFakeOllama({ models: ['llama3.1'] });
    hostId = await addHost(t, 'gpu-cors', host.url, 'ollama');
    user = await fundedUser(t, 10_000_000n, { rpm: 100 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await removeHosts(t, [hostId]);
    await t?.close();
    await host?.close();
    allowed?.server.close();
    other?.server.close();
  });

  it('answers a preflight for an allowed origin with the SDK headers allowed and nothing else', async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        Origin: allowed.origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type,x-stainless-os,x-api-key,x-evil',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(res.headers.get('access-control-allow-headers')?.split(',')).toEqual([
      'authorization',
      'content-type',
      'x-stainless-os',
      'x-api-key',
    ]);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();

    const refused = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { Origin: other.origin, 'Access-Control-Request-Method': 'POST' },
    });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a page on an allowed origin calls /v1 from headless Chromium and reads the exposed headers', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(allowed.origin);
      const result = await page.evaluate(CALL_FROM_PAGE, [t.url, user.key] as [string, string]);
      expect(result).toMatchObject({ status: 200, content: 'tok0 tok1 tok2 ' });
      expect((result as { requestId: string }).requestId).toBeTruthy();
      expect((result as { limit: string }).limit).toBe('100');
    } finally {
      await page.close();
    }
  });

  it('a page on another origin is blocked by the browser, and nothing is billed for the blocked preflight', async () => {
    const before = await balanceOf(t, user.userId);
    const seen = host.requests.length;
    const page = await browser.newPage();
    try {
      await page.goto(other.origin);
      const result = await page.evaluate(CALL_FROM_PAGE, [t.url, user.key] as [string, string]);
      expect((result as { error?: string }).error).toMatch(/TypeError|Failed to fetch/);
    } finally {
      await page.close();
    }
    expect(host.requests.length).toBe(seen);
    expect(await balanceOf(t, user.userId)).toBe(before);
  });
});

describe('CORS off by default', () => {
  it('sends no CORS headers when CORS_ORIGINS is unset', async () => {
    const t = await startTestApp();
    try {
      const res = await fetch(`${t.url}/v1/models`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'GET' },
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await t.close();
    }
  });
});
