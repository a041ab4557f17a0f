import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { addHost, balanceOf, fundedUser, ledgerSum, usageCredits } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

describe('100 concurrent streams from 3 users over 2 hosts', () => {
  let t: TestApp;
  let hosts: FakeHost[];

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    hosts = [
      await startFakeOllama({ models: ['llama3.1'], tokens: 8, tokenDelayMs: 2 }),
      await startFakeOpenAI({ models: ['llama3.1'], tokens: 8, tokenDelayMs: 2 }),
    ];
    await addHost(t, 'ollama-box', hosts[0]!.url, 'ollama', { max_concurrency: 100 });
    await addHost(t, 'vllm-box', hosts[1]!.url, 'openai', { max_concurrency: 100 });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(hosts.map((h) => h.close()));
  });

  it('keeps every balance equal to its ledger sum and to its usage records', async () => {
    const start = 5_000_000n;
    const users = await Promise.all([0, 1, 2].map(() => fundedUser(t, start)));
    const streams = Array.from({ length: 100 }, async (_, i) => {
      const u = users[i % 3]!;
      const openai = i % 2 === 0;
      const res = await fetch(`${t.url}${openai ? '/v1/chat/completions' : '/api/v1/completions'}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${u.key}` },
        body: JSON.stringify({
          model: 'llama3.1',
          messages: [{ role: 'user', content: `question number ${i}` }],
          max_tokens: 64,
          stream: true,
        }),
      });
      const text = await res.text();
      return { status: res.status, text };
    });
    const results = await Promise.all(streams);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.filter((r, i) => i % 2 === 0 && !r.text.includes('data: [DONE]'))).toEqual([]);
    expect(hosts[0]!.requests.filter((r) => r.path === '/api/chat').length).toBeGreaterThan(0);
    expect(hosts[1]!.requests.filter((r) => r.path === '/v1/chat/completions').length).toBeGreaterThan(0);
    for (const u of users) {
      const balance = await balanceOf(t, u.userId);
      expect(balance).toBeLessThan(start);
      expect(await ledgerSum(t, u.userId)).toBe(balance);
      expect(await usageCredits(t, u.userId)).toBe(start - balance);
    }
    const open = (await t.dataSource.query(
      `SELECT count(*)::int AS n FROM reservations WHERE status = 'open' AND user_id = ANY($1)`,
      [users.map((u) => u.userId)],
    )) as { n: number }[];
    expect(open[0]!.n).toBe(0);
  });
});
