import { jest } from '@jest/globals';
import type { ChunkBatch, CompletionChunk, CompletionRequest } from '../../src/completions/completion.types';
import type { AppConfig } from '../../src/config/app-config';
import { UpstreamHttp } from '../../src/providers/http/upstream-http';
import type { ProviderHost, ProviderKind } from '../../src/providers/provider.types';
import { ProvidersService } from '../../src/providers/providers.service';
import { UpstreamError } from '../../src/providers/upstream-error';
import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { main } from '../fakes/fake-host.main';

// The adapters against the fake hosts, without the application: wire formats both ways.
const config = { hostConnectTimeoutMs: 1000, hostFirstByteTimeoutMs: 1000 } as AppConfig;
const http = new UpstreamHttp(config);
const providers = new ProvidersService(http);
const never = new AbortController().signal;

const chat = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  kind: 'chat',
  model: 'llama3.1',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'say three words' },
  ],
  maxTokens: 100,
  stream: true,
  ...over,
});

const target = (fake: FakeHost, provider: ProviderKind, apiKey?: string): ProviderHost => ({
  id: 'h',
  name: 'h',
  baseUrl: fake.url,
  provider,
  apiKey,
});

/** The chunks of an answer in order, whatever batches the reads made of them. */
async function collect(batches: AsyncIterable<ChunkBatch>): Promise<CompletionChunk[]> {
  const out: CompletionChunk[] = [];
  for await (const batch of batches) {
    expect(batch.length).toBeGreaterThan(0);
    out.push(...batch);
  }
  return out;
}

const lastBody = (fake: FakeHost) => fake.requests[fake.requests.length - 1]?.body as Record<string, unknown>;

afterAll(() => http.onModuleDestroy());

