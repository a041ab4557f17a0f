import type {
  ChatMessage,
  ChunkBatch,
  CompletionChunk,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  FinishReason,
  ToolCallDelta,
} from '../../completions/completion.types';
import { imageTypeOfBase64 } from '../../completions/image-type';
import type { UpstreamHttp } from '../http/upstream-http';
import { SSE_DONE, SseJsonParser } from '../http/sse';
import { mapParams } from '../param-table';
import type { DiscoveredModel, ProviderAdapter, ProviderHost } from '../provider.types';
import { estimateTokens } from '../token-estimate';
import { toUpstreamError, UpstreamError } from '../upstream-error';
import { type EngineSignals, parseEngineMetrics, parseLlamaCppSlots } from '../../hosts/engine-signals';
import { OPENAI_PARAMS } from './openai.params';
import type {
  OpenAICompletion,
  OpenAIEmbeddingList,
  OpenAIMessage,
  OpenAIModelList,
  OpenAIStreamChunk,
} from './openai.types';
import type { AbortLike } from '../../common/abort';

/**
 * OpenAI-compatible servers (vLLM, TGI, llama.cpp, LM Studio, LiteLLM, OpenAI): /v1/chat/completions,
 * /v1/completions, /v1/embeddings, /v1/models. Streams upstream (with include_usage) when the
 * client streams; otherwise asks for one JSON answer, far cheaper to relay than dozens of events.
 */
export class OpenAIProvider implements ProviderAdapter {
  readonly kind = 'openai' as const;

  constructor(private readonly http: UpstreamHttp) {}

  unsupported(): string | undefined {
    return undefined;
  }

  chat(host: ProviderHost, request: CompletionRequest, signal: AbortLike): AsyncIterable<ChunkBatch> {
    const body: Record<string, unknown> = {
      model: request.model,
      messages: request.messages.map(toOpenAIMessage),
      ...common(request),
      ...tooling(request),
    };
    if (request.logprobs) {
      body.logprobs = true;
      if (request.topLogprobs !== undefined) body.top_logprobs = request.topLogprobs;
    }
    return this.answer(host, '/chat/completions', body, request.stream, signal);
  }

  complete(host: ProviderHost, request: CompletionRequest, signal: AbortLike): AsyncIterable<ChunkBatch> {
    const prompt = request.prompt ?? request.messages.map((m) => m.content).join('\n');
    const body: Record<string, unknown> = { model: request.model, prompt, ...common(request) };
    if (request.logprobs) body.logprobs = request.topLogprobs ?? 0;
    return this.answer(host, '/completions', body, request.stream, signal);
  }

  async embed(host: ProviderHost, request: EmbeddingRequest, signal: AbortLike): Promise<EmbeddingResult> {
    const body: Record<string, unknown> = {
      model: request.model,
      input: request.input,
      encoding_format: 'float',
    };
    if (request.user) body.user = request.user;
    const res = await this.http.json<OpenAIEmbeddingList>(
      host,
      'POST',
      v1(host, '/embeddings'),
      body,
      signal,
      readOpenAIError,
    );
    if (!Array.isArray(res.data)) throw new UpstreamError('protocol', 'No data in /v1/embeddings answer');
    const embeddings = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    const inputTokens = res.usage?.prompt_tokens ?? estimateTokens(request.input.join(''));
    return { embeddings, usage: { inputTokens } };
  }

  async listModels(host: ProviderHost, signal: AbortLike): Promise<DiscoveredModel[]> {
    const res = await this.http.json<OpenAIModelList>(
      host,
      'GET',
      v1(host, '/models'),
      undefined,
      signal,
      readOpenAIError,
    );
    if (!Array.isArray(res.data)) throw new UpstreamError('protocol', 'No data in /v1/models answer');
    return res.data.map((m) => ({ name: m.id }));
  }

  /**
   * vLLM's or llama.cpp's Prometheus /metrics, else llama.cpp's /slots, at the server's root (not
   * under /v1); undefined when neither answers with something known (OpenAI itself, TGI, …).
   */
  async readSignals(host: ProviderHost, signal: AbortLike): Promise<EngineSignals | undefined> {
    const root = { ...host, baseUrl: host.baseUrl.replace(/\/v1\/?$/, '') };
    const metrics = await this.http
      .text(root, 'GET', '/metrics', undefined, signal, readOpenAIError)
      .then((text) => parseEngineMetrics(text, new Date()))
      .catch(notFound);
    if (metrics) return metrics;
    const slots = await this.http
      .json<unknown>(root, 'GET', '/slots', undefined, signal, readOpenAIError)
      .catch(notFound);
    return slots === undefined ? undefined : parseLlamaCppSlots(slots, new Date());
  }

  private answer(
    host: ProviderHost,
    path: string,
    body: Record<string, unknown>,
    stream: boolean,
    signal: AbortLike,
  ): AsyncIterable<ChunkBatch> {
    return stream ? this.stream(host, path, body, signal) : this.whole(host, path, body, signal);
  }

