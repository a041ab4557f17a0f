import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../auth/principal';
import type { ApiError } from '../../common/api-error';
import { rateLimitHeaders, RateLimitState } from '../../ratelimit/rate-limit.service';
import type { CompletionChunk, CompletionRequest } from '../completion.types';
import type { CompletionHandle, CompletionsService, RunOutcome } from '../completions.service';
import { SSE_HEADERS, StreamFormat, writeStream } from '../stream-writer';
import { abortOnDisconnect, sendJson, setHeaders } from '../http-stream';
import { chatCompletion, completionId, OpenAiChunks, textCompletion } from './openai-format';
import type { OpenAiStreamOptions } from './openai-request';
import type { AbortLike } from '../../common/abort';

/** How an OpenAI-shaped surface differs: its usage-record name, its JSON envelope, its SSE framing. */
export interface OpenAiDialect {
  source: string;
  wrap(body: object): object;
  frame(sse: string): string;
}

export const OPENAI: OpenAiDialect = { source: 'openai', wrap: (body) => body, frame: (sse) => sse };

/** A chat or text completion answered in OpenAI's shapes: one JSON body, or an SSE stream. */
export async function serveOpenAi(
  completions: CompletionsService,
  dialect: OpenAiDialect,
  request: CompletionRequest,
  options: OpenAiStreamOptions,
  principal: Principal,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const abort = abortOnDisconnect(req, res);
  const id = completionId(request.kind === 'chat' ? 'chatcmpl' : 'cmpl');
  const created = Math.floor(Date.now() / 1000);
  if (!request.stream) {
    const r = await completions.complete(request, principal, abort.signal, { source: dialect.source });
    setLimitHeaders(res, r.rateLimit);
    const shape = request.kind === 'chat' ? chatCompletion : textCompletion;
    sendJson(res, dialect.wrap(shape(id, created, request.model, r.choices, r.finishReason, r.usage)));
    return;
  }
  const handle = await completions.run(request, principal, abort.signal, { source: dialect.source });
  setLimitHeaders(res, handle.rateLimit);
  const chunks = new OpenAiChunks(request.kind, id, created, request.model, request.n);
  await streamSse(res, handle, chunks, options, abort.signal, dialect.frame);
}

/** SSE: a role chunk, content chunks, a finish chunk, optionally a usage chunk, then [DONE]. */
export function streamSse(
  res: ServerResponse,
  handle: CompletionHandle,
  chunks: OpenAiChunks,
  options: OpenAiStreamOptions,
  signal: AbortLike,
  frame: (data: string) => string,
): Promise<void> {
  return writeStream(res, handle, new OpenAiSse(chunks, options, frame), signal);
}

class OpenAiSse implements StreamFormat {
  readonly headers = SSE_HEADERS;

  constructor(
    private readonly chunks: OpenAiChunks,
    private readonly options: OpenAiStreamOptions,
    private readonly frame: (data: string) => string,
  ) {}

  open(): string {
    const role = this.chunks.role();
    return role ? this.frame(role) : '';
  }

  piece(chunk: CompletionChunk): string {
    return this.chunks.piece(chunk, this.frame);
  }

  close(outcome: RunOutcome): string {
    let frames = this.frame(this.chunks.finish(outcome.finishReason));
    if (this.options.includeUsage) frames += this.frame(this.chunks.usage(outcome.usage));
    return frames + this.frame(this.chunks.done());
  }

  fail(error: ApiError): string {
    return this.frame(this.chunks.error(error.message, error.code));
  }
}

export function setLimitHeaders(res: ServerResponse, state: RateLimitState | undefined): void {
  if (state) setHeaders(res, rateLimitHeaders(state));
}
