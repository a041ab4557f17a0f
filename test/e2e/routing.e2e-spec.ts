import { randomBytes } from 'node:crypto';
import { DispatcherService } from '../../src/hosts/dispatcher.service';
import { HostsService } from '../../src/hosts/hosts.service';
import { MetricsService } from '../../src/metrics/metrics.service';
import { FakeHost, startFakeOllama } from '../fakes';
import { startTestApp, TestApp } from '../support/test-app';
import { chatRequest, drain, register, removeAllHosts } from './hosts-support';

const never = new AbortController().signal;

/** Two apps on one database and one Redis prefix: two replicas of one deployment. */
async function pair(env: Record<string, string>): Promise<[TestApp, TestApp]> {
  const shared = { REDIS_PREFIX: `le-test-routing-${randomBytes(4).toString('hex')}`, ...env };
  return [await startTestApp(shared), await startTestApp(shared)];
}

describe('routing: host slots shared by replicas', () => {
  const fakes: FakeHost[] = [];
  const apps: TestApp[] = [];

  afterEach(async () => {
    if (apps[0]) await removeAllHosts(apps[0]);
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  /** 16 streams, 8 through each replica, on one host of max_concurrency 3; resolves with its peak. */
  async function load(
    scope: 'cluster' | 'process',
  ): Promise<{ peak: number; failed: number; waited: number }> {
    const fake = await startFakeOllama({ models: ['m-cluster'], tokens: 4, tokenDelayMs: 40 });
    fakes.push(fake);
    const [a, b] = await pair({
      HOST_SLOT_SCOPE: scope,
      HOST_SLOT_LEASE_MS: '2000',
      HOST_WAIT_MS: '20000',
      HOST_CHECK_INTERVAL_MS: '600000',
    });
    apps.push(a, b);
    await register(a, fake, 'ollama', { max_concurrency: 3 });
    await b.app.get(HostsService).checkAll(); // b reads the new host from the table
    const run = (t: TestApp) =>
      t.app
        .get(DispatcherService)
        .stream(chatRequest('m-cluster'), never)
        .then((s) => drain(s.chunks))
        .then((r) => (r.error ? 1 : 0))
        .catch(() => 1);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => run(i % 2 ? b : a)));
    const metrics =
      (await a.app.get(MetricsService).registry.metrics()) +
      (await b.app.get(MetricsService).registry.metrics());
    const admitted = [
      ...metrics.matchAll(/le_host_wait_total\{model="m-cluster",outcome="admitted"\} (\d+)/g),
    ];
    return {
      peak: fake.peakActive,
      failed: results.reduce<number>((n, r) => n + r, 0),
      waited: admitted.reduce((n, m) => n + Number(m[1]), 0),
    };
  }

  it('two app instances never run more than max_concurrency on a host together; the rest wait', async () => {
    const { peak, failed, waited } = await load('cluster');
    expect(failed).toBe(0);
    expect(peak).toBe(3);
    // Those beyond the 3 slots waited in the model's queue (le_host_wait_total on /metrics).
    expect(waited).toBeGreaterThan(0);
  });

  it('(control) counted per process, as before, the two replicas exceed it', async () => {
    const { peak } = await load('process');
    expect(peak).toBeGreaterThan(3);
  });
});

describe('routing: conversation affinity', () => {
  let t: TestApp;
  let hosts: HostsService;
  let dispatcher: DispatcherService;
  const fakes: FakeHost[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      HOST_CHECK_INTERVAL_MS: '600000',
      ROUTING_POLICY: 'affinity',
      HOST_WAIT_MS: '0',
    });
    hosts = t.app.get(HostsService);
    dispatcher = t.app.get(DispatcherService);
  });
  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    if (t) await removeAllHosts(t);
    await t?.close();
  });

  const turn1 = chatRequest('m-aff', {
    messages: [
      { role: 'system', content: 'You are a travel agent.' },
      { role: 'user', content: 'Plan three days in Lyon' },
    ],
  });
  const turn2 = chatRequest('m-aff', {
    messages: [
      ...turn1.messages,
      { role: 'assistant', content: 'Day 1: Vieux Lyon. Day 2: …' },
      { role: 'user', content: 'Make day 2 about food' },
    ],
  });

  it("sends the second turn to the first turn's host when it has room, elsewhere when it does not", async () => {
    const slow = { models: ['m-aff'], warm: ['m-aff'], tokens: 3, tokenDelayMs: 300 };
    fakes.push(await startFakeOllama(slow), await startFakeOllama(slow));
    // b is preferred by weight: without affinity every idle request goes there.
    const a = await register(t, fakes[0]!, 'ollama', { max_concurrency: 1, weight: 1 });
    const b = await register(t, fakes[1]!, 'ollama', { max_concurrency: 1, weight: 2 });
    const only = async <T>(id: string, run: () => Promise<T>): Promise<T> => {
      const other = id === a ? b : a;
      await hosts.update(other, { draining: true });
      try {
        return await run();
      } finally {
        await hosts.update(other, { draining: false });
      }
    };

    // The first turn lands on a (b draining for that moment).
    const first = await only(a, () => dispatcher.stream(turn1, never));
    expect(first.host.id).toBe(a);
    await drain(first.chunks);

    // A new conversation goes by weight to b; the second turn of the first one goes back to a.
    const fresh = await dispatcher.stream(chatRequest('m-aff'), never);
    expect(fresh.host.id).toBe(b);
    await drain(fresh.chunks);
    const second = await dispatcher.stream(turn2, never);
    expect(second.host.id).toBe(a);
    await drain(second.chunks);

    // a is busy (its one slot held by another request): the second turn goes to b.
    const blocker = await only(a, () => dispatcher.stream(chatRequest('m-aff'), never));
    expect(blocker.host.id).toBe(a);
    const elsewhere = await dispatcher.stream(turn2, never);
    expect(elsewhere.host.id).toBe(b);
    await Promise.all([drain(blocker.chunks), drain(elsewhere.chunks)]);
  });
});
