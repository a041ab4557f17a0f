import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, tool } from 'ai';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { z } from 'zod';
import { billingOf } from '../support/billing';
import { FakeHost, FakeRequest, FakeToolCall, startFakeOllama, startFakeOpenAI } from '../fakes';
import { addHost, balanceOf, eventually, fundedUser, ledgerSum, removeHosts } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/** After a tool result the fake model answers in text; otherwise it calls the first tool offered. */
function fakeModel(body: Record<string, unknown>): FakeToolCall[] {
  const messages = body.messages as { role: string }[];
  if (messages[messages.length - 1]!.role === 'tool') return [];
  const name = (body.tools as { function: { name: string } }[])[0]!.function.name;
  return [{ name, arguments: { city: 'Paris' } }];
}

const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function lastChat(host: FakeHost): Record<string, unknown> {
  const chats = host.requests.filter(
    (r: FakeRequest) =>
      r.path === '/api/chat' || r.path === '/v1/chat/completions' || r.path === '/api/generate',
  );
  return chats[chats.length - 1]!.body as Record<string, unknown>;
}

type UsageRow = {
  surface: string;
  status: string;
  input_tokens: number;
  output_tokens: number;
  credits: string;
};

describe('Responses, Anthropic Messages and Ollama dialects through their real clients', () => {
  let t: TestApp;
  let ollamaHost: FakeHost;
  let openaiHost: FakeHost;
  let user: { userId: string; key: string };
  const hostIds: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    const billing = billingOf(t.app);
    await billing.setRate('test-qwen-tools', '0.01', '0.02');
    await billing.setRate('test-slow-dialect', '0.01', '0.02');
    await billing.setRate('test-embed', '0.01', '0');
    ollamaHost = await startFakeOllama({ models: ['llama3.1', 'llava', 'test-embed'], toolCalls: fakeModel });
    openaiHost = await startFakeOpenAI({ models: ['test-qwen-tools'], toolCalls: fakeModel, tokens: 4 });
    hostIds.push(
      await addHost(t, 'gpu-dialects-ollama', ollamaHost.url, 'ollama'),
      await addHost(t, 'gpu-dialects-openai', openaiHost.url, 'openai'),
    );
    user = await fundedUser(t, 100_000_000n);
  });
  afterAll(async () => {
    await removeHosts(t, hostIds);
    await t?.close();
    await Promise.all([ollamaHost?.close(), openaiHost?.close()]);
  });

  const openai = () => new OpenAI({ apiKey: user.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
  const anthropic = (key = user.key) => new Anthropic({ apiKey: key, baseURL: t.url, maxRetries: 0 });
  const ollama = (key = user.key) => new Ollama({ host: t.url, headers: { Authorization: `Bearer ${key}` } });

  describe('POST /v1/responses (openai SDK, Vercel AI SDK)', () => {
    it('responses.create: plain text with output, output_text and usage', async () => {
      const response = await openai().responses.create({
        model: 'llama3.1',
        instructions: 'Be brief.',
        input: 'Tell me about GPUs',
        max_output_tokens: 16,
      });
      expect(response.object).toBe('response');
      expect(response.status).toBe('completed');
      expect(response.output_text).toBe('tok0 tok1 tok2 tok3 tok4 ');
      expect(response.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
      expect(response.usage).toMatchObject({ input_tokens: 6, output_tokens: 5, total_tokens: 11 });
      expect(lastChat(ollamaHost).messages).toEqual([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Tell me about GPUs' },
      ]);
    });

    it('a stream with for await: the typed events in order, ending in response.completed with usage', async () => {
      const stream = await openai().responses.create({
        model: 'test-qwen-tools',
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
        stream: true,
      });
      const types: string[] = [];
      let text = '';
      let usage: unknown;
      const sequence: number[] = [];
      for await (const event of stream) {
        types.push(event.type);
        sequence.push(event.sequence_number);
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') usage = event.response.usage;
      }
      expect(types.slice(0, 4)).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
      ]);
      expect(types.slice(-4)).toEqual([
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
      expect(sequence).toEqual(sequence.map((_, i) => i));
      expect(text).toBe('tok0 tok1 tok2 tok3 ');
      expect(usage).toMatchObject({ output_tokens: 4 });
    });

    it('a function-call round trip (function_call → function_call_output), streamed and not', async () => {
      const tools: OpenAI.Responses.FunctionTool[] = [
        {
          type: 'function',
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
          strict: false,
        },
      ];
      for (const model of ['llama3.1', 'test-qwen-tools']) {
        const first = await openai().responses.create({ model, input: 'Weather in Paris?', tools });
        const call = first.output.find((o) => o.type === 'function_call')!;
        expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'completed' });
        expect(call.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ city: 'Paris' });

        const stream = openai().responses.stream({ model, input: 'Weather in Paris?', tools });
        const deltas: string[] = [];
        stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
        const streamed = await stream.finalResponse();
        const streamedCall = streamed.output.find((o) => o.type === 'function_call')!;
        expect(streamedCall.type === 'function_call' && JSON.parse(streamedCall.arguments)).toEqual({
          city: 'Paris',
        });
        expect(deltas.join('')).toBe(streamedCall.type === 'function_call' ? streamedCall.arguments : '');

        const callId = call.type === 'function_call' ? call.call_id : '';
        const second = await openai().responses.create({
          model,
          input: [
            { role: 'user', content: 'Weather in Paris?' },
            call,
            { type: 'function_call_output', call_id: callId, output: '{"temperature":21}' },
          ],
          tools,
        });
        expect(second.output_text).toMatch(/^tok0 /);
        const messages = lastChat(model === 'llama3.1' ? ollamaHost : openaiHost).messages as Record<
          string,
          unknown
        >[];
        expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
        expect(messages[2]).toMatchObject({ content: '{"temperature":21}', tool_call_id: callId });
      }
    });

    it('text.format json_schema reaches the host as its structured-output setting', async () => {
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      await openai().responses.create({
        model: 'llama3.1',
        input: 'Answer in JSON',
        text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
      });
      expect(lastChat(ollamaHost).format).toEqual(schema);
      await openai().responses.create({
        model: 'test-qwen-tools',
        input: 'Answer in JSON',
        text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
      });
      expect(lastChat(openaiHost).response_format).toEqual({
        type: 'json_schema',
        json_schema: { name: 'answer', schema, strict: true },
      });
    });

    it("the Vercel AI SDK's default openai(model) provider (Responses) with tools over two steps", async () => {
      const provider = createOpenAI({ baseURL: `${t.url}/v1`, apiKey: user.key });
      const plain = await generateText({ model: provider('test-qwen-tools'), prompt: 'hi', maxRetries: 0 });
      expect(plain.text).toBe('tok0 tok1 tok2 tok3 ');
      expect(plain.usage.outputTokens).toBe(4);
      const asked = openaiHost.requests.length;
      const result = await generateText({
        model: provider('llama3.1'),
        tools: {
          get_weather: tool({
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => ({ city, temperature: 21 }),
          }),
        },
        stopWhen: stepCountIs(3),
        prompt: 'Weather in Paris?',
        maxRetries: 0,
      });
      expect(result.steps).toHaveLength(2);
      expect(result.steps[0]!.toolCalls[0]!.input).toEqual({ city: 'Paris' });
      expect(result.text).toMatch(/^tok0 /);
      expect(openaiHost.requests.length).toBe(asked);
    });
  });

  describe('stored responses: previous_response_id, item_reference, retrieve, delete', () => {
    it('a follow-up names the previous response and the host gets the whole conversation', async () => {
      const first = await openai().responses.create({
        model: 'llama3.1',
        instructions: 'Be brief.',
        input: 'My name is Ada',
      });
      expect((first as unknown as { store: boolean }).store).toBe(true);
      const second = await openai().responses.create({
        model: 'llama3.1',
        previous_response_id: first.id,
        input: 'What is my name?',
      });
      expect(second.previous_response_id).toBe(first.id);
      // The instructions are not carried over (OpenAI's rule); the turns are.
      expect(lastChat(ollamaHost).messages).toEqual([
        { role: 'user', content: 'My name is Ada' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'What is my name?' },
      ]);

      const streamed = await openai()
        .responses.stream({ model: 'test-qwen-tools', input: 'Remember 42' })
        .finalResponse();
      const third = await openai().responses.create({
        model: 'test-qwen-tools',
        previous_response_id: streamed.id,
        input: 'Which number?',
      });
      expect(third.status).toBe('completed');
      expect((lastChat(openaiHost).messages as unknown[]).length).toBe(3);
    });

    it('retrieve and delete a stored response; another user sees none of it; store: false keeps nothing', async () => {
      const kept = await openai().responses.create({ model: 'llama3.1', input: 'keep me' });
      const retrieved = await openai().responses.retrieve(kept.id);
      expect(retrieved.output_text).toBe(kept.output_text);
      expect(retrieved.id).toBe(kept.id);

      const other = await fundedUser(t, 1_000_000n);
      const otherClient = new OpenAI({ apiKey: other.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
      await expect(otherClient.responses.retrieve(kept.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      const borrowed = await otherClient.responses
        .create({ model: 'llama3.1', previous_response_id: kept.id, input: 'x' })
        .catch((e: unknown) => e);
      expect((borrowed as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
      expect(await balanceOf(t, other.userId)).toBe(1_000_000n);
      const referenced = await otherClient.responses
        .create({ model: 'llama3.1', input: [{ type: 'item_reference', id: kept.output[0]!.id! }] })
        .catch((e: unknown) => e);
      expect((referenced as InstanceType<typeof OpenAI.APIError>).status).toBe(400);

      const deleted = await openai().responses.delete(kept.id);
      expect(deleted as unknown).toMatchObject({ id: kept.id, deleted: true });
      await expect(openai().responses.retrieve(kept.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);

      const unstored = await openai().responses.create({
        model: 'llama3.1',
        input: 'forget me',
        store: false,
      });
      expect((unstored as unknown as { store: boolean }).store).toBe(false);
      await expect(openai().responses.retrieve(unstored.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('the Vercel AI SDK continues a conversation with item_reference to the stored assistant turn', async () => {
      const provider = createOpenAI({ baseURL: `${t.url}/v1`, apiKey: user.key });
      const first = await generateText({
        model: provider('llama3.1'),
        prompt: 'My name is Ada',
        maxRetries: 0,
      });
      await generateText({
        model: provider('llama3.1'),
        messages: [
          { role: 'user', content: 'My name is Ada' },
          ...first.response.messages,
          { role: 'user', content: 'What is my name?' },
        ],
        maxRetries: 0,
      });
      const sent = ollamaHost.requests[ollamaHost.requests.length - 1]!;
      expect(sent.body).toMatchObject({
        messages: [
          { role: 'user', content: 'My name is Ada' },
          { role: 'assistant', content: first.text },
          { role: 'user', content: 'What is my name?' },
        ],
      });
    });
  });

  describe('POST /v1/messages (@anthropic-ai/sdk)', () => {
    it('messages.create with a system prompt: text block, stop_reason, usage', async () => {
      const message = await anthropic().messages.create({
        model: 'llama3.1',
        max_tokens: 16,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Tell me about GPUs' }],
      });
      expect(message).toMatchObject({
        type: 'message',
        role: 'assistant',
        stop_reason: 'end_turn',
        content: [{ type: 'text', text: 'tok0 tok1 tok2 tok3 tok4 ' }],
        usage: { input_tokens: 6, output_tokens: 5 },
      });
      expect(message.id).toMatch(/^msg_/);
      expect(lastChat(ollamaHost).messages).toEqual([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Tell me about GPUs' },
      ]);
    });

    it('messages.stream with finalMessage(): the event sequence rebuilds the message and its usage', async () => {
      const stream = anthropic().messages.stream({
        model: 'test-qwen-tools',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      });
      const events: string[] = [];
      stream.on('streamEvent', (e) => events.push(e.type));
      const final = await stream.finalMessage();
      expect(final.content).toEqual([{ type: 'text', text: 'tok0 tok1 tok2 tok3 ' }]);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage.output_tokens).toBe(4);
      expect(events[0]).toBe('message_start');
      expect(events.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    });

    it('a tool_use → tool_result round trip, streamed and not', async () => {
      const tools: Anthropic.Tool[] = [
        { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ];
      for (const model of ['llama3.1', 'test-qwen-tools']) {
        const first = await anthropic().messages.create({
          model,
          max_tokens: 64,
          tools,
          messages: [{ role: 'user', content: 'Weather in Paris?' }],
        });
        expect(first.stop_reason).toBe('tool_use');
        const use = first.content.find((b) => b.type === 'tool_use')!;
        expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });

        const streamed = await anthropic()
          .messages.stream({
            model,
            max_tokens: 64,
            tools,
            messages: [{ role: 'user', content: 'Weather in Paris?' }],
          })
          .finalMessage();
        expect(streamed.stop_reason).toBe('tool_use');
        expect(streamed.content.find((b) => b.type === 'tool_use')).toMatchObject({
          input: { city: 'Paris' },
        });

        const useId = use.type === 'tool_use' ? use.id : '';
        const second = await anthropic().messages.create({
          model,
          max_tokens: 64,
          tools,
          messages: [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: first.content },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: useId, content: 'sunny, 21 °C' }] },
          ],
        });
        expect(second.stop_reason).toBe('end_turn');
        const sent = lastChat(model === 'llama3.1' ? ollamaHost : openaiHost).messages as Record<
          string,
          unknown
        >[];
        expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
        expect(sent[2]).toMatchObject({ content: 'sunny, 21 °C', tool_call_id: useId });
      }
    });

    it('an image block reaches a vision host as base64', async () => {
      await anthropic().messages.create({
        model: 'llava',
        max_tokens: 8,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } },
              { type: 'text', text: 'What is this?' },
            ],
          },
        ],
      });
      expect(lastChat(ollamaHost).messages).toEqual([
        { role: 'user', content: 'What is this?', images: [PNG_1PX] },
      ]);
    });

    it("count_tokens answers the platform's own input count; errors have Anthropic's shape and statuses", async () => {
      const counted = await anthropic().messages.countTokens({
        model: 'llama3.1',
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(counted.input_tokens).toBe(5);

      const poor = await fundedUser(t, 1n);
      const refused = await anthropic(poor.key)
        .messages.create({ model: 'llama3.1', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Anthropic.APIError);
      expect((refused as InstanceType<typeof Anthropic.APIError>).status).toBe(402);
      expect((refused as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        type: 'error',
        error: { type: 'billing_error' },
      });
      const badKey = await anthropic('sk-le-wrong')
        .messages.create({ model: 'llama3.1', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(badKey).toBeInstanceOf(Anthropic.AuthenticationError);

      const limited = await fundedUser(t, 10_000_000n, { rpm: 1 });
      await anthropic(limited.key).messages.create({
        model: 'llama3.1',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'x' }],
      });
      const again = await anthropic(limited.key)
        .messages.create({ model: 'llama3.1', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(again).toBeInstanceOf(Anthropic.RateLimitError);
      expect((again as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        error: { type: 'rate_limit_error' },
      });
    });
  });

  describe('the Ollama-compatible API (ollama npm client)', () => {
    it('list, chat, chat streamed, generate, embed, show, version', async () => {
      const client = ollama();
      const listed = await client.list();
      expect(listed.models.map((m) => m.name)).toEqual(
        expect.arrayContaining(['llama3.1', 'test-qwen-tools']),
      );

      const chat = await client.chat({ model: 'llama3.1', messages: [{ role: 'user', content: 'hi' }] });
      expect(chat.message).toEqual({ role: 'assistant', content: 'tok0 tok1 tok2 tok3 tok4 ' });
      expect(chat).toMatchObject({ done: true, done_reason: 'stop', prompt_eval_count: 1, eval_count: 5 });
      expect(typeof chat.total_duration).toBe('number');

      const parts: string[] = [];
      let last: Record<string, unknown> = {};
      for await (const part of await client.chat({
        model: 'test-qwen-tools',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })) {
        parts.push(part.message.content);
        last = part as unknown as Record<string, unknown>;
      }
      expect(parts.join('')).toBe('tok0 tok1 tok2 tok3 ');
      expect(last).toMatchObject({ done: true, done_reason: 'stop', eval_count: 4 });

      const generated = await client.generate({
        model: 'llama3.1',
        prompt: 'Why is the sky blue?',
        options: { num_predict: 3 },
      });
      expect(generated).toMatchObject({ response: 'tok0 tok1 tok2 ', done: true, done_reason: 'length' });
      expect(lastChat(ollamaHost)).toMatchObject({
        prompt: 'Why is the sky blue?',
        options: { num_predict: 3 },
      });

      const embedded = await client.embed({ model: 'test-embed', input: ['a b', 'c'] });
      expect(embedded.embeddings).toHaveLength(2);
      expect(embedded.embeddings[0]).toHaveLength(8);

      const shown = await client.show({ model: 'llava' });
      expect(shown.capabilities).toEqual(expect.arrayContaining(['completion', 'vision']));
      expect((await client.version()).version).toMatch(/^\d+\.\d+\.\d+$/);
    });

    it('tools: a call comes back whole with arguments as an object, and the result turn maps back', async () => {
      const client = ollama();
      const tools = [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ];
      for (const model of ['llama3.1', 'test-qwen-tools']) {
        const first = await client.chat({ model, messages: [{ role: 'user', content: 'Weather?' }], tools });
        expect(first.message.tool_calls?.[0]?.function).toMatchObject({
          name: 'get_weather',
          arguments: { city: 'Paris' },
        });
        const streamed: unknown[] = [];
        for await (const part of await client.chat({
          model,
          messages: [{ role: 'user', content: 'Weather?' }],
          tools,
          stream: true,
        })) {
          streamed.push(...(part.message.tool_calls ?? []));
        }
        expect(streamed).toMatchObject([{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);

        // An Ollama client's history: no ids, the result names its tool.
        const second = await client.chat({
          model,
          tools,
          messages: [
            { role: 'user', content: 'Weather?' },
            {
              role: 'assistant',
              content: '',
              tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
            },
            { role: 'tool', content: 'sunny', tool_name: 'get_weather' } as never,
          ],
        });
        expect(second.message.content).toMatch(/^tok0 /);
        const sent = lastChat(model === 'llama3.1' ? ollamaHost : openaiHost).messages as Record<
          string,
          unknown
        >[];
        const callId =
          model === 'llama3.1'
            ? (sent[1]!.tool_calls as { id: string }[])[0]!.id
            : (sent[1]!.tool_calls as { id: string }[])[0]!.id;
        expect(sent[2]).toMatchObject({ role: 'tool', content: 'sunny', tool_call_id: callId });
      }
    });

    it('a load request (no messages) answers done_reason "load", dispatches and bills nothing', async () => {
      const before = await balanceOf(t, user.userId);
      const seen = ollamaHost.requests.length;
      const loaded = await ollama().chat({ model: 'llama3.1', messages: [] });
      expect(loaded).toMatchObject({ done: true, done_reason: 'load' });
      expect(ollamaHost.requests.length).toBe(seen);
      expect(await balanceOf(t, user.userId)).toBe(before);
    });
  });

  describe('one billing rule on every surface', () => {
    const usageOf = async (userId: string): Promise<UsageRow[]> =>
      (await t.dataSource.query(
        `SELECT surface, status, input_tokens, output_tokens, credits::text AS credits
           FROM usage_records WHERE user_id = $1 ORDER BY created_at`,
        [userId],
      )) as UsageRow[];

    it('the same request through the four dialects charges the same credits', async () => {
      const payer = await fundedUser(t, 10_000_000n);
      const o = new OpenAI({ apiKey: payer.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
      await o.chat.completions.create({
        model: 'test-qwen-tools',
        max_tokens: 3,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Tell me about GPUs' },
        ],
      });
      await o.responses.create({
        model: 'test-qwen-tools',
        max_output_tokens: 3,
        instructions: 'Be brief.',
        input: 'Tell me about GPUs',
      });
      await anthropic(payer.key).messages.create({
        model: 'test-qwen-tools',
        max_tokens: 3,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Tell me about GPUs' }],
      });
      await ollama(payer.key).chat({
        model: 'test-qwen-tools',
        options: { num_predict: 3 },
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Tell me about GPUs' },
        ],
      });
      await eventually(async () => (await usageOf(payer.userId)).length === 4);
      const rows = await usageOf(payer.userId);
      expect(rows.map((r) => r.surface).sort()).toEqual(['anthropic', 'ollama', 'openai', 'responses']);
      expect(new Set(rows.map((r) => `${r.input_tokens}/${r.output_tokens}/${r.credits}`)).size).toBe(1);
      // qwen-tools: 100 credits per input token, 200 per output token.
      expect(rows[0]).toMatchObject({
        input_tokens: 6,
        output_tokens: 3,
        credits: String(6 * 100 + 3 * 200),
      });
      expect(await balanceOf(t, payer.userId)).toBe(10_000_000n - 4n * 1_200n);
      expect(await ledgerSum(t, payer.userId)).toBe(await balanceOf(t, payer.userId));
    });

    it('a client that drops a stream pays for what it was sent, on every dialect', async () => {
      const slow = await startFakeOpenAI({
        models: ['test-slow-dialect'],
        tokens: 30,
        tokenDelayMs: 80,
        reportUsage: false,
      });
      try {
        hostIds.push(await addHost(t, 'gpu-dialects-slow', slow.url, 'openai'));
        const payer = await fundedUser(t, 10_000_000n);
        const o = new OpenAI({ apiKey: payer.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
        const ask = 'Tell me a long story';

        const chat = new AbortController();
        await drain(
          await o.chat.completions.create(
            {
              model: 'test-slow-dialect',
              stream: true,
              max_tokens: 50,
              messages: [{ role: 'user', content: ask }],
            },
            { signal: chat.signal },
          ),
          (c) => Boolean(c.choices[0]?.delta.content),
          chat,
        );
        const responses = new AbortController();
        await drain(
          await o.responses.create(
            { model: 'test-slow-dialect', stream: true, max_output_tokens: 50, input: ask },
            { signal: responses.signal },
          ),
          (e) => e.type === 'response.output_text.delta',
          responses,
        );
        const messages = new AbortController();
        await drain(
          await anthropic(payer.key).messages.create(
            {
              model: 'test-slow-dialect',
              stream: true,
              max_tokens: 50,
              messages: [{ role: 'user', content: ask }],
            },
            { signal: messages.signal },
          ),
          (e) => e.type === 'content_block_delta',
          messages,
        );
        const parts = await ollama(payer.key).chat({
          model: 'test-slow-dialect',
          stream: true,
          options: { num_predict: 50 },
          messages: [{ role: 'user', content: ask }],
        });
        let seen = 0;
        try {
          for await (const part of parts) if (part.message.content && ++seen === 2) parts.abort();
        } catch {
          // the abort ends the iteration
        }
        await eventually(async () => slow.clientClosed === 4);
        await eventually(async () => (await usageOf(payer.userId)).length === 4);
        const rows = await usageOf(payer.userId);
        expect(rows.map((r) => `${r.surface} ${r.status}`).sort()).toEqual([
          'anthropic client_closed',
          'ollama client_closed',
          'openai client_closed',
          'responses client_closed',
        ]);
        for (const row of rows) {
          // No usage from the host: the reservation's input measure and the pieces relayed.
          expect(row.input_tokens).toBe(ask.length);
          expect(row.output_tokens).toBeGreaterThanOrEqual(2);
          expect(row.output_tokens).toBeLessThan(30);
          expect(BigInt(row.credits)).toBe(BigInt(row.input_tokens * 100 + row.output_tokens * 200));
        }
        const charged = rows.reduce((n, r) => n + BigInt(r.credits), 0n);
        expect(await balanceOf(t, payer.userId)).toBe(10_000_000n - charged);
        expect(await ledgerSum(t, payer.userId)).toBe(await balanceOf(t, payer.userId));
      } finally {
        await slow.close();
      }
    });

    it('balance = Σ ledger after a mixed concurrent run on all dialects', async () => {
      const payer = await fundedUser(t, 50_000n);
      const o = new OpenAI({ apiKey: payer.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
      const calls = Array.from({ length: 40 }, (_, i) => {
        const input = `request ${i}`;
        switch (i % 4) {
          case 0:
            return o.chat.completions.create({
              model: 'test-qwen-tools',
              max_tokens: 4,
              messages: [{ role: 'user', content: input }],
            });
          case 1:
            return o.responses.create({
              model: 'llama3.1',
              max_output_tokens: 4,
              input,
              stream: i % 8 === 1,
            });
          case 2:
            return anthropic(payer.key).messages.create({
              model: 'test-qwen-tools',
              max_tokens: 4,
              messages: [{ role: 'user', content: input }],
            });
          default:
            return ollama(payer.key).chat({
              model: 'llama3.1',
              options: { num_predict: 4 },
              messages: [{ role: 'user', content: input }],
            });
        }
      });
      const outcomes = await Promise.allSettled(
        calls.map((c) =>
          Promise.resolve(c).then(async (r) => {
            // A streamed response is read to its end.
            if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
              for await (const _ of r as AsyncIterable<unknown>) void _;
            }
          }),
        ),
      );
      // The balance runs out part way: some are refused with 402, none fail otherwise.
      const refused = outcomes
        .filter((o) => o.status === 'rejected')
        .map((o) => (o as PromiseRejectedResult).reason as { status?: number });
      expect(refused.every((e) => e.status === 402)).toBe(true);
      expect(await ledgerSum(t, payer.userId)).toBe(await balanceOf(t, payer.userId));
      expect(await balanceOf(t, payer.userId)).toBeGreaterThanOrEqual(0n);
    });
  });

  describe('bad input on each surface: a 4xx in its own shape, nothing billed', () => {
    it('Responses, Messages and Ollama refuse malformed requests before anything is reserved', async () => {
      const payer = await fundedUser(t, 1_000_000n);
      const seen = ollamaHost.requests.length + openaiHost.requests.length;
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${t.url}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${payer.key}`, ...headers },
          body: JSON.stringify(body),
        });
      const responses: [unknown, string][] = [
        [{ model: 'llama3.1' }, 'input'],
        [{ model: 'llama3.1', input: [] }, 'input'],
        [{ model: 'llama3.1', input: 'x', store: 'yes' }, 'store'],
        [{ model: 'llama3.1', input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
        [{ model: 'llama3.1', input: [{ type: 'item_reference', id: 'msg_unknown' }] }, 'input[0].id'],
        [{ model: 'llama3.1', input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
        [{ model: 'llama3.1', input: 'x', tools: [{ type: 'function' }] }, 'tools[0].name'],
        [{ model: 'llama3.1', input: [{ type: 'function_call_output', output: 'x' }] }, 'input[0].call_id'],
        [{ model: 'llama3.1', input: 'x', max_output_tokens: 0 }, 'max_output_tokens'],
        [{ model: 'llama3.1', input: 'x', text: { format: { type: 'json_schema' } } }, 'text.format.schema'],
      ];
      for (const [body, param] of responses) {
        const res = await post('/v1/responses', body);
        const json = (await res.json()) as { error: { param: string; type: string } };
        expect([res.status, json.error.type, json.error.param]).toEqual([
          400,
          'invalid_request_error',
          param,
        ]);
      }
      const messages: unknown[] = [
        { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }] },
        { model: 'llama3.1', max_tokens: 5, messages: [] },
        { model: 'llama3.1', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] },
        { model: 'llama3.1', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'video' }] }] },
        {
          model: 'llama3.1',
          max_tokens: 5,
          messages: [
            { role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'http://x/y.png' } }] },
          ],
        },
        {
          model: 'llama3.1',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ name: 'x' }],
        },
        { model: 'llama3.1', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], temperature: 1.5 },
        'not json at all',
      ];
      for (const body of messages) {
        const res = await post('/v1/messages', body, {
          'x-api-key': payer.key,
          'anthropic-version': '2023-06-01',
        });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      }
      const ollamaBodies: [string, unknown][] = [
        ['/api/chat', { model: 'llama3.1', messages: 'hi' }],
        ['/api/chat', { model: 'llama3.1', messages: [{ role: 'wizard', content: 'x' }] }],
        [
          '/api/chat',
          { model: 'llama3.1', messages: [{ role: 'user', content: 'x', images: ['bm90IGFuIGltYWdl'] }] },
        ],
        ['/api/chat', { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], format: 5 }],
        [
          '/api/chat',
          { model: 'llama3.1', messages: [{ role: 'user', content: 'x' }], options: { temperature: 'hot' } },
        ],
        ['/api/generate', { model: 'llama3.1', prompt: 42 }],
        ['/api/embed', { model: 'test-embed', input: [] }],
        ['/api/chat', { messages: [{ role: 'user', content: 'x' }] }],
      ];
      for (const [path, body] of ollamaBodies) {
        const res = await post(path, body);
        expect(res.status).toBe(400);
        const json = (await res.json()) as { error: unknown };
        expect(Object.keys(json)).toEqual(['error']);
        expect(typeof json.error).toBe('string');
      }
      const unknown = await post('/api/chat', {
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'x' }],
      });
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ error: expect.stringContaining('no-such-model') });
      const noKey = await fetch(`${t.url}/api/tags`);
      expect(noKey.status).toBe(401);
      expect(Object.keys((await noKey.json()) as object)).toEqual(['error']);

      expect(ollamaHost.requests.length + openaiHost.requests.length).toBe(seen);
      expect(await balanceOf(t, payer.userId)).toBe(1_000_000n);
      expect(await ledgerSum(t, payer.userId)).toBe(1_000_000n);
    });
  });
});

/** Reads a stream until `counts` has matched twice, then aborts it. */
async function drain<T>(
  stream: AsyncIterable<T>,
  counts: (item: T) => boolean,
  abort: AbortController,
): Promise<void> {
  let seen = 0;
  try {
    for await (const item of stream) if (counts(item) && ++seen === 2) abort.abort();
  } catch {
    // the abort ends the iteration
  }
  expect(seen).toBe(2);
}