  /** A non-streamed answer as the same chunks a stream would end with: the text, then finish + usage. */
  private async *whole(
    host: ProviderHost,
    path: string,
    body: Record<string, unknown>,
    signal: AbortLike,
  ): AsyncGenerator<ChunkBatch> {
    const res = await this.http.json<OpenAICompletion>(
      host,
      'POST',
      v1(host, path),
      body,
      signal,
      readOpenAIError,
    );
    const choices = res.choices;
    if (!choices?.length) throw new UpstreamError('protocol', 'No choices in the answer');
    const batch: CompletionChunk[] = [];
    for (const choice of choices) {
      const index = choice.index ?? 0;
      const piece: CompletionChunk = index === 0 ? {} : { choice: index };
      const text = choice.message?.content ?? choice.text;
      if (text) piece.text = text;
      const calls = choice.message?.tool_calls;
      if (calls?.length) {
        piece.toolCalls = calls.map((c, i) => ({
          index: i,
          id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        }));
      }
      if (choice.logprobs) piece.logprobs = choice.logprobs;
      piece.finishReason = toFinishReason(choice.finish_reason ?? 'stop');
      batch.push(piece);
    }
    // The usage (of all choices) rides on the last chunk, as a stream ends.
    if (res.usage) {
      batch[batch.length - 1]!.usage = {
        inputTokens: res.usage.prompt_tokens,
        outputTokens: res.usage.completion_tokens ?? 0,
      };
    }
    yield batch;
  }

  private async *stream(
    host: ProviderHost,
    path: string,
    body: Record<string, unknown>,
    signal: AbortLike,
  ): AsyncGenerator<ChunkBatch> {
    const res = await this.http.send(host, 'POST', v1(host, path), body, signal, readOpenAIError);
    let finishReason: FinishReason | undefined;
    let usage: CompletionChunk['usage'];
    try {
      // The body read directly, parsed in step (no async generator per layer: one per token costs).
      const sse = new SseJsonParser<OpenAIStreamChunk>(contentChunk);
      const parts = res.body[Symbol.asyncIterator]();
      for (let ended = false; !ended;) {
        const next = await parts.next();
        ended = next.done === true;
        const batch: CompletionChunk[] = [];
        for (const event of ended ? sse.end() : sse.push(next.value as Buffer | string)) {
          if (event === SSE_DONE) {
            ended = true;
            break;
          }
          if (event.error)
            throw new UpstreamError('protocol', `Host error: ${event.error.message ?? 'unknown'}`);
          const choices = event.choices;
          if (choices?.length === 1 && (choices[0]!.index ?? 0) === 0 && !choices[0]!.delta?.tool_calls) {
            // The common case: one choice's text (read without JSON.parse when plain, see contentChunk).
            const choice = choices[0]!;
            const text = choice.delta?.content ?? choice.text;
            if (choice.logprobs)
              batch.push(text ? { text, logprobs: choice.logprobs } : { logprobs: choice.logprobs });
            else if (text) batch.push({ text });
            if (choice.finish_reason) finishReason = toFinishReason(choice.finish_reason);
          } else if (choices?.length) {
            for (const choice of choices) {
              const piece = streamedPiece(choice);
              if (piece) batch.push(piece);
              // Choice 0's reason ends the answer; the others' ride on their own chunks.
              if (choice.finish_reason && (choice.index ?? 0) === 0)
                finishReason = toFinishReason(choice.finish_reason);
            }
          }
          if (event.usage)
            usage = {
              inputTokens: event.usage.prompt_tokens,
              outputTokens: event.usage.completion_tokens ?? 0,
            };
        }
        if (batch.length > 0) yield batch;
      }
      // Without [DONE] a stream is complete only if the host said why it stopped.
      if (!finishReason) throw new UpstreamError('protocol', 'The stream ended without a finish reason');
      yield [usage ? { finishReason, usage } : { finishReason }];
    } catch (error) {
      throw toUpstreamError(error, signal);
    } finally {
      res.body.destroy();
    }
  }
}

/** Body fields shared by chat and text completions: the parameter table, stop, format, streaming. */
function common(request: CompletionRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ...mapParams(OPENAI_PARAMS, request),
    stream: request.stream,
    ...(request.stream ? { stream_options: { include_usage: true } } : {}),
  };
  if (request.stop?.length) body.stop = request.stop;
  if (request.user) body.user = request.user;
  const format = request.responseFormat;
  if (format?.type === 'json_object') body.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    const schema = { name: format.name ?? 'response', schema: format.schema, strict: format.strict };
    body.response_format = { type: 'json_schema', json_schema: schema };
  }
  return body;
}

type StreamedChoice = NonNullable<OpenAIStreamChunk['choices']>[number];

