import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import OpenAI, { APIError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import WebSocket from 'ws';
import { z } from 'zod';
import { billingOf } from '../support/billing';
import { FakeHost, FakeRequest, FakeToolCall, startFakeOllama, startFakeOpenAI } from '../fakes';
import { addHost, balanceOf, eventually, fundedUser, ledgerSum, removeHosts } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The fake model's tool policy: after a tool result it answers in text; asked about "both
 * cities" it calls get_weather twice (parallel calls); otherwise it calls the named tool, or the
 * first one offered. weather_report (structured output) gets a whole report.
 */
function fakeModel(body: Record<string, unknown>): FakeToolCall[] {
  const messages = body.messages as { role: string; content: unknown }[];
  const last = messages[messages.length - 1]!;
  if (last.role === 'tool') return [];
  const offered = (body.tools as { function: { name: string } }[]).map((t) => t.function.name);
  const choice = body.tool_choice as { function?: { name: string } } | undefined;
  const name = choice?.function?.name ?? offered[0]!;
  if (name === 'weather_report') return [{ name, arguments: { city: 'Paris', temperature: 21 } }];
  if (JSON.stringify(last.content).includes('both cities')) {
    return [
      { name, arguments: { city: 'Paris' } },
      { name, arguments: { city: 'Tokyo' } },
    ];
  }
  return [{ name, arguments: { city: 'Paris' } }];
}

const WEATHER: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather now in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const TIME: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: {} } },
};

const ASK: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];

/** The last chat request a fake host received. */
function lastChat(host: FakeHost): Record<string, unknown> {
  const chats = host.requests.filter((r: FakeRequest) => r.method === 'POST' && r.path.endsWith('/chat'));
  const sent = host.requests.filter((r: FakeRequest) => r.path === '/v1/chat/completions');
  const all = chats.length > 0 ? chats : sent;
  return all[all.length - 1]!.body as Record<string, unknown>;
}

