import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, balanceOf, eventually, fundedUser, ledgerSum, usageCredits } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

const llamaCost = (input: number, output: number) => BigInt(input * 100 + output * 200);

async function post(
  t: TestApp,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${t.url}/api/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: key } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'user', content }],
  model: 'llama3.1',
  max_tokens: 100,
  ...extra,
});

describe('native API (seed 000) with raw HTTP', () => {
  let t: TestApp;
  let host: FakeHost;
  let user: { userId: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    host = await startFakeOllama({ models: ['llama3.1'], tokens: 5 });
    await addHost(t, 'gpu-1', host.url, 'ollama');
    user = await fundedUser(t, 100_000_000n);
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  it('answers {"success": true, "response"} and bills reserve + settle exactly', async () => {
    const before = await balanceOf(t, user.userId);
    const res = await post(t, user.key, ask('What is the meaning of life?'));
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(typeof res.body.response).toBe('string');
    expect((res.body.response as string).length).toBeGreaterThan(0);
    const usage = (await t.dataSource.query(
      `SELECT input_tokens, output_tokens, credits::text AS credits, request_id FROM usage_records
       WHERE user_id = $1 ORDER BY id DESC LIMIT 1`,
      [user.userId],
    )) as { input_tokens: number; output_tokens: number; credits: string; request_id: string }[];
    const row = usage[0]!;
    expect(row.output_tokens).toBe(5);
    const cost = llamaCost(row.input_tokens, row.output_tokens);
    expect(BigInt(row.credits)).toBe(cost);
    expect(before - (await balanceOf(t, user.userId))).toBe(cost);
    const ledger = (await t.dataSource.query(
      `SELECT kind, amount::text AS amount FROM credit_ledger WHERE request_id = $1 ORDER BY id`,
      [row.request_id],
    )) as { kind: string; amount: string }[];
    expect(ledger[0]).toEqual({ kind: 'reserve', amount: (-llamaCost(28, 100)).toString() });
    expect(ledger.slice(1).reduce((n, e) => n + BigInt(e.amount), 0n)).toBe(llamaCost(28, 100) - cost);
  });

  it('streams NDJSON lines {"role":"assistant","content":…}', async () => {
    const res = await fetch(`${t.url}/api/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: user.key },
      body: JSON.stringify(ask('Stream it', { stream: true })),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      const chunk = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(chunk).sort()).toEqual(['content', 'role']);
      expect(chunk.role).toBe('assistant');
    }
  });

  it('answers every error row of seed 000 word for word, and changes nothing', async () => {
    const before = await balanceOf(t, user.userId);
    const seen = host.requests.length;
    expect(await post(t, user.key, '{not json')).toEqual({
      status: 400,
      body: { success: false, message: 'Invalid request' },
    });
    expect(await post(t, user.key, ask('x', { max_tokens: 'ten' }))).toEqual({
      status: 400,
      body: { success: false, message: 'Invalid request' },
    });
    expect(
      await post(t, user.key, { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }] }),
    ).toEqual({
      status: 400,
      body: { success: false, message: 'messages, model, max_tokens, and temperature are required' },
    });
    expect(await post(t, user.key, ask('x', { model: 'unknown-model' }))).toEqual({
      status: 400,
      body: { success: false, message: 'Model pricing not found' },
    });
    expect(await post(t, user.key, ask('x', { model: 'gemma' }))).toEqual({
      status: 400,
      body: { success: false, message: 'Max attempts reached - no available hosts' },
    });
    expect(await post(t, undefined, ask('x'))).toEqual({
      status: 401,
      body: { success: false, message: 'Authorization header required' },
    });
    expect(await post(t, 'sk-le-wrong-key', ask('x'))).toEqual({
      status: 401,
      body: { success: false, message: 'Invalid API key' },
    });
    const fenced = await fundedUser(t, 1_000_000n, { ip_whitelist: ['10.1.2.3'] });
    expect(await post(t, fenced.key, ask('x'))).toEqual({
      status: 401,
      body: { success: false, message: 'Unauthorized IP address' },
    });
    const poor = await fundedUser(t, 100n);
    expect(await post(t, poor.key, ask('x'))).toEqual({
      status: 402,
      body: { success: false, message: 'Insufficient credits' },
    });
    expect(await balanceOf(t, poor.userId)).toBe(100n);
    expect(host.requests.length).toBe(seen);
    expect(await balanceOf(t, user.userId)).toBe(before);
    expect(await ledgerSum(t, user.userId)).toBe(before);
  });

  it('a stream the client drops after 5 of 50 tokens is charged for 5 output tokens', async () => {
    host.setMode('ok', { tokens: 50, tokenDelayMs: 40 });
    const dropper = await fundedUser(t, 10_000_000n);
    const controller = new AbortController();
    const res = await fetch(`${t.url}/api/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: dropper.key },
      body: JSON.stringify(ask('abcdefghij', { stream: true })),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    while (received.split('\n').filter(Boolean).length < 5) {
      const { value } = await reader.read();
      received += decoder.decode(value);
    }
    controller.abort();
    await eventually(async () => (await usageCredits(t, dropper.userId)) > 0n);
    const rows = (await t.dataSource.query(
      `SELECT input_tokens, output_tokens, status FROM usage_records WHERE user_id = $1`,
      [dropper.userId],
    )) as { input_tokens: number; output_tokens: number; status: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('client_closed');
    // 5 lines reached the client; the one in flight when it left may also have been written.
    expect(rows[0]!.output_tokens).toBeGreaterThanOrEqual(5);
    expect(rows[0]!.output_tokens).toBeLessThanOrEqual(6);
    const charged = 10_000_000n - (await balanceOf(t, dropper.userId));
    expect(charged).toBe(llamaCost(10, rows[0]!.output_tokens));
    await eventually(async () => host.clientClosed > 0);
    host.setMode('ok', { tokens: 5, tokenDelayMs: 0 });
  });

  it('a request that fails on every host is refunded in full', async () => {
    host.setMode('error500');
    const before = await balanceOf(t, user.userId);
    const res = await post(t, user.key, ask('x'));
    expect(res).toEqual({
      status: 400,
      body: { success: false, message: 'Max attempts reached - no available hosts' },
    });
    expect(await balanceOf(t, user.userId)).toBe(before);
    expect(await ledgerSum(t, user.userId)).toBe(before);
    host.setMode('ok');
  });
});