/** A streamed choice with tool-call pieces or of another index than 0, relayed piece by piece. */
function streamedPiece(choice: StreamedChoice): CompletionChunk | undefined {
  const index = choice.index ?? 0;
  const piece: CompletionChunk = index === 0 ? {} : { choice: index };
  const text = choice.delta?.content ?? choice.text;
  if (text) piece.text = text;
  const calls = choice.delta?.tool_calls;
  if (calls?.length) {
    piece.toolCalls = calls.map((c, i) => {
      const delta: ToolCallDelta = { index: c.index ?? i };
      if (c.id) delta.id = c.id;
      if (c.function?.name) delta.name = c.function.name;
      if (c.function?.arguments) delta.arguments = c.function.arguments;
      return delta;
    });
  }
  if (choice.logprobs) piece.logprobs = choice.logprobs;
  // Other choices' ends travel with them; choice 0's end is the stream's (see the reader).
  if (index !== 0 && choice.finish_reason) piece.finishReason = toFinishReason(choice.finish_reason);
  return piece.text || piece.toolCalls || piece.logprobs || piece.finishReason ? piece : undefined;
}

/** tools, tool_choice and parallel_tool_calls in OpenAI's wire shape. */
function tooling(request: CompletionRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (request.tools?.length) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        ...(tool.parameters !== undefined ? { parameters: tool.parameters } : {}),
        ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      },
    }));
  }
  const choice = request.toolChoice;
  if (choice !== undefined) {
    body.tool_choice =
      typeof choice === 'object' ? { type: 'function', function: { name: choice.name } } : choice;
  }
  if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  return body;
}

/** An endpoint the host lacks (404, 405, 501, or not JSON) reads as "no signals"; other failures throw. */
function notFound(error: unknown): undefined {
  if (error instanceof UpstreamError && error.kind === 'protocol') return undefined;
  if (error instanceof UpstreamError && [404, 405, 501].includes(error.status ?? 0)) return undefined;
  throw error;
}

/** Hosts are registered with or without the `/v1` root (`http://gpu:8000` or `https://api.openai.com/v1`). */
function v1(host: ProviderHost, path: string): string {
  return /\/v1\/?$/.test(host.baseUrl) ? path : `/v1${path}`;
}

function toOpenAIMessage(message: ChatMessage): OpenAIMessage {
  if (message.toolCalls?.length) {
    return {
      role: message.role,
      content: message.content === '' ? null : message.content,
      tool_calls: message.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      })),
    };
  }
  if (message.toolCallId !== undefined) {
    return { role: message.role, content: message.content, tool_call_id: message.toolCallId };
  }
  if (!message.images?.length) return { role: message.role, content: message.content };
  return {
    role: message.role,
    content: [
      { type: 'text', text: message.content },
      ...message.images.map((b64) => ({
        type: 'image_url' as const,
        image_url: { url: `data:${imageTypeOfBase64(b64) ?? 'image/jpeg'};base64,${b64}` },
      })),
    ],
  };
}

function toFinishReason(reason: string): FinishReason {
  switch (reason) {
    case 'length':
    case 'content_filter':
    case 'tool_calls':
      return reason;
    case 'function_call':
      return 'tool_calls';
    default:
      return 'stop';
  }
}

/** OpenAI errors are `{"error": {"message": ...}}`; vLLM also answers `{"object":"error","message":...}`. */
export function readOpenAIError(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
    return typeof parsed.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

/** The part of a plain content chunk before its text, as OpenAI and vLLM write it. */
const CONTENT_START = '"choices":[{"index":0,"delta":{"content":"';
const CHUNK_HEAD =
  /^\{"id":"[^"\\\u0000-\u001f]*","object":"chat\.completion\.chunk","created":(?:0|[1-9]\d*),"model":"[^"\\\u0000-\u001f]*",(?:"system_fingerprint":(?:null|"[^"\\\u0000-\u001f]*"),)?$/;
/** What JSON.parse would have to unescape or would refuse inside a string. */
const NOT_PLAIN = /[\\\u0000-\u001f]/;
const CHUNK_TAILS = new Set(
  ['"},"logprobs":null,"finish_reason":null}]', '"},"finish_reason":null}]'].flatMap((t) => [
    `${t}}`,
    `${t},"usage":null}`,
  ]),
);

/**
 * A streamed chat chunk that only carries text (nearly all of a stream), read without JSON.parse:
 * exactly the fields above in this order, text without escapes. Anything else (another shape,
 * a role, a finish reason, usage, an escaped character) returns undefined and is parsed whole.
 */
export function contentChunk(data: string): OpenAIStreamChunk | undefined {
  const at = data.indexOf(CONTENT_START);
  if (at < 0) return undefined;
  const start = at + CONTENT_START.length;
  const end = data.indexOf('"', start);
  if (end < 0) return undefined;
  const content = data.slice(start, end);
  if (NOT_PLAIN.test(content) || !CHUNK_TAILS.has(data.slice(end)) || !CHUNK_HEAD.test(data.slice(0, at)))
    return undefined;
  return { choices: [{ index: 0, delta: { content }, finish_reason: null }] };
}
