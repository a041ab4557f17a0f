import type {
  ChatMessage,
  ChunkBatch,
  CompletionChunk,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  FinishReason,
} from '../../completions/completion.types';
import type { UpstreamHttp } from '../http/upstream-http';
import { NdjsonParser } from '../http/ndjson';
import { mapParams } from '../param-table';
import type { DiscoveredModel, ProviderAdapter, ProviderHost } from '../provider.types';
import { toUpstreamError, UpstreamError } from '../upstream-error';
import { estimateTokens } from '../token-estimate';
import { OLLAMA_OPTIONS } from './ollama.params';
import type {
  OllamaChatLine,
  OllamaEmbedResponse,
  OllamaGenerateLine,
  OllamaMessage,
  OllamaModelList,
} from './ollama.types';

/**
 * Ollama: /api/chat, /api/generate, /api/embed, /api/tags + /api/ps. Streams upstream when the
 * client streams; otherwise one JSON answer (the same shape as the final NDJSON line).
 */
export class OllamaProvider implements ProviderAdapter {
  readonly kind = 'ollama' as const;

  constructor(private readonly http: UpstreamHttp) {}

  chat(host: ProviderHost, request: CompletionRequest, signal: AbortSignal): AsyncIterable<ChunkBatch> {
    const body = {
      model: request.model,
      messages: request.messages.map(toOllamaMessage),
      stream: request.stream,
      ...this.common(request),
    };
    return this.stream<OllamaChatLine>(host, '/api/chat', body, signal, (line) => line.message?.content);
  }

  complete(host: ProviderHost, request: CompletionRequest, signal: AbortSignal): AsyncIterable<ChunkBatch> {
    const prompt = request.prompt ?? request.messages.map((m) => m.content).join('\n');
    const body = { model: request.model, prompt, stream: request.stream, ...this.common(request) };
    return this.stream<OllamaGenerateLine>(host, '/api/generate', body, signal, (line) => line.response);
  }

  async embed(host: ProviderHost, request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    const res = await this.http.json<OllamaEmbedResponse>(
      host,
      'POST',
      '/api/embed',
      { model: request.model, input: request.input },
      signal,
      readOllamaError,
    );
    if (!Array.isArray(res.embeddings))
      throw new UpstreamError('protocol', 'No embeddings in /api/embed answer');
    // Ollama reports prompt_eval_count; older builds omit it, then ~4 characters per token.
    const inputTokens = res.prompt_eval_count ?? estimateTokens(request.input.join(''));
    return { embeddings: res.embeddings, usage: { inputTokens } };
  }

  async listModels(host: ProviderHost, signal: AbortSignal): Promise<DiscoveredModel[]> {
    const [tags, running] = await Promise.all([
      this.http.json<OllamaModelList>(host, 'GET', '/api/tags', undefined, signal, readOllamaError),
      // /api/ps only adds "warm"; a build without it still lists its models.
      this.http
        .json<OllamaModelList>(host, 'GET', '/api/ps', undefined, signal, readOllamaError)
        .catch((): OllamaModelList => ({ models: [] })),
    ]);
    if (!Array.isArray(tags.models)) throw new UpstreamError('protocol', 'No models in /api/tags answer');
    const warm = new Set((running.models ?? []).map((m) => m.name));
    return tags.models.map((m) => ({ name: m.name, warm: warm.has(m.name) }));
  }

  /** Fields shared by /api/chat and /api/generate: options (parameter table), stop, format. */
  private common(request: CompletionRequest): Record<string, unknown> {
    const options: Record<string, unknown> = mapParams(OLLAMA_OPTIONS, request);
    if (request.stop?.length) options.stop = request.stop;
    const common: Record<string, unknown> = { options };
    const format = toOllamaFormat(request);
    if (format !== undefined) common.format = format;
    return common;
  }

  private async *stream<L extends OllamaChatLine | OllamaGenerateLine>(
    host: ProviderHost,
    path: string,
    body: unknown,
    signal: AbortSignal,
    textOf: (line: L) => string | undefined,
  ): AsyncGenerator<ChunkBatch> {
    const res = await this.http.send(host, 'POST', path, body, signal, readOllamaError);
    try {
      // The body read directly, parsed in step (as the OpenAI provider's streams).
      const ndjson = new NdjsonParser<L>();
      const parts = res.body[Symbol.asyncIterator]();
      for (let ended = false; !ended;) {
        const next = await parts.next();
        ended = next.done === true;
        const batch: CompletionChunk[] = [];
        for (const line of ended ? ndjson.end() : ndjson.push(next.value as Buffer | string)) {
          if (line.error) throw new UpstreamError('protocol', `Host error: ${line.error}`);
          const text = textOf(line);
          if (text) batch.push({ text });
          if (line.done) {
            batch.push({ finishReason: toFinishReason(line.done_reason), usage: toUsage(line) });
            yield batch;
            return;
          }
        }
        if (batch.length > 0) yield batch;
      }
      throw new UpstreamError('protocol', 'The stream ended before its final (done) line');
    } catch (error) {
      throw toUpstreamError(error, signal);
    } finally {
      res.body.destroy();
    }
  }
}

function toOllamaMessage(message: ChatMessage): OllamaMessage {
  const wire: OllamaMessage = { role: message.role, content: message.content };
  if (message.images?.length) wire.images = message.images;
  return wire;
}

/** JSON mode is `format: "json"`; a JSON schema is passed as `format` itself. */
function toOllamaFormat(request: CompletionRequest): unknown {
  const format = request.responseFormat;
  if (!format || format.type === 'text') return undefined;
  return format.type === 'json_object' ? 'json' : format.schema;
}

function toFinishReason(doneReason: string | undefined): FinishReason {
  return doneReason === 'length' ? 'length' : 'stop';
}

function toUsage(line: OllamaChatLine | OllamaGenerateLine): CompletionChunk['usage'] {
  if (line.prompt_eval_count === undefined && line.eval_count === undefined) return undefined;
  return { inputTokens: line.prompt_eval_count ?? 0, outputTokens: line.eval_count ?? 0 };
}

/** Ollama errors are `{"error": "..."}`. */
export function readOllamaError(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}
