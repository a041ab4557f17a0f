import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, balanceOf, fundedUser, ledgerSum } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/** Malformed bodies for every completion surface: each must be a 4xx that changes nothing. */
const BODIES: unknown[] = [
  null,
  [],
  'text',
  42,
  {},
  { model: 'llama3.1' },
  { model: 'llama3.1', messages: 'hi', max_tokens: 5 },
  { model: 'llama3.1', messages: [], max_tokens: 5 },
  { model: 'llama3.1', messages: [null], max_tokens: 5 },
  { model: 'llama3.1', messages: [{ role: 'wizard', content: 'x' }], max_tokens: 5 },
  { model: 'llama3.1', messages: [{ role: 'user', content: { a: 1 } }], max_tokens: 5 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: -1 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 1e30 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 2.5 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, temperature: 'hot' },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, temperature: 99 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, stream: 'yes' },
  { model: ['llama3.1'], messages: [{ role: 'user', content: 'x' }], max_tokens: 5 },
  { model: 'x'.repeat(10_000), messages: [{ role: 'user', content: 'x' }], max_tokens: 5 },
  { model: 'llama3.1', messages: [{ role: 'user', content: [{ type: 'video' }] }], max_tokens: 5 },
];

/** OpenAI parameters with wrong values (the native API has no such parameters and ignores them). */
const OPENAI_BODIES: unknown[] = [
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, stop: [1, 2] },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, response_format: 'json' },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, stream_options: 7 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, top_p: 3 },
  { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, n: 0 },
  {
    model: 'llama3.1',
    messages: [{ role: 'user', content: 'x' }],
    max_tokens: 5,
    tools: [{ type: 'function' }],
  },
];

const ROUTES: [string, unknown[]][] = [
  ['/api/v1/completions', BODIES],
  ['/api/v1/qcompletions', BODIES],
  ['/v1/chat/completions', [...BODIES, ...OPENAI_BODIES]],
  ['/api/v1/ai/chat/completions', [...BODIES, ...OPENAI_BODIES]],
];

describe('bad input: a clear 4xx, never a 500, and nothing changes', () => {
  let t: TestApp;
  let host: FakeHost;
  let user: { userId: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    host = await startFakeOllama({ models: ['llama3.1'] });
    await addHost(t, 'gpu-bad-input', host.url, 'ollama');
    user = await fundedUser(t, 1_000_000n);
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  for (const [route, bodies] of ROUTES) {
    it(`POST ${route}`, async () => {
      const tasksBefore = await taskCount(t, user.userId);
      for (const body of bodies) {
        const res = await fetch(`${t.url}${route}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        if (res.status < 400 || res.status >= 500)
          throw new Error(`${route} ${JSON.stringify(body)} -> ${res.status} ${text}`);
        expect(() => JSON.parse(text) as unknown).not.toThrow();
      }
      expect(host.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
      expect(await balanceOf(t, user.userId)).toBe(1_000_000n);
      expect(await ledgerSum(t, user.userId)).toBe(1_000_000n);
      expect(await taskCount(t, user.userId)).toBe(tasksBefore);
    });
  }

  it('oversized and non-JSON bodies are 4xx too', async () => {
    const huge = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
      body: JSON.stringify({
        model: 'llama3.1',
        messages: [{ role: 'user', content: 'x'.repeat(25 * 1024 * 1024) }],
      }),
    });
    expect(huge.status).toBe(413);
    const form = await fetch(`${t.url}/api/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', Authorization: user.key },
      body: 'hello',
    });
    expect(form.status).toBe(400);
    expect(await form.json()).toEqual({ success: false, message: 'Invalid request' });
  });
});

async function taskCount(t: TestApp, userId: string): Promise<number> {
  const rows = (await t.dataSource.query(`SELECT count(*)::int AS n FROM tasks WHERE user_id = $1`, [
    userId,
  ])) as {
    n: number;
  }[];
  return rows[0]!.n;
}