describe('tool calling through the real client libraries', () => {
  let t: TestApp;
  let ollama: FakeHost;
  let ollamaOld: FakeHost;
  let openai: FakeHost;
  let user: { userId: string; key: string };
  const hostIds: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000' });
    const billing = billingOf(t.app);
    await billing.setRate('test-qwen-tools', '0.01', '0.02');
    await billing.setRate('test-old-ollama-tools', '0.01', '0.02');
    ollama = await startFakeOllama({ models: ['llama3.1'], toolCalls: fakeModel });
    ollamaOld = await startFakeOllama({
      models: ['test-old-ollama-tools'],
      toolCalls: fakeModel,
      toolCallIds: false,
    });
    openai = await startFakeOpenAI({ models: ['test-qwen-tools'], toolCalls: fakeModel, tokens: 4 });
    hostIds.push(
      await addHost(t, 'gpu-tools-ollama', ollama.url, 'ollama'),
      await addHost(t, 'gpu-tools-ollama-old', ollamaOld.url, 'ollama'),
      await addHost(t, 'gpu-tools-openai', openai.url, 'openai'),
    );
    user = await fundedUser(t, 100_000_000n);
  });
  afterAll(async () => {
    await removeHosts(t, hostIds);
    await t?.close();
    await Promise.all([ollama?.close(), ollamaOld?.close(), openai?.close()]);
  });

  const client = () => new OpenAI({ apiKey: user.key, baseURL: `${t.url}/v1`, maxRetries: 0 });

  describe.each([
    ['an Ollama host', 'llama3.1', () => ollama],
    ['an OpenAI-protocol host', 'test-qwen-tools', () => openai],
  ])('on %s', (_label, model, host) => {
    it('a tool call and its follow-up turn with the tool result (non-stream), as the host received them', async () => {
      const first = await client().chat.completions.create({ model, messages: ASK, tools: [WEATHER, TIME] });
      const choice = first.choices[0]!;
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content).toBeNull();
      const call = choice.message.tool_calls![0]!;
      expect(call.type).toBe('function');
      expect(call.id).toMatch(/^call_/);
      expect(call.type === 'function' && call.function.name).toBe('get_weather');
      expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

      const sent = lastChat(host());
      if (host() === ollama) {
        expect(sent.tools).toEqual([WEATHER, TIME].map((x) => ({ type: 'function', function: x.function })));
      } else {
        expect(sent.tools).toEqual([WEATHER, TIME]);
      }

      const history: ChatCompletionMessageParam[] = [
        ...ASK,
        choice.message,
        { role: 'tool', tool_call_id: call.id, content: '{"temperature":21}' },
      ];
      const second = await client().chat.completions.create({ model, messages: history, tools: [WEATHER] });
      expect(second.choices[0]!.finish_reason).toBe('stop');
      expect(second.choices[0]!.message.content).toMatch(/^tok0 /);

      const messages = lastChat(host()).messages as Record<string, unknown>[];
      expect(messages).toHaveLength(3);
      if (host() === ollama) {
        // Ollama's history: arguments as an object, the tool result with the tool's name.
        expect(messages[1]).toEqual({
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: call.id, function: { index: 0, name: 'get_weather', arguments: { city: 'Paris' } } },
          ],
        });
        expect(messages[2]).toEqual({
          role: 'tool',
          content: '{"temperature":21}',
          tool_name: 'get_weather',
          tool_call_id: call.id,
        });
      } else {
        expect(messages[1]).toEqual({
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: call.id,
              type: 'function',
              function: {
                name: 'get_weather',
                arguments: call.type === 'function' && call.function.arguments,
              },
            },
          ],
        });
        expect(messages[2]).toEqual({ role: 'tool', content: '{"temperature":21}', tool_call_id: call.id });
      }
    });

    it('a streamed tool call is rebuilt by the SDK stream helper (finalChatCompletion)', async () => {
      const stream = client().chat.completions.stream({ model, messages: ASK, tools: [WEATHER] });
      const deltas: unknown[] = [];
      stream.on('chunk', (chunk) => deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? [])));
      const final = await stream.finalChatCompletion();
      const choice = final.choices[0]!;
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls![0]!;
      expect(call.type === 'function' && call.function.name).toBe('get_weather');
      expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
      // OpenAI's order: a first piece with index, id, type and name, then argument pieces.
      expect(deltas[0]).toMatchObject({
        index: 0,
        id: call.id,
        type: 'function',
        function: { name: 'get_weather' },
      });
      expect(deltas.length).toBeGreaterThanOrEqual(2);
      expect(lastChat(host()).stream).toBe(true);
    });

    it('parallel tool calls come back with their own indexes and ids', async () => {
      const parallel = await client().chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Weather in both cities?' }],
        tools: [WEATHER],
        parallel_tool_calls: true,
      });
      const calls = parallel.choices[0]!.message.tool_calls!;
      expect(calls.map((c) => c.type === 'function' && JSON.parse(c.function.arguments))).toEqual([
        { city: 'Paris' },
        { city: 'Tokyo' },
      ]);
      expect(new Set(calls.map((c) => c.id)).size).toBe(2);

      const stream = client().chat.completions.stream({
        model,
        messages: [{ role: 'user', content: 'Weather in both cities?' }],
        tools: [WEATHER],
      });
      const streamed = (await stream.finalChatCompletion()).choices[0]!.message.tool_calls!;
      expect(streamed.map((c) => c.type === 'function' && JSON.parse(c.function.arguments))).toEqual([
        { city: 'Paris' },
        { city: 'Tokyo' },
      ]);
    });

    it("tool_choice naming a function calls it; 'none' answers in text", async () => {
      const named = await client().chat.completions.create({
        model,
        messages: ASK,
        tools: [WEATHER, TIME],
        tool_choice: { type: 'function', function: { name: 'get_time' } },
      });
      const call = named.choices[0]!.message.tool_calls![0]!;
      expect(call.type === 'function' && call.function.name).toBe('get_time');
      const sent = lastChat(host());
      if (host() === ollama) {
        // Ollama has no tool_choice: it is shown only the named tool.
        expect((sent.tools as { function: { name: string } }[]).map((x) => x.function.name)).toEqual([
          'get_time',
        ]);
      } else {
        expect(sent.tool_choice).toEqual({ type: 'function', function: { name: 'get_time' } });
      }

      const none = await client().chat.completions.create({
        model,
        messages: ASK,
        tools: [WEATHER],
        tool_choice: 'none',
      });
      expect(none.choices[0]!.finish_reason).toBe('stop');
      expect(none.choices[0]!.message.tool_calls).toBeUndefined();
      expect(none.choices[0]!.message.content).toMatch(/^tok0 /);
      if (host() === ollama) expect(lastChat(host()).tools).toBeUndefined();
      else expect(lastChat(host()).tool_choice).toBe('none');
    });

    it('Vercel AI SDK: generateText with tools runs to a final answer over several steps', async () => {
      const provider = createOpenAICompatible({
        name: 'llmendpoint',
        baseURL: `${t.url}/v1`,
        apiKey: user.key,
      });
      const cities: string[] = [];
      const result = await generateText({
        model: provider(model),
        tools: {
          get_weather: tool({
            description: 'The weather now in a city',
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => {
              cities.push(city);
              return { city, temperature: 21 };
            },
          }),
        },
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
        maxRetries: 0,
      });
      expect(cities).toEqual(['Paris']);
      expect(result.steps).toHaveLength(2);
      expect(result.steps[0]!.finishReason).toBe('tool-calls');
      expect(result.text).toMatch(/^tok0 /);
      const messages = lastChat(host()).messages as { role: string; content: string }[];
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
      expect(JSON.parse(messages[2]!.content)).toEqual({ city: 'Paris', temperature: 21 });

      const streamed = streamText({
        model: provider(model),
        tools: {
          get_weather: tool({
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => ({ city, temperature: 19 }),
          }),
        },
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
        maxRetries: 0,
      });
      expect(await streamed.text).toMatch(/^tok0 /);
      expect((await streamed.steps)[0]!.toolCalls[0]!.input).toEqual({ city: 'Paris' });
    });

    it('LangChain: bindTools and withStructuredOutput({method: "functionCalling"})', async () => {
      const llm = new ChatOpenAI({
        model,
        apiKey: user.key,
        configuration: { baseURL: `${t.url}/v1` },
        maxRetries: 0,
      });
      const bound = llm.bindTools([WEATHER]);
      const message = await bound.invoke('What is the weather in Paris?');
      expect(message.tool_calls).toHaveLength(1);
      expect(message.tool_calls![0]).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
      expect(message.tool_calls![0]!.id).toMatch(/^call_/);

      const report = z.object({ city: z.string(), temperature: z.number() });
      const structured = llm.withStructuredOutput(report, {
        method: 'functionCalling',
        name: 'weather_report',
      });
      expect(await structured.invoke('Report the weather in Paris')).toEqual({
        city: 'Paris',
        temperature: 21,
      });
    });
  });

  it("an older Ollama build's calls (no ids) get stable call_ ids, reused in the follow-up turn", async () => {
    const model = 'test-old-ollama-tools';
    const first = await client().chat.completions.create({ model, messages: ASK, tools: [WEATHER] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call.id).toMatch(/^call_[0-9a-f]{24}$/);
    const stream = client().chat.completions.stream({ model, messages: ASK, tools: [WEATHER] });
    const streamedCall = (await stream.finalChatCompletion()).choices[0]!.message.tool_calls![0]!;
    expect(streamedCall.id).toMatch(/^call_[0-9a-f]{24}$/);
    await client().chat.completions.create({
      model,
      messages: [
        ...ASK,
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      ],
      tools: [WEATHER],
    });
    const messages = lastChat(ollamaOld).messages as Record<string, unknown>[];
    expect(messages[2]).toMatchObject({ role: 'tool', tool_name: 'get_weather', tool_call_id: call.id });
  });

  it('n > 1 and logprobs are relayed to an OpenAI-protocol host (JSON and stream)', async () => {
    const both = await client().chat.completions.create({
      model: 'test-qwen-tools',
      messages: [{ role: 'user', content: 'hi' }],
      n: 2,
      logprobs: true,
      top_logprobs: 2,
      max_tokens: 4,
    });
    expect(both.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(both.choices[1]!.message.content).toBe('c1:tok0 c1:tok1 c1:tok2 c1:tok3 ');
    expect(both.choices[0]!.logprobs!.content!.map((l) => l.token)).toEqual([
      'tok0 ',
      'tok1 ',
      'tok2 ',
      'tok3 ',
    ]);
    const sent = lastChat(openai);
    expect([sent.n, sent.logprobs, sent.top_logprobs]).toEqual([2, true, 2]);

    const stream = client().chat.completions.stream({
      model: 'test-qwen-tools',
      messages: [{ role: 'user', content: 'hi' }],
      n: 2,
      logprobs: true,
      max_tokens: 4,
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices.map((c) => c.message.content)).toEqual([
      'tok0 tok1 tok2 tok3 ',
      'c1:tok0 c1:tok1 c1:tok2 c1:tok3 ',
    ]);
    expect(final.choices.map((c) => c.finish_reason)).toEqual(['stop', 'stop']);
    expect(final.choices[0]!.logprobs!.content).toHaveLength(4);
  });

  it("seed 002's surface (camelCase toolChoice, envelope, event:messages stream) and the WebSocket carry tool calls", async () => {
    const body = {
      model: 'test-qwen-tools',
      messages: ASK,
      tools: [WEATHER, TIME],
      toolChoice: { type: 'function', function: { name: 'get_weather' } },
      parallelToolCalls: false,
    };
    const res = await fetch(`${t.url}/api/v1/ai/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
      body: JSON.stringify(body),
    });
    const wrapped = (await res.json()) as {
      code: number;
      data: { choices: { message: { tool_calls: { function: { name: string } }[] } }[] };
    };
    expect(wrapped.code).toBe(200);
    expect(wrapped.data.choices[0]!.message.tool_calls[0]!.function.name).toBe('get_weather');
    expect(lastChat(openai)).toMatchObject({
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
    });

    const streamed = await fetch(`${t.url}/api/v1/ai/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
      body: JSON.stringify({ ...body, stream: true }),
    });
    const events = (await streamed.text())
      .split('\n\n')
      .filter((e) => e.startsWith('event:messages\ndata:{'));
    const chunks = events.map(
      (e) => JSON.parse(e.slice('event:messages\ndata:'.length)) as Record<string, unknown>,
    );
    const argumentsText = chunks
      .flatMap(
        (c) => (c.choices as { delta: { tool_calls?: { function: { arguments?: string } }[] } }[]) ?? [],
      )
      .flatMap((c) => c.delta.tool_calls ?? [])
      .map((c) => c.function.arguments ?? '')
      .join('');
    expect(JSON.parse(argumentsText)).toEqual({ city: 'Paris' });

    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/chat/completions`, {
      headers: { Authorization: `Bearer ${user.key}` },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const received: { choices: { delta: { tool_calls?: unknown[] }; finish_reason: string | null }[] }[] = [];
    const finished = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString()) as (typeof received)[number];
        received.push(message);
        if (message.choices?.[0]?.finish_reason) resolve();
      }),
    );
    ws.send(JSON.stringify({ model: 'llama3.1', messages: ASK, tools: [WEATHER], stream: true }));
    await finished;
    ws.close();
    expect(received.some((m) => m.choices[0]?.delta.tool_calls?.length)).toBe(true);
    expect(received[received.length - 1]!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('a stream cut by the client in the middle of a tool call is billed for what was delivered', async () => {
    const slowHost = await startFakeOpenAI({
      models: ['test-slow-tools'],
      toolCalls: fakeModel,
      tokenDelayMs: 150,
    });
    try {
      await billingOf(t.app).setRate('test-slow-tools', '0.01', '0.02');
      hostIds.push(await addHost(t, 'gpu-tools-slow', slowHost.url, 'openai'));
      const payer = await fundedUser(t, 10_000_000n);
      const controller = new AbortController();
      const payerClient = new OpenAI({ apiKey: payer.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
      const stream = await payerClient.chat.completions.create(
        { model: 'test-slow-tools', messages: ASK, tools: [WEATHER], stream: true, max_tokens: 100 },
        { signal: controller.signal },
      );
      let pieces = 0;
      try {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.tool_calls?.length) pieces++;
          if (pieces === 2) controller.abort();
        }
      } catch {
        // the abort ends the iteration
      }
      expect(pieces).toBe(2);
      await eventually(async () => slowHost.clientClosed === 1);
      type Row = { status: string; input_tokens: number; output_tokens: number; credits: string };
      const usage = () =>
        t.dataSource.query(
          `SELECT status, input_tokens, output_tokens, credits::text AS credits FROM usage_records WHERE user_id = $1`,
          [payer.userId],
        ) as Promise<Row[]>;
      await eventually(async () => (await usage()).length === 1);
      const rows = await usage();
      const row = rows[0]!;
      expect(row.status).toBe('client_closed');
      // The host reported no usage (cut before its end): input = the reservation's characters
      // (the user message and the tool definition), output = the pieces the platform relayed.
      const input = 'What is the weather in Paris?'.length + 'get_weather'.length;
      expect(row.input_tokens).toBe(
        input + WEATHER.function.description!.length + JSON.stringify(WEATHER.function.parameters).length,
      );
      expect(row.output_tokens).toBeGreaterThanOrEqual(2);
      expect(row.output_tokens).toBeLessThan(4);
      expect(BigInt(row.credits)).toBe(BigInt(row.input_tokens * 100 + row.output_tokens * 200));
      expect(await balanceOf(t, payer.userId)).toBe(10_000_000n - BigInt(row.credits));
      expect(await ledgerSum(t, payer.userId)).toBe(await balanceOf(t, payer.userId));
    } finally {
      await slowHost.close();
    }
  });

  it('tool definitions count as input in the reservation: a balance that covers the messages alone is refused with tools', async () => {
    // qwen-tools: 0.01 / 0.02 cents per token = 100 / 200 credits per token.
    const messageOnly = 'hi'.length * 100 + 10 * 200;
    const poor = await fundedUser(t, BigInt(messageOnly));
    const poorClient = new OpenAI({ apiKey: poor.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
    const seen = openai.requests.length;
    const refused = await poorClient.chat.completions
      .create({
        model: 'test-qwen-tools',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 10,
        tools: [TIME],
      })
      .catch((e: unknown) => e);
    expect((refused as APIError).status).toBe(402);
    expect((refused as APIError).code).toBe('insufficient_quota');
    expect(openai.requests.length).toBe(seen);
    expect(await balanceOf(t, poor.userId)).toBe(BigInt(messageOnly));
  });

  it('bad tool definitions are a 400 naming the parameter, in the OpenAI error shape; nothing billed', async () => {
    const bad: [unknown, string][] = [
      [{ tools: 'get_weather' }, 'tools'],
      [{ tools: [{ type: 'function', function: { description: 'no name' } }] }, 'tools[0].function.name'],
      [
        { tools: [{ type: 'function', function: { name: 'x', parameters: 'object' } }] },
        'tools[0].function.parameters',
      ],
      [{ tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
      [{ tools: [{ type: 'retrieval' }] }, 'tools[0]'],
      [
        {
          tools: Array.from({ length: 2000 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })),
        },
        'tools',
      ],
      [{ tools: [WEATHER], tool_choice: 'sometimes' }, 'tool_choice'],
      [
        { tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'get_time' } } },
        'tool_choice',
      ],
      [{ tool_choice: 'required' }, 'tool_choice'],
      [{ tools: [WEATHER, WEATHER] }, 'tools[1].function.name'],
      [
        {
          messages: [
            ...ASK,
            { role: 'assistant', tool_calls: [{ id: 'c1', function: { name: 'x', arguments: {} } }] },
          ],
        },
        'messages[1].tool_calls[0].function.arguments',
      ],
      [{ messages: [...ASK, { role: 'tool', content: 'x' }] }, 'messages[1].tool_call_id'],
    ];
    const payer = await fundedUser(t, 1_000_000n);
    const seen = openai.requests.length + ollama.requests.length;
    for (const [extra, param] of bad) {
      for (const model of ['test-qwen-tools', 'llama3.1']) {
        const res = await fetch(`${t.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${payer.key}` },
          body: JSON.stringify({ model, messages: ASK, ...(extra as object) }),
        });
        const body = (await res.json()) as { error: { type: string; param: string; message: string } };
        expect([res.status, body.error.type, body.error.param]).toEqual([
          400,
          'invalid_request_error',
          param,
        ]);
        expect(body.error.message).toContain(`'${param}'`);
      }
    }
    expect(openai.requests.length + ollama.requests.length).toBe(seen);
    expect(await balanceOf(t, payer.userId)).toBe(1_000_000n);
    expect(await ledgerSum(t, payer.userId)).toBe(1_000_000n);
  });

  it('every balance equals its ledger sum', async () => {
    expect(await ledgerSum(t, user.userId)).toBe(await balanceOf(t, user.userId));
    expect(await balanceOf(t, user.userId)).toBeLessThan(100_000_000n);
  });
});
