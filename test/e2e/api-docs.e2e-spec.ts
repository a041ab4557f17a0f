import type { OpenAPIObject } from '@nestjs/swagger';
import type { Browser } from 'playwright-core';
import { buildOpenApiDocument } from '../../src/docs/docs';
import { launchBrowser } from '../support/browser';
import { startTestApp, TestApp } from '../support/test-app';

type Operation = {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string }; examples?: object }> }>;
};

const ERROR_SCHEMAS = new Set(
  [
    'NativeErrorResponse',
    'OpenAiErrorResponse',
    'AdminErrorResponse',
    'LlmApiErrorResponse',
    'AnthropicErrorResponse',
    'OllamaErrorResponse',
  ].map((n) => `#/components/schemas/${n}`),
);

const OLLAMA = new Set([
  '/api/tags',
  '/api/show',
  '/api/chat',
  '/api/generate',
  '/api/embed',
  '/api/embeddings',
]);
/** Operations that need no key: the probes, the metrics, and Ollama's version (as Ollama serves it). */
const isPublic = (path: string) =>
  path.startsWith('/health') || path === '/metrics' || path === '/api/version';

/** The error shape each surface renders (src/common/api-exception.filter.ts). */
function errorSchemaOf(path: string): string {
  if (path.startsWith('/api/v1/ai/')) return 'OpenAiErrorResponse';
  if (OLLAMA.has(path)) return 'OllamaErrorResponse';
  if (path.startsWith('/v1/messages')) return 'AnthropicErrorResponse';
  if (path.startsWith('/api/')) return 'NativeErrorResponse';
  if (path.startsWith('/v1/')) return 'OpenAiErrorResponse';
  if (path.startsWith('/text_model/') || path.startsWith('/image_model/')) return 'LlmApiErrorResponse';
  return 'AdminErrorResponse';
}

describe('API documentation', () => {
  let t: TestApp;
  let doc: OpenAPIObject;
  let operations: { method: string; path: string; op: Operation }[];

  beforeAll(async () => {
    t = await startTestApp();
    doc = JSON.parse(JSON.stringify(buildOpenApiDocument(t.app))) as OpenAPIObject;
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ method, path, op })),
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('every operation has a readable unique operationId, a summary and a tag', () => {
    expect(operations.length).toBeGreaterThan(30);
    const ids = operations.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect([where, op.operationId]).toEqual([where, expect.stringMatching(/^[a-z][A-Za-z0-9]*$/)]);
      expect([where, (op.summary ?? '').length > 10]).toEqual([where, true]);
      expect([where, (op.tags ?? []).length]).toEqual([where, 1]);
    }
    const tagNames = new Set((doc.tags ?? []).map((tag) => tag.name));
    for (const { op } of operations) expect(tagNames.has(op.tags?.[0] ?? '')).toBe(true);
  });

  it('every error response has its surface’s shared schema and an example', () => {
    let errors = 0;
    for (const { method, path, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        errors++;
        const where = `${method.toUpperCase()} ${path} ${status}`;
        const json = response.content?.['application/json'];
        expect([where, Boolean(json?.schema)]).toEqual([where, true]);
        if (path.startsWith('/health')) continue;
        expect([where, json?.schema?.$ref]).toEqual([where, `#/components/schemas/${errorSchemaOf(path)}`]);
        expect([where, ERROR_SCHEMAS.has(json?.schema?.$ref ?? '')]).toEqual([where, true]);
        expect([where, Object.keys(json?.examples ?? {}).length > 0]).toEqual([where, true]);
      }
    }
    expect(errors).toBeGreaterThan(100);
  });

  it('every secured operation documents 401, and 401 and 402 examples differ', () => {
    const secured = operations.filter(({ op }) => (op.security ?? []).length > 0);
    // Everything but the probes and metrics needs a key.
    expect(secured.map((o) => o.path).filter(isPublic)).toEqual([]);
    expect(secured.length).toBe(operations.filter((o) => !isPublic(o.path)).length);
    for (const { method, path, op } of secured) {
      const where = `${method.toUpperCase()} ${path}`;
      expect([where, Boolean(op.responses['401']?.content?.['application/json']?.schema)]).toEqual([
        where,
        true,
      ]);
    }
    const chat = operations.find((o) => o.path === '/api/v1/completions')?.op as Operation;
    const examples = (status: string) =>
      JSON.stringify(chat.responses[status]?.content?.['application/json']?.examples);
    expect(examples('401')).toContain('Invalid API key');
    expect(examples('401')).toContain('Authorization header required');
    expect(examples('402')).toContain('Insufficient credits');
    expect(examples('401')).not.toEqual(examples('402'));
  });

  it('the bearer scheme describes the sk-le- key and claims no JWT format', () => {
    const schemes = doc.components?.securitySchemes as unknown as Record<string, Record<string, string>>;
    expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.bearer?.bearerFormat).toBeUndefined();
    expect(schemes.bearer?.description).toContain('sk-le-');
    expect(JSON.stringify(doc)).not.toContain('JWT"');
  });

  describe('in a headless browser', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it.each([
      ['/docs', '.swagger-ui .info .title'],
      ['/redoc', '.api-info h1'],
    ])('%s loads every request from the app and renders the API title', async (path, titleSelector) => {
      const page = await browser.newPage();
      const requests: string[] = [];
      const failed: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('requestfailed', (r) => failed.push(r.url()));
      try {
        await page.goto(`${t.url}${path}`, { waitUntil: 'networkidle' });
        await page.waitForSelector(titleSelector, { timeout: 20000 });
        expect(await page.textContent(titleSelector)).toContain('LlmEndpoint API');
        // ReDoc's sidebar footer (its logo was on a CDN) is rendered and its image loaded from here.
        if (path === '/redoc') {
          const logo = await page.waitForSelector('img[alt="redocly logo"]');
          expect(
            await logo.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
          ).toBeGreaterThan(0);
        }
        await page.waitForLoadState('networkidle');
        const outside = requests.filter((u) => !u.startsWith(`${t.url}/`) && !/^(data|blob):/.test(u));
        expect(outside).toEqual([]);
        expect(failed).toEqual([]);
        expect(requests.length).toBeGreaterThan(1);
      } finally {
        await page.close();
      }
    });
  });
});
