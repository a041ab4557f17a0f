import OpenAI, { APIError, AuthenticationError, NotFoundError, RateLimitError } from 'openai';
import { RateLimitService } from '../../src/ratelimit/rate-limit.service';
import { billingOf } from '../support/billing';
import { FakeHost, startFakeOllama, startFakeOpenAI } from '../fakes';
import { addHost, balanceOf, fundedUser, ledgerSum, usageCredits } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/** llama3.1 costs 0.01 / 0.02 cents per input / output token: 100 / 200 credits. */
const llamaCost = (input: number, output: number) => BigInt(input * 100 + output * 200);

describe('OpenAI-compatible API through the official SDK', () => {
  let t: TestApp;
  let openaiHost: FakeHost;
  let ollamaHost: FakeHost;
  let user: { userId: string; key: string };
  let client: OpenAI;

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    openaiHost = await startFakeOpenAI({ models: ['llama3.1'], tokens: 6 });
    ollamaHost = await startFakeOllama({ models: ['test-embed', 'llava'], embeddingDims: 8 });
    await addHost(t, 'gpu-openai', openaiHost.url, 'openai');
    await addHost(t, 'gpu-ollama', ollamaHost.url, 'ollama');
    await billingOf(t.app).setRate('test-embed', '0.001', '0');
    user = await fundedUser(t, 10_000_000n);
    client = new OpenAI({ apiKey: user.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await t?.close();
    await openaiHost?.close();
    await ollamaHost?.close();
  });

  it('chat: answer, usage and exact billing', async () => {
    const before = await balanceOf(t, user.userId);
    const res = await client.chat.completions.create({
      model: 'llama3.1',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 50,
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.choices[0]?.message.role).toBe('assistant');
    expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage?.completion_tokens).toBe(6);
    const cost = llamaCost(res.usage!.prompt_tokens, res.usage!.completion_tokens);
    expect(before - (await balanceOf(t, user.userId))).toBe(cost);
    expect(await ledgerSum(t, user.userId)).toBe(await balanceOf(t, user.userId));
  });

  it('chat streaming: role chunk, content, finish, usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'llama3.1',
      messages: [{ role: 'user', content: 'Stream please' }],
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let roles = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta.role) roles++;
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    expect(roles).toBe(1);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(6);
  });

  it('text completions and models.list', async () => {
    const res = await client.completions.create({ model: 'llama3.1', prompt: 'Once upon', max_tokens: 20 });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]?.text.length).toBeGreaterThan(0);
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models).toContain('llama3.1');
    expect(models).not.toContain('gemma'); // priced, but no host serves it
    const one = await client.models.retrieve('llama3.1');
    expect(one.id).toBe('llama3.1');
  });

  it('embeddings through an Ollama host', async () => {
    const res = await client.embeddings.create({ model: 'test-embed', input: ['alpha', 'beta gamma'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding).toHaveLength(8);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('passes image parts to a vision model and response_format to the backend', async () => {
    const image = Buffer.from('GIF89a-not-really-an-image').toString('base64');
    await client.chat.completions.create({
      model: 'llava',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: `data:image/gif;base64,${image}` } },
          ],
        },
      ],
      max_tokens: 20,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          schema: { type: 'object', properties: { objects: { type: 'array' } } },
        },
      },
    });
    const sent = ollamaHost.requests[ollamaHost.requests.length - 1]!.body as {
      messages: { content: string; images?: string[] }[];
      format?: unknown;
    };
    expect(sent.messages[0]).toMatchObject({ content: 'What is in this picture?', images: [image] });
    expect(sent.format).toEqual({ type: 'object', properties: { objects: { type: 'array' } } });

    await client.chat.completions.create({
      model: 'llama3.1',
      messages: [{ role: 'user', content: 'json please' }],
      max_tokens: 20,
      response_format: { type: 'json_object' },
    });
    const forwarded = openaiHost.requests[openaiHost.requests.length - 1]!.body as {
      response_format?: unknown;
    };
    expect(forwarded.response_format).toEqual({ type: 'json_object' });

    const remote = await client.chat.completions
      .create({
        model: 'llava',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      })
      .catch((e: unknown) => e);
    expect((remote as APIError).status).toBe(400);
  });

  it('typed errors: AuthenticationError, NotFoundError, 402, RateLimitError, 400 for n > 1 on an Ollama-served model', async () => {
    const bad = new OpenAI({ apiKey: 'sk-le-nope-nope', baseURL: `${t.url}/v1`, maxRetries: 0 });
    await expect(bad.models.list()).rejects.toBeInstanceOf(AuthenticationError);
    const missing = client.chat.completions.create({
      model: 'no-such-model',
      messages: [{ role: 'user', content: 'x' }],
    });
    await expect(missing).rejects.toBeInstanceOf(NotFoundError);

    const poor = await fundedUser(t, 10n);
    const poorClient = new OpenAI({ apiKey: poor.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
    const seen = openaiHost.requests.length;
    const refused = await poorClient.chat.completions
      .create({ model: 'llama3.1', messages: [{ role: 'user', content: 'hello' }], max_tokens: 10 })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(402);
    expect((refused as APIError).code).toBe('insufficient_quota');
    expect(openaiHost.requests.length).toBe(seen);

    const limited = await fundedUser(t, 10_000_000n, { rpm: 1 });
    const limitedClient = new OpenAI({ apiKey: limited.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
    const ok = await limitedClient.chat.completions
      .create({ model: 'llama3.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
      .withResponse();
    expect(ok.response.headers.get('x-ratelimit-limit')).toBe('1');
    expect(ok.response.headers.get('x-ratelimit-remaining')).toBe('0');
    await expect(
      limitedClient.chat.completions.create({
        model: 'llama3.1',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toBeInstanceOf(RateLimitError);

    // llava is served by an Ollama host only, which cannot generate several choices.
    const n2 = await client.chat.completions
      .create({ model: 'llava', messages: [{ role: 'user', content: 'x' }], n: 2 })
      .catch((e: unknown) => e);
    expect((n2 as APIError).status).toBe(400);
    expect((n2 as APIError).param).toBe('n');
  });

  it('limited keys leave no listener behind on the rate-limit connection, request after request', async () => {
    const limits = t.app.get(RateLimitService);
    const principal = { userId: user.userId, keyId: `listeners-${Date.now()}`, rpm: 1000, tpm: 100_000 };
    for (let i = 0; i < 15; i++)
      expect(await limits.admit(principal as never)).toMatchObject({ limit: 1000 });
    const client = (limits as unknown as { client: { listenerCount(event: string): number } }).client;
    expect(client.listenerCount('ready')).toBeLessThanOrEqual(1);
  });

  it('every balance equals its ledger sum and its usage records', async () => {
    const spent = 10_000_000n - (await balanceOf(t, user.userId));
    expect(await usageCredits(t, user.userId)).toBe(spent);
    expect(await ledgerSum(t, user.userId)).toBe(await balanceOf(t, user.userId));
  });
});
