import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal';
import type { CompletionRequest } from './completion.types';
import type { CompletedRun, CompletionsService } from './completions.service';
import { abortOnDisconnect, sendJson } from './http-stream';
import { setLimitHeaders } from './openai/openai-serve';
import { type StreamFormat, writeStream } from './stream-writer';

/** What a dialect supplies to answer a completion: its usage-record name, its JSON body, its stream. */
export interface Dialect {
  source: string;
  /** The whole answer's body (may store it first). */
  whole(run: CompletedRun): object | Promise<object>;
  stream(): StreamFormat;
}

/**
 * The one way a dialect answers a completion: one JSON body, or a stream through writeStream;
 * the key's rate-limit headers on both; a client that leaves aborts the upstream call.
 */
export async function serveCompletion(
  completions: CompletionsService,
  dialect: Dialect,
  request: CompletionRequest,
  principal: Principal,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const abort = abortOnDisconnect(req, res);
  if (!request.stream) {
    const run = await completions.complete(request, principal, abort.signal, { source: dialect.source });
    const body = await dialect.whole(run);
    setLimitHeaders(res, run.rateLimit);
    sendJson(res, body);
    return;
  }
  const handle = await completions.run(request, principal, abort.signal, { source: dialect.source });
  setLimitHeaders(res, handle.rateLimit);
  await writeStream(res, handle, dialect.stream(), abort.signal);
}
