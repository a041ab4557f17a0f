import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../auth/principal';
import { ApiError } from '../../common/api-error';
import { rateLimitHeaders, RateLimitState } from '../../ratelimit/rate-limit.service';
import type { CompletionRequest } from '../completion.types';
import { CompletionHandle, CompletionsService } from '../completions.service';
import { abortOnDisconnect, corkForTick, drained, sendJson, setHeaders } from '../http-stream';
import { chatCompletion, completionId, OpenAiChunks, textCompletion } from './openai-format';
import type { OpenAiStreamOptions } from './openai-request';

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
export async function streamSse(
  res: ServerResponse,
  handle: CompletionHandle,
  chunks: OpenAiChunks,
  options: OpenAiStreamOptions,
  signal: AbortSignal,
  frame: (data: string) => string,
): Promise<void> {
  res.statusCode = 200;
  setHeaders(res, SSE_HEADERS);
  // Frames written in one tick leave in one socket write.
  corkForTick(res);
  const role = chunks.role();
  if (role) res.write(frame(role));
  try {
    // One host read at a time: its texts are framed and written as one piece, then backpressure.
    for await (const batch of handle.batches()) {
      if (signal.aborted) break;
      let frames = '';
      for (const chunk of batch) frames += chunks.piece(chunk, frame);
      if (frames.length === 0) continue;
      corkForTick(res);
      if (!res.write(frames)) await drained(res, signal);
    }
    if (!signal.aborted) {
      const result = await handle.finished;
      corkForTick(res);
      res.write(frame(chunks.finish(result.finishReason)));
      if (options.includeUsage) res.write(frame(chunks.usage(result.usage)));
      res.write(frame(chunks.done()));
    }
  } catch (error) {
    const e = error instanceof ApiError ? error : new ApiError('upstream_error');
    corkForTick(res);
    res.write(frame(chunks.error(e.message, e.code)));
  }
  res.end();
}

export function setLimitHeaders(res: ServerResponse, state: RateLimitState | undefined): void {
  if (state) setHeaders(res, rateLimitHeaders(state));
}

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};
