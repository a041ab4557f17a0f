import { Abort } from '../../src/common/abort';
import { ApiError } from '../../src/common/api-error';
import { DispatcherService } from '../../src/hosts/dispatcher.service';
import { HostsService } from '../../src/hosts/hosts.service';
import { UpstreamError } from '../../src/providers/upstream-error';
import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { startTestApp, TestApp } from '../support/test-app';
import { chatRequest, completionCalls, drain, register, removeAllHosts, waitFor } from './hosts-support';

describe('dispatcher: choice, failover, streaming', () => {
  let t: TestApp;
  let hosts: HostsService;
  let dispatcher: DispatcherService;
  const fakes: FakeHost[] = [];
  const never = new AbortController().signal;

  const fake = async (kind: 'ollama' | 'openai', opts: Parameters<typeof startFakeOllama>[0] = {}) => {
    const started = await (kind === 'ollama' ? startFakeOllama(opts) : startFakeOpenAI(opts));
    fakes.push(started);
    return started;
  };

  beforeAll(async () => {
    t = await startTestApp({
      HOST_CHECK_INTERVAL_MS: '600000',
      HOST_FAIL_THRESHOLD: '2',
      HOST_COOLDOWN_MS: '600000',
      HOST_CONNECT_TIMEOUT_MS: '1000',
      HOST_FIRST_BYTE_TIMEOUT_MS: '1500',
      MAX_ATTEMPTS: '3',
    });
    hosts = t.app.get(HostsService);
    dispatcher = t.app.get(DispatcherService);
  });
  beforeEach(() => removeAllHosts(t));
  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    if (t) await removeAllHosts(t);
    await t?.close();
  });

  it('spreads concurrent load to the least-loaded of three hosts and holds slots until streams end', async () => {
    const three = [await fake('openai', { models: ['m-load'], tokens: 3, tokenDelayMs: 40 })];
    three.push(await fake('ollama', { models: ['m-load'], tokens: 3, tokenDelayMs: 40 }));
    three.push(await fake('openai', { models: ['m-load'], tokens: 3, tokenDelayMs: 40 }));
    const ids = [
      await register(t, three[0]!, 'openai', { max_concurrency: 2 }),
      await register(t, three[1]!, 'ollama', { max_concurrency: 2 }),
      await register(t, three[2]!, 'openai', { max_concurrency: 2 }),
    ];
    await hosts.checkAll();

    const streams = await Promise.all(
      Array.from({ length: 6 }, () => dispatcher.stream(chatRequest('m-load'), never)),
    );
    const perHost = ids.map((id) => streams.filter((s) => s.host.id === id).length);
    expect(perHost).toEqual([2, 2, 2]);
    expect(ids.map((id) => hosts.get(id).in_flight)).toEqual([2, 2, 2]);
    expect(three.map(completionCalls)).toEqual([2, 2, 2]);

    // Every slot is taken: a seventh request finds no host.
    await expect(dispatcher.stream(chatRequest('m-load'), never)).rejects.toMatchObject({
      code: 'no_available_hosts',
    });

    const results = await Promise.all(streams.map((s) => drain(s.chunks)));
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.texts).toEqual(['tok0 ', 'tok1 ', 'tok2 ']);
    }
    expect(ids.map((id) => hosts.get(id).in_flight)).toEqual([0, 0, 0]);
  });

  it('fails over refused -> 500 -> success, landing on the third host', async () => {
    const refused = await fake('openai', { models: ['m-fail'] });
    const broken = await fake('ollama', { models: ['m-fail'] });
    const good = await fake('openai', { models: ['m-fail'] });
    // Weights fix the order of preference among idle hosts.
    const refusedId = await register(t, refused, 'openai', { models: ['m-fail'], weight: 3 });
    const brokenId = await register(t, broken, 'ollama', { models: ['m-fail'], weight: 2 });
    const goodId = await register(t, good, 'openai', { models: ['m-fail'], weight: 1 });
    await hosts.checkAll();
    refused.setMode('refuse');
    broken.setMode('error500');
    // Let the client see the dropped keep-alive sockets: the next attempt must connect afresh.
    await new Promise((r) => setTimeout(r, 50));

    const dispatched = await dispatcher.stream(chatRequest('m-fail'), never);
    expect(dispatched.host.id).toBe(goodId);
    expect((await drain(dispatched.chunks)).texts.join('')).toBe('tok0 tok1 tok2 tok3 tok4 ');
    expect(completionCalls(broken)).toBe(1);
    expect(completionCalls(good)).toBe(1);
    // Live traffic reported: a refused connection takes the host out at once; one 500 does not.
    expect(hosts.get(refusedId).status).toBe('unhealthy');
    expect(hosts.get(brokenId)).toMatchObject({ status: 'healthy', consecutive_failures: 1 });
    expect(hosts.get(refusedId).in_flight + hosts.get(brokenId).in_flight + hosts.get(goodId).in_flight).toBe(
      0,
    );
  });

  it('all hosts down: "Max attempts reached - no available hosts" after at most MAX_ATTEMPTS tries', async () => {
    const five = await Promise.all(Array.from({ length: 5 }, () => fake('ollama', { models: ['m-down'] })));
    for (const f of five) await register(t, f, 'ollama', { models: ['m-down'] });
    for (const f of five) f.setMode('error500');

    const error = await dispatcher.stream(chatRequest('m-down'), never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      code: 'no_available_hosts',
      message: 'Max attempts reached - no available hosts',
    });
    expect(five.reduce((n, f) => n + completionCalls(f), 0)).toBe(3);

    // No host serves the model at all: the same error, without any request.
    await expect(dispatcher.stream(chatRequest('m-nobody'), never)).rejects.toMatchObject({
      code: 'no_available_hosts',
    });
  });

  it('429 and 503 put a host in cooldown: traffic moves to the others', async () => {
    const busy = await fake('openai', { models: ['m-cool'] });
    const other = await fake('openai', { models: ['m-cool'] });
    const busyId = await register(t, busy, 'openai', { weight: 5 });
    const otherId = await register(t, other, 'openai', { weight: 1 });
    await hosts.checkAll();
    busy.setMode('error503');

    for (let i = 0; i < 3; i++) {
      const dispatched = await dispatcher.stream(chatRequest('m-cool'), never);
      expect(dispatched.host.id).toBe(otherId);
      await drain(dispatched.chunks);
    }
    expect(completionCalls(busy)).toBe(1);
    expect(hosts.get(busyId).status).toBe('cooldown');
    expect(hosts.get(busyId).cooldown_until).not.toBeNull();
    // A good health check does not end the cooldown early (listing works while completions are refused).
    busy.setMode('ok');
    await hosts.checkAll();
    expect(hosts.get(busyId).status).toBe('cooldown');
  });

  it('a stream that dies midway ends with an UpstreamError after the delivered tokens, never re-sent', async () => {
    const dying = await fake('ollama', {
      models: ['m-die'],
      tokens: 10,
      mode: 'die-mid-stream',
      dieAfter: 3,
    });
    const spare = await fake('ollama', { models: ['m-die'] });
    const dyingId = await register(t, dying, 'ollama', { models: ['m-die'], weight: 2 });
    await register(t, spare, 'ollama', { models: ['m-die'], weight: 1 });

    const dispatched = await dispatcher.stream(chatRequest('m-die'), never);
    expect(dispatched.host.id).toBe(dyingId);
    const result = await drain(dispatched.chunks);
    expect(result.texts).toEqual(['tok0 ', 'tok1 ', 'tok2 ']);
    expect(result.error).toBeInstanceOf(UpstreamError);
    expect(result.last?.finishReason).toBeUndefined();
    expect(completionCalls(dying)).toBe(1);
    expect(completionCalls(spare)).toBe(0);
    // A dropped stream counts towards HOST_FAIL_THRESHOLD; it does not take the host out alone.
    expect(hosts.get(dyingId)).toMatchObject({ in_flight: 0, status: 'healthy', consecutive_failures: 1 });
  });

  it('an aborted client closes the upstream socket at once, mid-stream and before the first token', async () => {
    const slow = await fake('openai', { models: ['m-abort'], tokens: 100, tokenDelayMs: 30 });
    const slowId = await register(t, slow, 'openai', { models: ['m-abort'] });

    // The HTTP routes' signal (common/abort.ts) mid-stream; Node's AbortController before the first token.
    const client = new Abort();
    const dispatched = await dispatcher.stream(chatRequest('m-abort'), client.signal);
    const iterator = dispatched.chunks[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual([{ text: 'tok0 ' }]);
    client.abort();
    await expect(iterator.next()).rejects.toMatchObject({ kind: 'aborted' });
    await waitFor(() => slow.clientClosed === 1);
    expect(hosts.get(slowId).in_flight).toBe(0);

    // Leaving a for-await loop early also closes it and frees the slot.
    const early = await dispatcher.stream(chatRequest('m-abort'), never);
    for await (const batch of early.chunks) if (batch.some((c) => c.text)) break;
    await waitFor(() => slow.clientClosed === 2);
    expect(hosts.get(slowId).in_flight).toBe(0);

    // Before the first token: no failover to another host, the socket is closed.
    const other = await fake('openai', { models: ['m-abort'] });
    await register(t, other, 'openai', { models: ['m-abort'], weight: 0 });
    slow.setMode('hang');
    const pending = new AbortController();
    const attempt = dispatcher.stream(chatRequest('m-abort'), pending.signal);
    await waitFor(() => completionCalls(slow) === 3);
    pending.abort();
    await expect(attempt).rejects.toMatchObject({ kind: 'aborted' });
    await waitFor(() => slow.clientClosed === 3);
    expect(completionCalls(other)).toBe(0);
    expect(hosts.get(slowId)).toMatchObject({ in_flight: 0, status: 'healthy' });
  });

  it('a hanging host times out before the first byte and the request moves on', async () => {
    const hanging = await fake('ollama', { models: ['m-hang'] });
    const good = await fake('ollama', { models: ['m-hang'] });
    await register(t, hanging, 'ollama', { models: ['m-hang'], weight: 2 });
    const goodId = await register(t, good, 'ollama', { models: ['m-hang'], weight: 1 });
    hanging.setMode('hang');
    const dispatched = await dispatcher.stream(chatRequest('m-hang'), never);
    expect(dispatched.host.id).toBe(goodId);
    await drain(dispatched.chunks);
    expect(completionCalls(hanging)).toBe(1);
  });

  it('text completions go to the completion endpoint; embeddings fail over too', async () => {
    const broken = await fake('openai', { models: ['m-embed'] });
    const good = await fake('ollama', { models: ['m-embed'] });
    await register(t, broken, 'openai', { models: ['m-embed'], weight: 2 });
    const goodId = await register(t, good, 'ollama', { models: ['m-embed'], weight: 1 });
    broken.setMode('error500');
    const result = await dispatcher.embed({ model: 'm-embed', input: ['a b', 'c'] }, never);
    expect(result.host.id).toBe(goodId);
    expect(result.embeddings).toHaveLength(2);
    expect(result.usage).toEqual({ inputTokens: 3 });
    expect(completionCalls(broken)).toBe(1);

    const completion = await dispatcher.stream(
      chatRequest('m-embed', { kind: 'completion', prompt: 'one two three four' }),
      never,
    );
    const { last } = await drain(completion.chunks);
    expect(last).toEqual({ finishReason: 'stop', usage: { inputTokens: 4, outputTokens: 5 } });
    expect(good.requests[good.requests.length - 1]?.path).toBe('/api/generate');
  });

  it('a host that answers 404 for the model (stale list) is skipped for another', async () => {
    // Its /api/ps claims the model is loaded: the routing policy prefers it (weight 2) until the 404.
    const stale = await fake('ollama', { models: ['other-model'], warm: ['m-404'] });
    const real = await fake('ollama', { models: ['m-404'] });
    const staleId = await register(t, stale, 'ollama', { models: ['m-404'], weight: 2 });
    const realId = await register(t, real, 'ollama', { models: ['m-404'], weight: 1 });
    const dispatched = await dispatcher.stream(chatRequest('m-404'), never);
    expect(dispatched.host.id).toBe(realId);
    expect((await drain(dispatched.chunks)).error).toBeUndefined();
    expect(completionCalls(stale)).toBe(1);
    expect(hosts.get(staleId).last_error).toMatch(/not found/);
  });
});
