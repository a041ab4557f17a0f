import { randomUUID } from 'node:crypto';
import { billingOf } from '../support/billing';
import { ReservationSweeper } from '../../src/billing/reservation-sweeper';
import { MetricsService } from '../../src/metrics/metrics.service';
import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, chatBody, fundedUser, postChat } from '../support/platform';
import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';
import { startTestApp, TestApp } from '../support/test-app';

/** One series' value from the registry (`labels` must match exactly the ones given). */
async function value(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = t.app.get(MetricsService).registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const matches = values.filter((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string>)[k] === l),
  );
  return matches.reduce((n, v) => n + v.value, 0);
}

describe('metrics after traffic', () => {
  let t: TestApp;
  let host: FakeHost;

  beforeAll(async () => {
    host = await startFakeOllama({ models: ['llama3.1'], tokens: 4, tokenDelayMs: 5 });
    t = await startTestApp({ BILLING_CREDIT_LEASES: 'false', RESERVATION_TIMEOUT_MS: '1000' });
    await t.dataSource.query('DELETE FROM hosts');
    await addHost(t, 'metrics-gpu', host.url, 'ollama');
  });
  afterAll(async () => {
    await t?.dataSource.query('DELETE FROM hosts');
    await t?.close();
    await host?.close();
  });

  it('tokens, credits, time to first token, upstream latency, host state, in-flight and healthy hosts move', async () => {
    const user = await fundedUser(t, 10_000_000n);
    const before = {
      input: await value(t, 'le_tokens_input_total', { model: 'llama3.1' }),
      output: await value(t, 'le_tokens_output_total', { model: 'llama3.1' }),
      credits: await value(t, 'le_credits_charged_total', { model: 'llama3.1' }),
      ttft: await value(t, 'le_time_to_first_token_seconds', { model: 'llama3.1' }),
      upstream: await value(t, 'le_upstream_latency_seconds', { host: 'metrics-gpu' }),
    };
    for (let i = 0; i < 3; i++) expect((await postChat(t, user.key)).status).toBe(200);
    const stream = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
      body: chatBody({ stream: true }),
    });
    expect(stream.status).toBe(200);
    await stream.text();
    await billingOf(t.app).settled();

    expect(await value(t, 'le_tokens_input_total', { model: 'llama3.1' })).toBeGreaterThan(before.input);
    expect(await value(t, 'le_tokens_output_total', { model: 'llama3.1' })).toBe(before.output + 4 * 4);
    expect(await value(t, 'le_credits_charged_total', { model: 'llama3.1' })).toBeGreaterThan(before.credits);
    // Histograms: `value` sums every bucket, count and sum; all grow with an observation.
    expect(await value(t, 'le_time_to_first_token_seconds', { model: 'llama3.1' })).toBeGreaterThan(
      before.ttft,
    );
    expect(await value(t, 'le_upstream_latency_seconds', { host: 'metrics-gpu' })).toBeGreaterThan(
      before.upstream,
    );
    expect(await value(t, 'le_host_state', { host: 'metrics-gpu', state: 'healthy' })).toBe(1);
    expect(await value(t, 'le_host_state', { host: 'metrics-gpu', state: 'unhealthy' })).toBe(0);
    expect(await value(t, 'le_hosts_healthy', { model: 'llama3.1' })).toBe(1);
    expect(await value(t, 'le_hosts_healthy_total')).toBe(1);

    // In flight while a slow answer runs, 0 after.
    host.setMode('ok', { tokenDelayMs: 300 });
    try {
      const slow = await fetch(`${t.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
        body: chatBody({ stream: true }),
      });
      expect(await value(t, 'le_host_in_flight', { host: 'metrics-gpu' })).toBe(1);
      await slow.text();
      await billingOf(t.app).settled();
      expect(await value(t, 'le_host_in_flight', { host: 'metrics-gpu' })).toBe(0);
    } finally {
      host.setMode('ok', { tokenDelayMs: 5 });
    }

    // The scrape shows them all.
    const text = await (await fetch(`${t.url}/metrics`)).text();
    for (const name of [
      'le_tokens_input_total{model="llama3.1"}',
      'le_tokens_output_total{model="llama3.1"}',
      'le_credits_charged_total{model="llama3.1"}',
      'le_time_to_first_token_seconds_count{model="llama3.1"}',
      'le_upstream_latency_seconds_count{host="metrics-gpu"}',
      'le_host_state{host="metrics-gpu",state="healthy"} 1',
      'le_host_in_flight{host="metrics-gpu"} 0',
      'le_hosts_healthy{model="llama3.1"} 1',
    ])
      expect(text).toContain(name);
  });

  it('a reservation sweep counts itself, its refunds and the credits it gave back', async () => {
    const user = await fundedUser(t, 1_000_000n);
    const billing = billingOf(t.app);
    const sweeps = await value(t, 'le_reservation_sweeps_total');
    const refunds = await value(t, 'le_reservation_sweep_refunds_total');
    const credits = await value(t, 'le_reservation_sweep_refunded_credits_total');
    // A crashed request's hold: reserved, never settled, past its 1 s timeout.
    await billing.reserve({
      userId: user.userId,
      requestId: randomUUID(),
      model: 'llama3.1',
      credits: 1234n,
      holdMs: 1,
    });
    await new Promise((r) => setTimeout(r, 50));
    await t.app.get(ReservationSweeper).sweep();
    expect(await value(t, 'le_reservation_sweeps_total')).toBe(sweeps + 1);
    expect(await value(t, 'le_reservation_sweep_refunds_total')).toBe(refunds + 1);
    expect(await value(t, 'le_reservation_sweep_refunded_credits_total')).toBe(credits + 1234);
  });
});

describe('request log lines', () => {
  it('carry user id, key id, model, host, tokens and credits of a completion, never the key', async () => {
    const host = await startFakeOllama({ models: ['llama3.1'], tokens: 3 });
    const setup = await startTestApp();
    await setup.dataSource.query('DELETE FROM hosts');
    const user = await fundedUser(setup, 10_000_000n);
    await setup.close();
    const port = randomPort();
    const p = spawnBuilt('dist/src/main.js', [], {
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? '',
      REDIS_PREFIX: `le-test-log-${port}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOSTS: `ollama=${host.url}`,
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_MS: '0',
    });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health/hosts`, 30000);
      const send = (path: string, body: object, id: string) =>
        fetch(`http://127.0.0.1:${port}${path}`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Authorization: `Bearer ${user.key}`,
            'X-Request-Id': id,
          },
          body: JSON.stringify(body),
        }).then((r) => r.text());
      const messages = [{ role: 'user', content: 'hello' }];
      await send('/v1/chat/completions', { model: 'llama3.1', messages, max_tokens: 8 }, 'log-json');
      await send(
        '/v1/chat/completions',
        { model: 'llama3.1', messages, max_tokens: 8, stream: true },
        'log-sse',
      );
      await send('/api/v1/completions', { model: 'llama3.1', messages, max_tokens: 8 }, 'log-native');
      await send('/v1/chat/completions', { model: 'no-such-model', messages }, 'log-error');
      await (
        await fetch(`http://127.0.0.1:${port}/api/v1/account`, {
          headers: { Authorization: `Bearer ${user.key}`, 'X-Request-Id': 'log-account' },
        })
      ).text();
      p.child.kill('SIGTERM');
      expect((await p.exit)[0]).toBe(0);
      const lines = p
        .out()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const line = (id: string) => lines.find((l) => (l.req as { id?: string } | undefined)?.id === id);
      for (const id of ['log-json', 'log-sse', 'log-native']) {
        expect(line(id)).toMatchObject({
          userId: user.userId,
          keyId: user.keyId,
          model: 'llama3.1',
          host: expect.any(String) as unknown,
          tokensIn: expect.any(Number) as unknown,
          tokensOut: 3,
          credits: expect.stringMatching(/^[1-9][0-9]*$/) as unknown,
        });
      }
      // Failed before any completion ran: the caller is known, nothing was charged.
      expect(line('log-error')).toMatchObject({
        userId: user.userId,
        keyId: user.keyId,
        res: { statusCode: 404 },
      });
      expect(line('log-account')).toMatchObject({ userId: user.userId, keyId: user.keyId });
      expect(p.out()).not.toContain(user.key);
      expect(p.out()).not.toContain(user.key.slice(-20));
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await host.close();
    }
  });
});
