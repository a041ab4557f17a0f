import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, eventually, fundedUser, removeHosts } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/** Tokens of queued tasks count against the key's tokens-per-minute limit, as synchronous ones do. */
describe('tokens per minute on both paths', () => {
  let t: TestApp;
  let host: FakeHost;
  let hostId: string | undefined;

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    host = await startFakeOllama({ models: ['llama3.1'], tokens: 5 });
    hostId = await addHost(t, 'gpu-queue-tpm', host.url, 'ollama');
  });
  afterAll(async () => {
    await removeHosts(t, [hostId]);
    await t?.close();
    await host?.close();
  });

  const body = JSON.stringify({
    model: 'llama3.1',
    max_tokens: 5,
    messages: [{ role: 'user', content: 'hello' }],
  });
  const complete = (key: string) =>
    fetch(`${t.url}/api/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: key },
      body,
    });

  it('a synchronous request uses up a tpm of 5: the next is refused with 429', async () => {
    const user = await fundedUser(t, 10_000_000n, { tpm: 5 });
    const first = await complete(user.key);
    // The body says why when it is not a 200.
    expect([first.status, first.status === 200 ? '' : await first.text()]).toEqual([200, '']);
    // The host reported 1 + 5 tokens, counted by the settle, which runs just after the answer.
    await eventually(async () => (await complete(user.key)).status === 429);
    expect(host.requests.filter((r) => r.path === '/api/chat').length).toBe(1);
  });

  it('a queued task uses up a tpm of 5 the same way', async () => {
    const user = await fundedUser(t, 10_000_000n, { tpm: 5 });
    const submitted = await fetch(`${t.url}/api/v1/qcompletions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: user.key },
      body,
    });
    expect(submitted.status).toBe(200);
    const { task_id } = (await submitted.json()) as { task_id: string };
    await eventually(async () => {
      const res = await fetch(`${t.url}/api/v1/qcompletions/${task_id}`, {
        headers: { Authorization: user.key },
      });
      return ((await res.json()) as { status: string }).status === 'completed';
    });
    // A task is completed once settled, and its settle counted its tokens: the very next request is over.
    expect((await complete(user.key)).status).toBe(429);
  });
});
