import { randomBytes } from 'node:crypto';
import type { FakeHost, FakeHostOptions, FakeToolCall } from './fake-host.types';
import { FakeCall, FakeKind, FakeServer, plannedTokens, plannedToolCalls } from './fake-server';
import { fakeEmbedding, inputTokensOfMessages, inputTokensOfText } from './fake-usage';

const SSE = 'text/event-stream; charset=utf-8';
const FINGERPRINT = 'fp_fake0001';

/** A fake OpenAI-compatible server: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models. */
export function startFakeOpenAI(options: FakeHostOptions = {}): Promise<FakeHost> {
  return new FakeServer(openaiKind, options).start();
}

const openaiKind: FakeKind = {
  errorBody: (status, message, code) => ({
    error: {
      message,
      type: status >= 500 ? 'server_error' : 'invalid_request_error',
      param: null,
      code: code ?? null,
    },
  }),
  // Echoes the presented key, unmasked, so tests prove the platform redacts host keys.
  unauthorized: (presented) => ({
    message: `Incorrect API key provided: ${presented ?? '(none)'}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    code: 'invalid_api_key',
  }),
  async route(call, host) {
    const key = `${call.method} ${call.path}`;
    if (key === 'GET /v1/models') {
      const data = call.opts.models.map((id) => ({
        id,
        object: 'model',
        created: 1700000000,
        owned_by: 'organization-owner',
      }));
      return host.sendJson(call.res, 200, { object: 'list', data });
    }
    if (
      key === 'POST /v1/chat/completions' ||
      key === 'POST /v1/completions' ||
      key === 'POST /v1/embeddings'
    ) {
      const model = String(call.body.model ?? '');
      if (!call.opts.models.includes(model)) {
        const message = `The model \`${model}\` does not exist or you do not have access to it.`;
        return host.sendJson(call.res, 404, openaiKind.errorBody(404, message, 'model_not_found'));
      }
      if (key === 'POST /v1/embeddings') return host.sendJson(call.res, 200, embeddings(call, model));
      return complete(call, host, model, key === 'POST /v1/chat/completions');
    }
    host.sendJson(
      call.res,
      404,
      openaiKind.errorBody(404, `Unknown request URL: ${call.method} ${call.path}.`, 'unknown_url'),
    );
  },
};