describe.each([
  ['ollama', startFakeOllama, '/api/chat', '/api/generate'],
  ['openai', startFakeOpenAI, '/v1/chat/completions', '/v1/completions'],
] as const)('%s adapter against its fake', (kind, start, chatPath, completionPath) => {
  let fake: FakeHost;
  const adapter = providers.get(kind);

  beforeAll(async () => {
    fake = await start({ models: ['llama3.1', 'nomic-embed-text'], warm: ['llama3.1'], tokens: 4 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.setMode('ok', { tokens: 4, reportUsage: true }));

  it('streams a chat answer with the usage the host reports (fake rule: words in, tokens out)', async () => {
    const chunks = await collect(adapter.chat(target(fake, kind), chat(), never));
    expect(chunks.map((c) => c.text ?? '').join('')).toBe('tok0 tok1 tok2 tok3 ');
    expect(chunks[chunks.length - 1]).toEqual({
      finishReason: 'stop',
      usage: { inputTokens: 5, outputTokens: 4 },
    });
    expect(fake.requests[fake.requests.length - 1]?.path).toBe(chatPath);
  });

  it('reports "length" when max_tokens cut the answer, and maps the parameters', async () => {
    const request = chat({
      maxTokens: 2,
      temperature: 0.2,
      topP: 0.5,
      seed: 42,
      stop: ['\n'],
      numContext: 8192,
    });
    const chunks = await collect(adapter.chat(target(fake, kind), request, never));
    expect(chunks.filter((c) => c.text).length).toBe(2);
    expect(chunks[chunks.length - 1]?.finishReason).toBe('length');
    const body = lastBody(fake);
    if (kind === 'ollama') {
      expect(body.options).toEqual({
        num_predict: 2,
        num_ctx: 8192,
        temperature: 0.2,
        top_p: 0.5,
        seed: 42,
        stop: ['\n'],
      });
    } else {
      expect(body).toMatchObject({
        max_tokens: 2,
        temperature: 0.2,
        top_p: 0.5,
        seed: 42,
        stop: ['\n'],
        stream: true,
      });
      expect(body.stream_options).toEqual({ include_usage: true });
      expect(body).not.toHaveProperty('num_ctx');
    }
  });

  it('ends without usage when the host reports none', async () => {
    fake.setMode('ok', { reportUsage: false });
    const chunks = await collect(adapter.chat(target(fake, kind), chat(), never));
    expect(chunks[chunks.length - 1]).toEqual({ finishReason: 'stop' });
  });

  it('passes JSON mode, a JSON schema and images in the backend format', async () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const image = 'iVBORw0KGgoAAAANSUhEUg==';
    await collect(
      adapter.chat(
        target(fake, kind),
        chat({
          messages: [{ role: 'user', content: 'what is it', images: [image] }],
          responseFormat: { type: 'json_object' },
        }),
        never,
      ),
    );
    let body = lastBody(fake);
    if (kind === 'ollama') {
      expect(body.format).toBe('json');
      expect(body.messages).toEqual([{ role: 'user', content: 'what is it', images: [image] }]);
    } else {
      expect(body.response_format).toEqual({ type: 'json_object' });
      expect(body.messages).toEqual([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is it' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } },
          ],
        },
      ]);
    }
    await collect(
      adapter.chat(
        target(fake, kind),
        chat({ responseFormat: { type: 'json_schema', name: 'a', schema } }),
        never,
      ),
    );
    body = lastBody(fake);
    if (kind === 'ollama') expect(body.format).toEqual(schema);
    else expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'a', schema } });
  });

  it('streams a text completion from the prompt', async () => {
    const chunks = await collect(
      adapter.complete(target(fake, kind), chat({ kind: 'completion', prompt: 'once upon a time' }), never),
    );
    expect(chunks.map((c) => c.text ?? '').join('')).toBe('tok0 tok1 tok2 tok3 ');
    expect(chunks[chunks.length - 1]?.usage).toEqual({ inputTokens: 4, outputTokens: 4 });
    expect(fake.requests[fake.requests.length - 1]?.path).toBe(completionPath);
    expect(lastBody(fake).prompt).toBe('once upon a time');
  });

  it('embeds with usage', async () => {
    const result = await adapter.embed(
      target(fake, kind),
      { model: 'nomic-embed-text', input: ['one two', 'three'] },
      never,
    );
    expect(result.embeddings).toHaveLength(2);
    expect(result.embeddings[0]).toHaveLength(8);
    expect(result.embeddings[0]).not.toEqual(result.embeddings[1]);
    expect(result.usage).toEqual({ inputTokens: 3 });
  });

  it('lists models (warm where the backend says so)', async () => {
    const models = await adapter.listModels(target(fake, kind), never);
    if (kind === 'ollama')
      expect(models).toEqual([
        { name: 'llama3.1', warm: true },
        { name: 'nomic-embed-text', warm: false },
      ]);
    else expect(models).toEqual([{ name: 'llama3.1' }, { name: 'nomic-embed-text' }]);
  });

  it('turns error answers into UpstreamError with status and the host message', async () => {
    const missing = collect(adapter.chat(target(fake, kind), chat({ model: 'nope' }), never));
    await expect(missing).rejects.toMatchObject({ kind: 'status', status: 404, retryable: true });
    await expect(missing).rejects.toThrow(/nope/);
    for (const [mode, status] of [
      ['error500', 500],
      ['error503', 503],
      ['error429', 429],
    ] as const) {
      fake.setMode(mode);
      await expect(collect(adapter.chat(target(fake, kind), chat(), never))).rejects.toMatchObject({
        kind: 'status',
        status,
        retryable: true,
      });
    }
  });

  it('a stream cut midway is an error after the delivered chunks', async () => {
    fake.setMode('die-mid-stream', { dieAfter: 2 });
    const seen: CompletionChunk[] = [];
    const error = await (async () => {
      try {
        for await (const batch of adapter.chat(target(fake, kind), chat(), never)) seen.push(...batch);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('protocol');
    expect(seen.map((c) => c.text)).toEqual(['tok0 ', 'tok1 ']);
  });

  it('a hanging host is a timeout; an abort closes the socket', async () => {
    fake.setMode('hang');
    await expect(collect(adapter.chat(target(fake, kind), chat(), never))).rejects.toMatchObject({
      kind: 'timeout',
    });
    fake.setMode('ok', { tokenDelayMs: 50, tokens: 50 });
    const controller = new AbortController();
    const closedBefore = fake.clientClosed;
    const iterator = adapter.chat(target(fake, kind), chat(), controller.signal)[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual([{ text: 'tok0 ' }]);
    controller.abort();
    await expect(iterator.next()).rejects.toMatchObject({ kind: 'aborted' });
    await waitFor(() => fake.clientClosed > closedBefore);
    fake.setMode('ok', { tokenDelayMs: 0, tokens: 4 });
  });

  it('a refused connection is a connect error', async () => {
    fake.setMode('refuse');
    await settle();
    await expect(collect(adapter.chat(target(fake, kind), chat(), never))).rejects.toMatchObject({
      kind: 'connect',
      retryable: true,
    });
    fake.setMode('ok');
    await waitFor(
      async () => (await adapter.listModels(target(fake, kind), never).catch(() => [])).length > 0,
    );
  });
});

describe('host api keys', () => {
  it('sends the key as a bearer token; a wrong key is a 401 UpstreamError', async () => {
    const fake = await startFakeOpenAI({ apiKey: 'sk-host-right' });
    try {
      const adapter = providers.get('openai');
      expect(await adapter.listModels(target(fake, 'openai', 'sk-host-right'), never)).toEqual([
        { name: 'llama3.1' },
      ]);
      expect(fake.requests[0]?.headers.authorization).toBe('Bearer sk-host-right');
      await expect(adapter.listModels(target(fake, 'openai', 'sk-host-wrong'), never)).rejects.toMatchObject({
        kind: 'status',
        status: 401,
      });
    } finally {
      await fake.close();
    }
  });

  it('accepts an OpenAI-compatible base_url that already ends in /v1', async () => {
    const fake = await startFakeOpenAI();
    try {
      const host = { ...target(fake, 'openai'), baseUrl: `${fake.url}/v1` };
      expect(await providers.get('openai').listModels(host, never)).toEqual([{ name: 'llama3.1' }]);
      expect(fake.requests[0]?.path).toBe('/v1/models');
    } finally {
      await fake.close();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fake host as a process (benchmark)', () => {
  it('main() starts the kind, port, tokens and delay given on the command line', async () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const fake = await main([
      '--kind',
      'openai',
      '--tokens',
      '2',
      '--token-delay-ms',
      '1',
      '--models',
      'a,b',
    ]);
    write.mockRestore();
    try {
      const adapter = providers.get('openai');
      expect(await adapter.listModels(target(fake, 'openai'), never)).toEqual([{ name: 'a' }, { name: 'b' }]);
      const chunks = await collect(adapter.chat(target(fake, 'openai'), chat({ model: 'b' }), never));
      expect(chunks.map((c) => c.text ?? '').join('')).toBe('tok0 tok1 ');
    } finally {
      await fake.close();
    }
  });
});

/** Lets the client see sockets a fake just dropped, so the next request connects afresh. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}
