import { request as httpRequest } from 'node:http';
import {
  Catch,
  Injectable,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type NestInterceptor,
} from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
} from '@nestjs/common/constants.js';
import { fastRoutes } from '../../src/common/fast-path-routes';
import { NativeCompletionsController } from '../../src/completions/native/native-completions.controller';
import { OpenAiController } from '../../src/completions/openai/openai.controller';
import { MetricsService } from '../../src/metrics/metrics.service';
import { FakeHost, startFakeOpenAI } from '../fakes';
import { addHost, balanceOf, fundedUser, ledgerSum } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

interface Answer {
  status: number;
  contentType: string | undefined;
  rateLimit: (string | undefined)[];
  body: string;
}

/**
 * The hot completion routes are served by `common/fast-path.ts` in front of express. A request
 * with a chunked body always goes through express and Nest, so sending every case both ways
 * must give the same answer (ids and timestamps aside) and the same billing.
 */
describe('fast path: same answers as the Nest route it stands in for', () => {
  let t: TestApp;
  let host: FakeHost;
  let rich: { userId: string; key: string };
  let poor: { userId: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    host = await startFakeOpenAI({ models: ['llama3.1'], tokens: 4 });
    await addHost(t, 'gpu-fast-path', host.url, 'openai');
    rich = await fundedUser(t, 10_000_000n, { rpm: 1000 });
    poor = await fundedUser(t, 1n);
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  function send(
    path: string,
    body: string,
    headers: Record<string, string>,
    chunked: boolean,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const bytes = Buffer.from(body, 'utf8');
      const req = httpRequest(`${t.url}${path}`, {
        method: 'POST',
        headers: chunked ? headers : { ...headers, 'Content-Length': String(bytes.length) },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            rateLimit: ['x-ratelimit-limit', 'x-ratelimit-remaining'].map((h) => res.headers[h] as string),
            body: normalize(text),
          }),
        );
      });
      if (chunked) {
        // Two writes without a Content-Length: Transfer-Encoding: chunked.
        req.write(bytes.subarray(0, 1));
        req.end(bytes.subarray(1));
      } else req.end(bytes);
    });
  }

  /** Ids, timestamps and the remaining-requests count differ between any two answers. */
  function normalize(text: string): string {
    return text
      .replace(/"(chatcmpl|cmpl)-[^"]+"/g, '"$1-ID"')
      .replace(/"task_id":"[0-9a-f-]{36}"/g, '"task_id":"ID"')
      .replace(/"created":\d+/g, '"created":0')
      .replace(/"x-request-id":"[^"]+"/gi, '');
  }

  const chat = (extra: object = {}) =>
    JSON.stringify({
      model: 'llama3.1',
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 4,
      ...extra,
    });
  const CASES: [string, string, 'rich' | 'poor' | 'none' | 'wrong'][] = [
    ['/v1/chat/completions', chat(), 'rich'],
    ['/v1/chat/completions', chat({ stream: true, stream_options: { include_usage: true } }), 'rich'],
    ['/v1/chat/completions', '\ufeff' + chat(), 'rich'],
    ['/v1/chat/completions', chat({ model: 'no-such-model' }), 'rich'],
    ['/v1/chat/completions', chat({ max_tokens: -1 }), 'rich'],
    ['/v1/chat/completions', chat(), 'poor'],
    ['/v1/chat/completions', chat(), 'none'],
    ['/v1/chat/completions', chat(), 'wrong'],
    ['/v1/chat/completions', '{"model":', 'rich'],
    ['/v1/chat/completions', '"text"', 'rich'],
    ['/v1/chat/completions', '', 'rich'],
    ['/v1/chat/completions', '  \n', 'rich'],
    ['/v1/chat/completions', ' 42', 'rich'],
    ['/v1/chat/completions', '{"model": "llama3.1", "messages": [}', 'rich'],
    ['/v1/completions', JSON.stringify({ model: 'llama3.1', prompt: 'once upon', max_tokens: 3 }), 'rich'],
    [
      '/v1/completions',
      JSON.stringify({ model: 'llama3.1', prompt: 'once', max_tokens: 3, stream: true }),
      'rich',
    ],
    ['/v1/embeddings', JSON.stringify({ model: 'llama3.1', input: ['alpha', 'beta gamma'] }), 'rich'],
    ['/v1/embeddings', JSON.stringify({ model: 'llama3.1' }), 'rich'],
    ['/api/v1/completions', chat(), 'rich'],
    ['/api/v1/completions', chat({ stream: true }), 'rich'],
    ['/api/v1/completions', chat(), 'poor'],
    ['/api/v1/completions', '[1,', 'none'],
    ['/api/v1/qcompletions', chat(), 'rich'],
    ['/api/v1/qcompletions', chat(), 'poor'],
    ['/api/v1/qcompletions', chat({ max_tokens: 'many' }), 'rich'],
    ['/api/v1/qcompletions', '{"model":', 'rich'],
    ['/api/v1/qcompletions', chat(), 'none'],
  ];

  it.each(CASES)('%s %s (%s key): fast and Nest answers match', async (path, body, who) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (who === 'rich') headers.Authorization = `Bearer ${rich.key}`;
    if (who === 'poor') headers.Authorization = `Bearer ${poor.key}`;
    if (who === 'wrong') headers.Authorization = 'Bearer sk-le-nothing-here';
    const before = await fastPathServed(t);
    const fast = await send(path, body, headers, false);
    expect(await fastPathServed(t)).toBe(before + 1);
    const nest = await send(path, body, headers, true);
    expect(await fastPathServed(t)).toBe(before + 1);
    expect(fast.status).toBeGreaterThanOrEqual(200);
    expect(fast.status).toBeLessThan(500);
    expect({ ...fast, rateLimit: fast.rateLimit[0] }).toEqual({ ...nest, rateLimit: nest.rateLimit[0] });
    if (fast.rateLimit[1] !== undefined)
      expect(Number(nest.rateLimit[1])).toBe(Number(fast.rateLimit[1]) - 1);
  });

  it('answers errors in the surface format: native and OpenAI', async () => {
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${poor.key}` };
    const native = await send('/api/v1/completions', chat(), headers, false);
    expect(native.status).toBe(402);
    expect(JSON.parse(native.body)).toEqual({ success: false, message: expect.any(String) });
    const openai = await send('/v1/chat/completions', '{"model":', headers, false);
    expect(openai.status).toBe(400);
    expect(JSON.parse(openai.body)).toEqual({
      error: {
        message: 'Unexpected end of JSON input',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_request',
      },
    });
  });

  it('leaves other content types, charsets, encodings and oversized bodies to express', async () => {
    const auth = { Authorization: `Bearer ${rich.key}` };
    const before = await fastPathServed(t);
    const latin = await send(
      '/v1/chat/completions',
      chat(),
      { ...auth, 'Content-Type': 'application/json; charset=latin1' },
      false,
    );
    expect(latin.status).toBe(415);
    const text = await send('/v1/chat/completions', chat(), { ...auth, 'Content-Type': 'text/plain' }, false);
    expect(text.status).toBe(400);
    const slash = await send(
      '/v1/chat/completions/',
      chat(),
      { ...auth, 'Content-Type': 'application/json' },
      false,
    );
    expect(slash.status).toBe(200);
    expect(await fastPathServed(t)).toBe(before);
  });

  it('bills both paths alike: balance equals the ledger', async () => {
    expect(await balanceOf(t, rich.userId)).toBe(await ledgerSum(t, rich.userId));
    expect(await balanceOf(t, poor.userId)).toBe(1n);
  });
});

/** Requests the app's fast path took (le_http_fast_path_requests_total on /metrics). */
async function fastPathServed(app: TestApp): Promise<number> {
  const metric = app.app.get(MetricsService).registry.getSingleMetric('le_http_fast_path_requests_total');
  return (await metric!.get()).values[0]?.value ?? 0;
}

@Injectable()
class RefuseAll implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@Injectable()
class Passthrough implements NestInterceptor {
  intercept(_ctx: unknown, next: CallHandler) {
    return next.handle();
  }
}

@Catch()
class Swallow implements ExceptionFilter {
  catch(): void {}
}

/**
 * The fast path is built from Nest's metadata of the hot handlers: a guard, interceptor or filter
 * added to one of them later cannot apply to the express path only; the app refuses to start.
 */
describe("fast path: built from the handlers' Nest metadata", () => {
  const chat = Object.getOwnPropertyDescriptor(OpenAiController.prototype, 'chat')!;
  const embeddings = Object.getOwnPropertyDescriptor(OpenAiController.prototype, 'embeddings')!;

  it('serves the paths Nest routes those handlers on', async () => {
    const t = await startTestApp();
    try {
      const routes = fastRoutes(t.app, [
        { controller: OpenAiController, method: 'chat' },
        { controller: NativeCompletionsController, method: 'create' },
      ]);
      expect(routes.map((r) => r.path)).toEqual(['/v1/chat/completions', '/api/v1/completions']);
      // The same method objects Nest's router calls.
      expect(() => fastRoutes(t.app, [{ controller: OpenAiController, method: 'listModels' }])).toThrow(
        'Fast path: OpenAiController.listModels is not a POST route',
      );
    } finally {
      await t.close();
    }
  });

  it.each([
    [
      'a guard',
      GUARDS_METADATA,
      () => UseGuards(RefuseAll)(OpenAiController.prototype, 'chat', chat),
      'OpenAiController.chat carries guards (RefuseAll)',
    ],
    [
      'an interceptor',
      INTERCEPTORS_METADATA,
      () => UseInterceptors(Passthrough)(OpenAiController.prototype, 'embeddings', embeddings),
      'OpenAiController.embeddings carries interceptors (Passthrough)',
    ],
    [
      'an exception filter',
      EXCEPTION_FILTERS_METADATA,
      () => UseFilters(Swallow)(OpenAiController.prototype, 'chat', chat),
      'OpenAiController.chat carries exception filters (Swallow)',
    ],
  ])(
    'refuses to start when a hot handler gets %s the fast path does not run',
    async (_what, key, add, message) => {
      add();
      try {
        await expect(startTestApp()).rejects.toThrow(message);
      } finally {
        Reflect.deleteMetadata(key, chat.value as object);
        Reflect.deleteMetadata(key, embeddings.value as object);
      }
      // Without it, the same app starts and its fast path takes the request.
      const t = await startTestApp();
      try {
        const before = await fastPathServed(t);
        const res = await fetch(`${t.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Content-Length': '2' },
          body: '{}',
        });
        expect(res.status).toBe(401);
        expect(await fastPathServed(t)).toBe(before + 1);
      } finally {
        await t.close();
      }
    },
  );
});
