import { randomBytes } from 'node:crypto';
import type { FakeHost, FakeHostOptions, FakeToolCall } from './fake-host.types';
import {
  FakeCall,
  FakeKind,
  FakeServer,
  plannedTokens,
  plannedToolCalls,
  ResolvedOptions,
} from './fake-server';
import { fakeEmbedding, inputTokensOfMessages, inputTokensOfText } from './fake-usage';

const NDJSON = 'application/x-ndjson';
const DIGEST = 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72';
const DETAILS = {
  parent_model: '',
  format: 'gguf',
  family: 'llama',
  families: ['llama'],
  parameter_size: '8.0B',
  quantization_level: 'Q4_K_M',
};

/** A fake Ollama server: /api/chat, /api/generate, /api/embed, /api/tags, /api/ps, /api/version. */
export function startFakeOllama(options: FakeHostOptions = {}): Promise<FakeHost> {
  return new FakeServer(ollamaKind, options).start();
}

const ollamaKind: FakeKind = {
  errorBody: (_status, message) => ({ error: message }),
  unauthorized: () => ({ message: 'unauthorized', code: 'unauthorized' }),
  async route(call, host) {
    const key = `${call.method} ${call.path}`;
    if (key === 'GET /api/tags') return host.sendJson(call.res, 200, { models: call.opts.models.map(tag) });
    if (key === 'GET /api/ps') return host.sendJson(call.res, 200, { models: call.opts.warm.map(running) });
    if (key === 'GET /api/version') return host.sendJson(call.res, 200, { version: '0.6.5' });
    if (key === 'POST /api/chat' || key === 'POST /api/generate' || key === 'POST /api/embed') {
      const model = String(call.body.model ?? '');
      if (!call.opts.models.includes(model))
        return host.sendJson(call.res, 404, { error: `model "${model}" not found, try pulling it first` });
      if (key === 'POST /api/embed') return host.sendJson(call.res, 200, embed(call, model));
      return generate(call, host, model, key === 'POST /api/chat');
    }
    call.res.writeHead(404, { 'Content-Type': 'text/plain' });
    call.res.end('404 page not found');
  },
};

async function generate(call: FakeCall, host: FakeServer, model: string, chat: boolean): Promise<void> {
  const { opts, body } = call;
  const calls = chat ? plannedToolCalls(opts, body) : [];
  if (calls.length > 0) return callTools(call, host, model, calls);
  const options = (body.options ?? {}) as { num_predict?: unknown };
  const { tokens, finish } = plannedTokens(opts, options.num_predict);
  const inputTokens = chat ? inputTokensOfMessages(body.messages) : inputTokensOfText(body.prompt);
  const piece = (content: string, done: boolean) => ({
    model,
    created_at: new Date().toISOString(),
    ...(chat ? { message: { role: 'assistant', content } } : { response: content }),
    done,
  });
  // Field order as Ollama writes it: chat puts done_reason before done, generate after it.
  const final = (content: string) => {
    const { model: m, created_at, done } = piece(content, true);
    const stats = {
      total_duration: 1000000 * (tokens + 1),
      load_duration: 1000000,
      ...usage(opts, inputTokens, tokens),
    };
    return chat
      ? { model: m, created_at, message: { role: 'assistant', content }, done_reason: finish, done, ...stats }
      : { model: m, created_at, response: content, done, done_reason: finish, context: [1, 2, 3], ...stats };
  };
  if (body.stream === false) {
    return host.sendJson(
      call.res,
      200,
      final(Array.from({ length: tokens }, (_, i) => opts.text(i)).join('')),
    );
  }
  await host.stream(call, {
    contentType: NDJSON,
    head: [],
    token: (i) => `${JSON.stringify(piece(opts.text(i), false))}\n`,
    tail: () => [`${JSON.stringify(final(''))}\n`],
    tokens,
  });
}

/**
 * A turn that calls tools, as Ollama answers it: the calls whole in one line (arguments as an
 * object; ids `call_` + 8 characters from Ollama 0.12 on, none before), then the final line with
 * empty content and done_reason "stop". Output tokens: one per call.
 */
async function callTools(call: FakeCall, host: FakeServer, model: string, calls: FakeToolCall[]) {
  const { opts, body } = call;
  const toolCalls = calls.map((c, index) => ({
    ...(opts.toolCallIds ? { id: `call_${randomBytes(4).toString('hex')}` } : {}),
    function: { index, name: c.name, arguments: c.arguments },
  }));
  const stats = {
    total_duration: 2000000,
    load_duration: 1000000,
    ...usage(opts, inputTokensOfMessages(body.messages), calls.length),
  };
  const created_at = () => new Date().toISOString();
  if (body.stream === false) {
    return host.sendJson(call.res, 200, {
      model,
      created_at: created_at(),
      message: { role: 'assistant', content: '', tool_calls: toolCalls },
      done_reason: 'stop',
      done: true,
      ...stats,
    });
  }
  const line = (value: object) => `${JSON.stringify(value)}\n`;
  await host.stream(call, {
    contentType: NDJSON,
    head: [],
    token: () =>
      line({
        model,
        created_at: created_at(),
        message: { role: 'assistant', content: '', tool_calls: toolCalls },
        done: false,
      }),
    tail: () => [
      line({
        model,
        created_at: created_at(),
        message: { role: 'assistant', content: '' },
        done_reason: 'stop',
        done: true,
        ...stats,
      }),
    ],
    tokens: 1,
  });
}

function usage(opts: ResolvedOptions, inputTokens: number, outputTokens: number): Record<string, number> {
  if (!opts.reportUsage) return {};
  return {
    prompt_eval_count: inputTokens,
    prompt_eval_duration: 1000000,
    eval_count: outputTokens,
    eval_duration: 1000000 * outputTokens,
  };
}

function embed(call: FakeCall, model: string) {
  const input = call.body.input;
  const texts = Array.isArray(input) ? input.map(String) : [String(input ?? '')];
  return {
    model,
    embeddings: texts.map((t) => fakeEmbedding(t, call.opts.embeddingDims)),
    total_duration: 1000000,
    load_duration: 1000000,
    ...(call.opts.reportUsage ? { prompt_eval_count: inputTokensOfText(texts) } : {}),
  };
}

function tag(name: string) {
  return {
    name,
    model: name,
    modified_at: '2025-01-01T00:00:00Z',
    size: 4920753328,
    digest: DIGEST,
    details: DETAILS,
  };
}

function running(name: string) {
  const expires = new Date(Date.now() + 300_000).toISOString();
  const { name: n, model, size, digest, details } = tag(name);
  return {
    name: n,
    model,
    size,
    digest,
    details,
    expires_at: expires,
    size_vram: size,
    context_length: 4096,
  };
}