async function complete(call: FakeCall, host: FakeServer, model: string, chat: boolean): Promise<void> {
  const { opts, body } = call;
  const limit = body.max_completion_tokens ?? body.max_tokens;
  const { tokens, finish } = plannedTokens(opts, limit);
  const inputTokens = chat ? inputTokensOfMessages(body.messages) : inputTokensOfText(body.prompt);
  const usage = { prompt_tokens: inputTokens, completion_tokens: tokens, total_tokens: inputTokens + tokens };
  const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  const streamOptions = (body.stream_options ?? {}) as { include_usage?: unknown };
  const includeUsage = streamOptions.include_usage === true && opts.reportUsage;
  const text = (i: number) => opts.text(i);
  // n > 1: choice c's token i is choice 0's with a `c<c>:` prefix; logprobs: one entry per token.
  const n = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  const logprobs = chat && body.logprobs === true;
  const choiceText = (c: number, i: number) => (c === 0 ? text(i) : `c${c}:${text(i)}`);
  const calls = chat ? plannedToolCalls(opts, body) : [];
  if (calls.length > 0)
    return callTools(call, host, { id, created, model, includeUsage, inputTokens }, calls);

  if (body.stream !== true) {
    const content = (c: number) => Array.from({ length: tokens }, (_, i) => choiceText(c, i)).join('');
    const choices = Array.from({ length: n }, (_, c) =>
      chat
        ? {
            index: c,
            message: { role: 'assistant', content: content(c), refusal: null },
            logprobs: logprobs
              ? {
                  content: Array.from({ length: tokens }, (_, i) => logprob(choiceText(c, i))),
                  refusal: null,
                }
              : null,
            finish_reason: finish,
          }
        : { text: content(c), index: c, logprobs: null, finish_reason: finish },
    );
    return host.sendJson(call.res, 200, {
      id,
      object: chat ? 'chat.completion' : 'text_completion',
      created,
      model,
      choices,
      ...(opts.reportUsage
        ? { usage: { ...usage, completion_tokens: tokens * n, total_tokens: inputTokens + tokens * n } }
        : {}),
      system_fingerprint: FINGERPRINT,
    });
  }

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({
      id,
      object,
      created,
      model,
      system_fingerprint: FINGERPRINT,
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    })}\n\n`;
  const delta = (content: string | undefined, finishReason: string | null, role?: string, c = 0) =>
    chat
      ? {
          index: c,
          delta: { ...(role ? { role } : {}), ...(content !== undefined ? { content } : {}) },
          logprobs: logprobs && content ? { content: [logprob(content)], refusal: null } : null,
          finish_reason: finishReason,
        }
      : { text: content ?? '', index: c, logprobs: null, finish_reason: finishReason };
  const each = (frame: (c: number) => unknown) => Array.from({ length: n }, (_, c) => chunk([frame(c)]));
  const streamedUsage = { ...usage, completion_tokens: tokens * n, total_tokens: inputTokens + tokens * n };

  await host.stream(call, {
    contentType: SSE,
    head: chat ? each((c) => delta('', null, 'assistant', c)) : [],
    // Choices interleave token by token, one chunk each, as OpenAI streams n > 1.
    token: (i) => each((c) => delta(choiceText(c, i), null, undefined, c)).join(''),
    tail: () => [
      ...each((c) => (chat ? delta(undefined, finish, undefined, c) : delta('', finish, undefined, c))),
      ...(includeUsage ? [chunk([], { usage: streamedUsage })] : []),
      'data: [DONE]\n\n',
    ],
    tokens,
  });
}

interface Answer {
  id: string;
  created: number;
  model: string;
  includeUsage: boolean;
  inputTokens: number;
}

/**
 * A turn that calls tools, as OpenAI answers it. Non-streamed: the message with content null and
 * `tool_calls` (arguments as JSON text), finish_reason "tool_calls". Streamed: per call a first
 * delta with index, id, type, name and empty arguments (the first also with role, content null,
 * refusal null), then the arguments in three fragments, then an empty delta with finish_reason
 * "tool_calls". Output tokens: the fragments sent.
 */
async function callTools(call: FakeCall, host: FakeServer, a: Answer, calls: FakeToolCall[]) {
  const { opts, body } = call;
  const wire = calls.map((c) => ({
    id: `call_${randomBytes(12).toString('base64url')}`,
    type: 'function',
    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
  }));
  const fragments = wire.map((c) => thirds(c.function.arguments));
  const outputTokens = fragments.reduce((n, f) => n + f.length, 0);
  const usage = {
    prompt_tokens: a.inputTokens,
    completion_tokens: outputTokens,
    total_tokens: a.inputTokens + outputTokens,
  };
  if (body.stream !== true) {
    return host.sendJson(call.res, 200, {
      id: a.id,
      object: 'chat.completion',
      created: a.created,
      model: a.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: wire, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      ...(opts.reportUsage ? { usage } : {}),
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
    });
  }
  const chunk = (delta: object, finish: string | null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({
      id: a.id,
      object: 'chat.completion.chunk',
      created: a.created,
      model: a.model,
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(a.includeUsage ? { usage: null } : {}),
      ...extra,
    })}\n\n`;
  const frames: string[] = [];
  wire.forEach((c, index) => {
    const head = { index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } };
    frames.push(
      chunk(
        index === 0
          ? { role: 'assistant', content: null, tool_calls: [head], refusal: null }
          : { tool_calls: [head] },
        null,
      ),
    );
    for (const piece of fragments[index]!)
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null));
  });
  await host.stream(call, {
    contentType: SSE,
    head: [],
    token: (i) => frames[i]!,
    tail: () => [
      chunk({}, 'tool_calls'),
      ...(a.includeUsage
        ? [
            `data: ${JSON.stringify({ id: a.id, object: 'chat.completion.chunk', created: a.created, model: a.model, service_tier: 'default', system_fingerprint: FINGERPRINT, choices: [], usage })}\n\n`,
          ]
        : []),
      'data: [DONE]\n\n',
    ],
    tokens: frames.length,
  });
}

/** A text in three pieces (fewer when shorter), as a model's argument tokens arrive. */
function thirds(text: string): string[] {
  const size = Math.max(1, Math.ceil(text.length / 3));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A log-probability entry as OpenAI writes one (top_logprobs empty: the fake has no alternatives). */
function logprob(token: string) {
  return { token, logprob: -0.25, bytes: [...Buffer.from(token)], top_logprobs: [] };
}

function embeddings(call: FakeCall, model: string) {
  const input = call.body.input;
  const texts = Array.isArray(input) ? input.map(String) : [String(input ?? '')];
  const promptTokens = inputTokensOfText(texts);
  return {
    object: 'list',
    data: texts.map((t, index) => ({
      object: 'embedding',
      index,
      embedding: fakeEmbedding(t, call.opts.embeddingDims),
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
