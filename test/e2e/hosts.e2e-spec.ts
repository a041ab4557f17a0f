import { AppLogger } from '../../src/logging/app-logger';
import type { LoggerService } from '@nestjs/common';
import { DispatcherService } from '../../src/hosts/dispatcher.service';
import { HostsService } from '../../src/hosts/hosts.service';
import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { createUserWithKey } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { chatRequest, completionCalls, drain, register, removeAllHosts } from './hosts-support';

describe('host registry: discovery, health, admin API', () => {
  let t: TestApp;
  let hosts: HostsService;
  let dispatcher: DispatcherService;
  let adminKey: string;
  const fakes: FakeHost[] = [];
  const never = new AbortController().signal;

  const track = (fake: FakeHost) => {
    fakes.push(fake);
    return fake;
  };
  const admin = (path: string, method = 'GET', body?: unknown, key = adminKey) =>
    fetch(`${t.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await startTestApp({
      HOST_CHECK_INTERVAL_MS: '600000',
      HOST_FAIL_THRESHOLD: '2',
      HOST_CONNECT_TIMEOUT_MS: '1000',
    });
    hosts = t.app.get(HostsService);
    dispatcher = t.app.get(DispatcherService);
    adminKey = (await createUserWithKey(t, { role: 'admin' })).key;
  });
  beforeEach(() => removeAllHosts(t));
  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    if (t) await removeAllHosts(t);
    await t?.close();
  });

  it('discovers models from both fake kinds (warm from Ollama /api/ps) and reports readiness', async () => {
    const noHosts = await fetch(`${t.url}/health/hosts`);
    expect(noHosts.status).toBe(503);

    const ollama = track(await startFakeOllama({ models: ['llama3.1', 'qwen2.5'], warm: ['qwen2.5'] }));
    const openai = track(await startFakeOpenAI({ models: ['mistral-7b'] }));
    const ollamaId = await register(t, ollama, 'ollama');
    const openaiId = await register(t, openai, 'openai');

    expect(hosts.get(ollamaId)).toMatchObject({
      status: 'healthy',
      discovered_models: [
        { name: 'llama3.1', warm: false },
        { name: 'qwen2.5', warm: true },
      ],
    });
    expect(hosts.get(ollamaId).last_check).not.toBeNull();
    expect(hosts.get(openaiId).discovered_models).toEqual([{ name: 'mistral-7b', warm: false }]);
    // Checks call only the listing endpoints and the engines' status pages (engine signals).
    expect(new Set(ollama.requests.map((r) => r.path))).toEqual(new Set(['/api/ps', '/api/tags']));
    expect(new Set(openai.requests.map((r) => r.path))).toEqual(
      new Set(['/v1/models', '/metrics', '/slots']),
    );
    expect(hosts.servedModels()).toEqual(['llama3.1', 'mistral-7b', 'qwen2.5']);
    expect(hosts.healthyCount()).toBe(2);

    // The health state is stored for other replicas.
    const [row] = (await t.dataSource.query(`SELECT status, discovered_models FROM hosts WHERE id = $1`, [
      ollamaId,
    ])) as {
      status: string;
      discovered_models: unknown;
    }[];
    expect(row).toEqual({
      status: 'healthy',
      discovered_models: [
        { name: 'llama3.1', warm: false },
        { name: 'qwen2.5', warm: true },
      ],
    });

    const healthy = await fetch(`${t.url}/health/hosts`);
    expect(healthy.status).toBe(200);
    expect(((await healthy.json()) as { healthy: number }).healthy).toBe(2);
  });

  it('an unhealthy host leaves rotation after HOST_FAIL_THRESHOLD failed checks and comes back', async () => {
    const flaky = track(await startFakeOllama({ models: ['m-heal'] }));
    const steady = track(await startFakeOllama({ models: ['m-heal'] }));
    const flakyId = await register(t, flaky, 'ollama');
    const steadyId = await register(t, steady, 'ollama');

    flaky.setMode('error500');
    await hosts.checkAll();
    expect(hosts.get(flakyId).status).toBe('healthy');
    await hosts.checkAll();
    expect(hosts.get(flakyId)).toMatchObject({ status: 'unhealthy', consecutive_failures: 2 });
    expect(hosts.get(flakyId).last_error).toMatch(/HTTP 500/);

    for (let i = 0; i < 4; i++) {
      const dispatched = await dispatcher.stream(chatRequest('m-heal'), never);
      expect(dispatched.host.id).toBe(steadyId);
      await drain(dispatched.chunks);
    }
    expect(completionCalls(flaky)).toBe(0);

    flaky.setMode('ok');
    await hosts.checkAll();
    expect(hosts.get(flakyId)).toMatchObject({ status: 'healthy', consecutive_failures: 0 });
    const landed = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const dispatched = await dispatcher.stream(chatRequest('m-heal'), never);
      landed.add(dispatched.host.id);
      await drain(dispatched.chunks);
    }
    expect(landed).toEqual(new Set([flakyId, steadyId]));
  });

  it('a refused connection marks a host unhealthy at its first check; a disabled or draining host takes no new work', async () => {
    const down = track(await startFakeOpenAI({ models: ['m-rot'] }));
    const up = track(await startFakeOpenAI({ models: ['m-rot'] }));
    const downId = await register(t, down, 'openai');
    const upId = await register(t, up, 'openai');
    await hosts.update(upId, { draining: true });
    expect(hosts.servedModels()).toEqual(['m-rot']);
    down.setMode('refuse');
    await hosts.update(downId, { enabled: false });
    expect(hosts.servedModels()).toEqual([]);
    await expect(dispatcher.stream(chatRequest('m-rot'), never)).rejects.toMatchObject({
      code: 'no_available_hosts',
    });
    await hosts.update(downId, { enabled: true });
    await hosts.checkAll();
    await hosts.checkAll();
    expect(hosts.get(downId).status).toBe('unhealthy');
    expect(hosts.get(downId).last_error).toMatch(/ECONNREFUSED/);
    await hosts.update(upId, { draining: false });
    expect(hosts.servedModels()).toEqual(['m-rot']);
  });

  it('admin API: register, list, change, drain and remove hosts', async () => {
    const fake = track(await startFakeOllama({ models: ['m-admin'] }));
    const created = await admin('/admin/hosts', 'POST', {
      name: 'gpu-admin-1',
      base_url: `${fake.url}/`,
      provider: 'ollama',
      max_concurrency: 4,
      weight: 2,
      labels: { gpu: 'A100', vram_gb: 80 },
    });
    expect(created.status).toBe(201);
    const host = (await created.json()) as Record<string, unknown>;
    expect(host).toMatchObject({
      name: 'gpu-admin-1',
      base_url: fake.url,
      provider: 'ollama',
      has_api_key: false,
      enabled: true,
      draining: false,
      weight: 2,
      max_concurrency: 4,
      labels: { gpu: 'A100', vram_gb: 80 },
      in_flight: 0,
    });
    await hosts.checkAll();

    const list = (await (await admin('/admin/hosts')).json()) as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      id: host.id,
      status: 'healthy',
      discovered_models: [{ name: 'm-admin', warm: true }],
    });

    const drained = await admin(`/admin/hosts/${String(host.id)}`, 'PATCH', { draining: true });
    expect(drained.status).toBe(200);
    expect(await drained.json()).toMatchObject({ draining: true });
    expect(hosts.servedModels()).not.toContain('m-admin');

    expect(
      (await admin('/admin/hosts', 'POST', { name: 'gpu-admin-2', base_url: fake.url, provider: 'ollama' }))
        .status,
    ).toBe(409);
    const bad = await admin('/admin/hosts', 'POST', { name: 'x', base_url: 'not a url', provider: 'tgi' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/base_url|provider/);
    expect((await admin(`/admin/hosts/${String(host.id)}`, 'PATCH', { max_concurrency: 0 })).status).toBe(
      400,
    );
    expect((await admin('/admin/hosts/not-a-uuid', 'PATCH', { weight: 1 })).status).toBe(400);
    expect((await admin(`/admin/hosts/${String(host.id)}`, 'PATCH', { labels: null })).status).toBe(400);
    expect(
      (await admin(`/admin/hosts/${String(host.id)}`, 'PATCH', { labels: { a: { b: 1 } } })).status,
    ).toBe(400);

    const user = await createUserWithKey(t);
    expect((await admin('/admin/hosts', 'GET', undefined, user.key)).status).toBe(403);

    const removed = await admin(`/admin/hosts/${String(host.id)}`, 'DELETE');
    expect(await removed.json()).toEqual({ id: host.id, deleted: true });
    expect((await admin(`/admin/hosts/${String(host.id)}`)).status).toBe(404);
    expect(hosts.list()).toEqual([]);
  });

  it('changes made in the table by another replica reach this one at the next round', async () => {
    const fake = track(await startFakeOpenAI({ models: ['m-replica'] }));
    const id = await register(t, fake, 'openai');
    await t.dataSource.query(`UPDATE hosts SET max_concurrency = 7, models = '{m-pinned}' WHERE id = $1`, [
      id,
    ]);
    await hosts.checkAll();
    expect(hosts.get(id)).toMatchObject({ max_concurrency: 7, models: ['m-pinned'] });
    expect(hosts.servedModels()).toEqual(['m-pinned']);
    await t.dataSource.query(`DELETE FROM hosts WHERE id = $1`, [id]);
    await hosts.checkAll();
    expect(hosts.list()).toEqual([]);
  });

  it('a health round whose table read started before a host was registered, changed or removed does not undo it', async () => {
    const fake = track(await startFakeOpenAI({ models: ['m-race'] }));
    const repository = (hosts as unknown as { repository: { loadAll(): Promise<unknown[]> } }).repository;
    const loadAll = repository.loadAll.bind(repository);
    // The round's first read of the table is held back until the admin call below has answered.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reads = 0;
    repository.loadAll = async () => {
      const rows = await loadAll();
      if (reads++ === 0) await held;
      return rows;
    };
    try {
      const round = hosts.checkAll();
      const created = await admin('/admin/hosts', 'POST', {
        name: 'gpu-race',
        base_url: fake.url,
        provider: 'openai',
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      release();
      await round;
      expect(hosts.list().map((h) => h.id)).toEqual([id]);
      expect(reads).toBeGreaterThan(1);

      reads = 0;
      const held2 = new Promise<void>((r) => (release = r));
      repository.loadAll = async () => {
        const rows = await loadAll();
        if (reads++ === 0) await held2;
        return rows;
      };
      const round2 = hosts.checkAll();
      expect((await admin(`/admin/hosts/${id}`, 'PATCH', { max_concurrency: 3 })).status).toBe(200);
      release();
      await round2;
      expect(hosts.get(id)).toMatchObject({ max_concurrency: 3, status: 'healthy' });
    } finally {
      repository.loadAll = loadAll;
    }
  });

  it('a health round whose table read already saw a new host keeps that host, checked, when the create answers', async () => {
    const fake = track(await startFakeOpenAI({ models: ['m-race-2'] }));
    const repository = (
      hosts as unknown as {
        repository: { loadAll(): Promise<unknown[]>; insert(c: unknown): Promise<unknown> };
      }
    ).repository;
    const { loadAll, insert } = repository;
    // The row is in the table, but the create has not gone on yet when a round reads it.
    let inserted!: () => void;
    const isInserted = new Promise<void>((r) => (inserted = r));
    let goOn!: () => void;
    const gate = new Promise<void>((r) => (goOn = r));
    repository.insert = async (config: unknown) => {
      const row = await insert.call(repository, config);
      inserted();
      await gate;
      return row;
    };
    let read!: () => void;
    const isRead = new Promise<void>((r) => (read = r));
    repository.loadAll = async () => {
      const rows = await loadAll.call(repository);
      read();
      return rows;
    };
    try {
      const creating = admin('/admin/hosts', 'POST', {
        name: 'gpu-race-2',
        base_url: fake.url,
        provider: 'openai',
      });
      await isInserted;
      const round = hosts.checkAll();
      await isRead;
      // The round has taken the row and started its check of it; now the create goes on.
      await new Promise((r) => setImmediate(r));
      goOn();
      const created = await creating;
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      await round;
      expect(hosts.get(id)).toMatchObject({
        status: 'healthy',
        discovered_models: [{ name: 'm-race-2', warm: false }],
      });
      expect(hosts.servedModels()).toContain('m-race-2');
    } finally {
      repository.loadAll = loadAll;
      repository.insert = insert;
    }
  });

  it('host api keys never appear in reads, errors or logs', async () => {
    const secret = 'sk-host-0123456789-right';
    const wrong = 'sk-host-0123456789-wrong';
    const fake = track(await startFakeOpenAI({ models: ['m-key'], apiKey: secret }));
    const messages: string[] = [];
    const capture: LoggerService = {
      log: (m: unknown, ...rest: unknown[]) => void messages.push(JSON.stringify([m, ...rest])),
      warn: (m: unknown, ...rest: unknown[]) => void messages.push(JSON.stringify([m, ...rest])),
      error: (m: unknown, ...rest: unknown[]) => void messages.push(JSON.stringify([m, ...rest])),
      debug: (m: unknown, ...rest: unknown[]) => void messages.push(JSON.stringify([m, ...rest])),
      verbose: (m: unknown, ...rest: unknown[]) => void messages.push(JSON.stringify([m, ...rest])),
    };
    t.app.useLogger(capture);
    try {
      const created = await admin('/admin/hosts', 'POST', {
        name: 'keyed',
        base_url: fake.url,
        provider: 'openai',
        api_key: wrong,
      });
      const id = ((await created.json()) as { id: string }).id;
      await hosts.checkAll();
      // The fake echoes the presented key in its 401 message, as OpenAI does (masked there).
      expect(hosts.get(id).status).toBe('unhealthy');
      expect(hosts.get(id).last_error).toMatch(/Incorrect API key provided: \[redacted\]/);
      await hosts.update(id, { enabled: true, models: ['m-key'], draining: false });
      await hosts.update(id, { api_key: secret });
      await hosts.checkAll();
      expect(hosts.get(id)).toMatchObject({ status: 'healthy', has_api_key: true });
      const dispatched = await dispatcher.stream(chatRequest('m-key'), never);
      await drain(dispatched.chunks);
      expect(fake.requests[fake.requests.length - 1]?.headers.authorization).toBe(`Bearer ${secret}`);

      const reads = [
        JSON.stringify(created),
        await (await admin('/admin/hosts')).text(),
        await (await admin(`/admin/hosts/${id}`)).text(),
        await (await admin(`/admin/hosts/${id}`, 'PATCH', { weight: 3 })).text(),
        JSON.stringify(hosts.list()),
        JSON.stringify(await t.dataSource.query(`SELECT last_error FROM hosts`)),
      ];
      expect(messages.length).toBeGreaterThan(0);
      for (const text of [...reads, ...messages]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(wrong);
      }
      expect(reads[1]).not.toContain('"api_key"');
    } finally {
      t.app.useLogger(t.app.get(AppLogger));
    }
  });

  it('bootstraps hosts from HOSTS once per base_url, across restarts and replicas', async () => {
    const ollama = track(await startFakeOllama({ models: ['m-boot'] }));
    const openai = track(await startFakeOpenAI({ models: ['m-boot-2'] }));
    const env = { HOSTS: `ollama=${ollama.url},openai=${openai.url}/`, HOST_CHECK_INTERVAL_MS: '600000' };
    const [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    await a.close();
    await b.close();
    const again = await startTestApp(env);
    try {
      const rows = (await t.dataSource.query(
        `SELECT provider, base_url FROM hosts ORDER BY provider`,
      )) as unknown[];
      expect(rows).toEqual([
        { provider: 'ollama', base_url: ollama.url },
        { provider: 'openai', base_url: openai.url },
      ]);
      await again.app.get(HostsService).checkAll();
      expect(again.app.get(HostsService).servedModels()).toEqual(['m-boot', 'm-boot-2']);
    } finally {
      await again.close();
    }
  });
});
