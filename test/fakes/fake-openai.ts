import { randomBytes } from 'node:crypto';
import type { FakeHost, FakeHostOptions } from './fake-host.types';
import { FakeCall, FakeKind, FakeServer, plannedTokens } from './fake-server';
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

  if (body.stream !== true) {
    const content = Array.from({ length: tokens }, (_, i) => text(i)).join('');
    const choice = chat
      ? {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          logprobs: null,
          finish_reason: finish,
        }
      : { text: content, index: 0, logprobs: null, finish_reason: finish };
    return host.sendJson(call.res, 200, {
      id,
      object: chat ? 'chat.completion' : 'text_completion',
      created,
      model,
      choices: [choice],
      ...(opts.reportUsage ? { usage } : {}),
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
  const delta = (content: string | undefined, finishReason: string | null, role?: string) =>
    chat
      ? {
          index: 0,
          delta: { ...(role ? { role } : {}), ...(content !== undefined ? { content } : {}) },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { text: content ?? '', index: 0, logprobs: null, finish_reason: finishReason };

  await host.stream(call, {
    contentType: SSE,
    head: chat ? [chunk([delta('', null, 'assistant')])] : [],
    token: (i) => chunk([delta(text(i), null)]),
    tail: () => [
      chunk([chat ? delta(undefined, finish) : delta('', finish)]),
      ...(includeUsage ? [chunk([], { usage })] : []),
      'data: [DONE]\n\n',
    ],
    tokens,
  });
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
