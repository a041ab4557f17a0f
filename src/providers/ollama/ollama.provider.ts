import { randomUUID } from 'node:crypto';
import type {
  ChatMessage,
  ChunkBatch,
  CompletionChunk,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  FinishReason,
  ToolDefinition,
} from '../../completions/completion.types';
import { argumentsObject, offeredTools } from '../../completions/tools';
import type { UpstreamHttp } from '../http/upstream-http';
import { NdjsonParser } from '../http/ndjson';
import { mapParams } from '../param-table';
import type { DiscoveredModel, ProviderAdapter, ProviderHost } from '../provider.types';
import { toUpstreamError, UpstreamError } from '../upstream-error';
import { type EngineSignals, type OllamaPsAnswer, parseOllamaPs } from '../../hosts/engine-signals';
import { estimateTokens } from '../token-estimate';
import { OLLAMA_OPTIONS } from './ollama.params';
import type {
  OllamaChatLine,
  OllamaEmbedResponse,
  OllamaGenerateLine,
  OllamaMessage,
  OllamaModelList,
  OllamaTool,
} from './ollama.types';
import type { AbortLike } from '../../common/abort';

/**
 * Ollama: /api/chat, /api/generate, /api/embed, /api/tags + /api/ps. Streams upstream when the
 * client streams; otherwise one JSON answer (the same shape as the final NDJSON line).
 */
export class OllamaProvider implements ProviderAdapter {
  readonly kind = 'ollama' as const;

  constructor(private readonly http: UpstreamHttp) {}

  unsupported(request: CompletionRequest): string | undefined {
    if ((request.n ?? 1) > 1) return 'n';
    if (request.logprobs) return 'logprobs';
    return undefined;
  }

  chat(host: ProviderHost, request: CompletionRequest, signal: AbortLike): AsyncIterable<ChunkBatch> {
    const body: Record<string, unknown> = {
      model: request.model,
      messages: toOllamaMessages(request.messages),
      stream: request.stream,
      ...this.common(request),
    };
    // Ollama has no tool_choice: 'none' offers no tools, a named choice offers only that one.
    const tools = offeredTools(request.tools, request.toolChoice);
    if (tools) body.tools = tools.map(toOllamaTool);
    return this.stream<OllamaChatLine>(host, '/api/chat', body, signal, chatPieces());
  }

  complete(host: ProviderHost, request: CompletionRequest, signal: AbortLike): AsyncIterable<ChunkBatch> {
    const prompt = request.prompt ?? request.messages.map((m) => m.content).join('\n');
    const body = { model: request.model, prompt, stream: request.stream, ...this.common(request) };
    return this.stream<OllamaGenerateLine>(host, '/api/generate', body, signal, (line, batch) => {
      if (line.response) batch.push({ text: line.response });
      return false;
    });
  }

  async embed(host: ProviderHost, request: EmbeddingRequest, signal: AbortLike): Promise<EmbeddingResult> {
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

  async listModels(host: ProviderHost, signal: AbortLike): Promise<DiscoveredModel[]> {
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

  /** /api/ps: the models loaded in GPU memory and when they unload (Ollama reports no slot count). */
  async readSignals(host: ProviderHost, signal: AbortLike): Promise<EngineSignals | undefined> {
    const ps = await this.http.json<OllamaPsAnswer>(
      host,
      'GET',
      '/api/ps',
      undefined,
      signal,
      readOllamaError,
    );
    return parseOllamaPs(ps, new Date());
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
    signal: AbortLike,
    read: LineReader<L>,
  ): AsyncGenerator<ChunkBatch> {
    const res = await this.http.send(host, 'POST', path, body, signal, readOllamaError);
    try {
      // The body read directly, parsed in step (as the OpenAI provider's streams).
      const ndjson = new NdjsonParser<L>();
      const parts = res.body[Symbol.asyncIterator]();
      let calledTools = false;
      for (let ended = false; !ended;) {
        const next = await parts.next();
        ended = next.done === true;
        const batch: CompletionChunk[] = [];
        for (const line of ended ? ndjson.end() : ndjson.push(next.value as Buffer | string)) {
          if (line.error) throw new UpstreamError('protocol', `Host error: ${line.error}`);
          if (read(line, batch)) calledTools = true;
          if (line.done) {
            // Ollama ends a turn that called tools with done_reason "stop".
            const finishReason = calledTools ? 'tool_calls' : toFinishReason(line.done_reason);
            batch.push({ finishReason, usage: toUsage(line) });
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

/** Adds a line's output to the batch; true when it called a tool. */
type LineReader<L> = (line: L, batch: CompletionChunk[]) => boolean;

/**
 * /api/chat lines: text, and tool calls, each of which Ollama sends whole (arguments as an
 * object, an id only from newer builds). They become OpenAI-style calls: numbered in order, an
 * id (`call_…`, Ollama's own when it sent one), arguments as JSON text.
 */
function chatPieces(): LineReader<OllamaChatLine> {
  let calls = 0;
  return (line, batch) => {
    const message = line.message;
    if (!message) return false;
    if (message.content) batch.push({ text: message.content });
    if (!message.tool_calls?.length) return false;
    batch.push({
      toolCalls: message.tool_calls.map((call) => ({
        index: calls++,
        id: call.id || toolCallId(),
        name: call.function.name,
        arguments: JSON.stringify(call.function.arguments ?? {}),
      })),
    });
    return true;
  };
}

function toolCallId(): string {
  return `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

function toOllamaTool(tool: ToolDefinition): OllamaTool {
  const fn: OllamaTool['function'] = { name: tool.name, parameters: tool.parameters ?? { type: 'object' } };
  if (tool.description !== undefined) fn.description = tool.description;
  return { type: 'function', function: fn };
}

/** Tool calls with their arguments as objects; tool results with the name of the tool that made them. */
function toOllamaMessages(messages: ChatMessage[]): OllamaMessage[] {
  const names = new Map<string, string>();
  return messages.map((message) => {
    const wire: OllamaMessage = { role: message.role, content: message.content };
    if (message.images?.length) wire.images = message.images;
    if (message.toolCalls?.length) {
      wire.tool_calls = message.toolCalls.map((call, index) => {
        names.set(call.id, call.name);
        return {
          id: call.id,
          function: { index, name: call.name, arguments: argumentsObject(call.arguments) },
        };
      });
    }
    if (message.toolCallId !== undefined) {
      const name = message.toolName ?? names.get(message.toolCallId);
      if (name !== undefined) wire.tool_name = name;
      wire.tool_call_id = message.toolCallId;
    }
    return wire;
  });
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
