import { readFileSync } from 'node:fs';
import { buildOpenApiDocument } from '../../src/docs/docs';
import { HostsService } from '../../src/hosts/hosts.service';
import { startFakeOllama } from '../fakes';
import { addHost } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

describe('foundation (PostgreSQL + Redis)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /health answers {"status":"ok"} without a key', async () => {
    const res = await fetch(`${t.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /health/ready is the database and Redis only: ready with no GPU host registered', async () => {
    type Ready = { status: string; details: Record<string, { status: string }> };
    // Test files share one database: start from an empty registry (the loop reloads it each round).
    await t.dataSource.query('DELETE FROM hosts');
    await t.app.get(HostsService).checkAll();
    const res = await fetch(`${t.url}/health/ready`);
    const body = (await res.json()) as Ready;
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(Object.keys(body.details).sort()).toEqual(['database', 'redis', 'shutdown']);
    expect(Object.values(body.details).every((d) => d.status === 'up')).toBe(true);
  });

  it('GET /health/hosts is 503 with no healthy host and 200 with per-model detail once one is', async () => {
    type Hosts = { status: string; healthy: number; registered: number; models: unknown[] };
    await t.dataSource.query('DELETE FROM hosts');
    await t.app.get(HostsService).checkAll();
    const without = await fetch(`${t.url}/health/hosts`);
    expect(without.status).toBe(503);
    expect(await without.json()).toEqual({ status: 'error', healthy: 0, registered: 0, models: [] });

    const host = await startFakeOllama({ models: ['llama3.1', 'qwen2.5'] });
    try {
      await addHost(t, 'ready-check', host.url, 'ollama');
      const res = await fetch(`${t.url}/health/hosts`);
      expect(res.status).toBe(200);
      expect((await res.json()) as Hosts).toEqual({
        status: 'ok',
        healthy: 1,
        registered: 1,
        models: [
          { model: 'llama3.1', hosts: 1, healthy: 1 },
          { model: 'qwen2.5', hosts: 1, healthy: 1 },
        ],
      });
    } finally {
      await host.close();
      await t.dataSource.query('DELETE FROM hosts');
      await t.app.get(HostsService).checkAll();
    }
  });

  it('echoes a sane X-Request-Id and generates one otherwise', async () => {
    const given = await fetch(`${t.url}/health`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await fetch(`${t.url}/health`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Swagger UI, the OpenAPI document and ReDoc from local files', async () => {
    const docs = await fetch(`${t.url}/docs`);
    expect(docs.status).toBe(200);
    const html = await docs.text();
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[^"']+\.(js|css)/);

    const json = (await (await fetch(`${t.url}/docs-json`)).json()) as { openapi: string; paths: object };
    expect(json.openapi).toMatch(/^3\./);
    expect(Object.keys(json.paths)).toContain('/health');

    const redoc = await fetch(`${t.url}/redoc`);
    const page = await redoc.text();
    expect(page).toContain('<script src="/redoc/redoc.standalone.js">');
    expect(page).not.toMatch(/https?:\/\//);
    const bundle = await fetch(`${t.url}/redoc/redoc.standalone.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100000);
  });

  it('the committed openapi.json matches the code (regenerate with `npm run openapi`)', () => {
    const committed = JSON.parse(readFileSync('openapi.json', 'utf8')) as unknown;
    const current = JSON.parse(JSON.stringify(buildOpenApiDocument(t.app))) as unknown;
    expect(current).toEqual(committed);
  });

  it('renders malformed JSON as a 400 in each API surface’s own format', async () => {
    const post = (path: string) =>
      fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{bad',
      });
    const native = await post('/api/v1/completions');
    expect(native.status).toBe(400);
    expect(await native.json()).toEqual({ success: false, message: 'Invalid request' });

    const openai = await post('/v1/chat/completions');
    expect(openai.status).toBe(400);
    const body = (await openai.json()) as { error: { type: string; code: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.code).toBe('invalid_request');
  });

  it('exposes Prometheus metrics', async () => {
    await fetch(`${t.url}/health`);
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/le_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    expect(text).toContain('le_process_resident_memory_bytes');
  });

  it('a worker process (APP_ROLE=worker) serves probes and metrics, no API', async () => {
    const worker = await startTestApp({ APP_ROLE: 'worker' });
    try {
      expect((await fetch(`${worker.url}/health`)).status).toBe(200);
      expect((await fetch(`${worker.url}/metrics`)).status).toBe(200);
      const api = await fetch(`${worker.url}/v1/models`, { headers: { Authorization: 'Bearer x' } });
      expect(api.status).toBe(404);
      expect(((await api.json()) as { error: { code: string } }).error.code).toBe('not_found');
    } finally {
      await worker.close();
    }
  });
});
