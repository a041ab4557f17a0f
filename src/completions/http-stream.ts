import type { IncomingMessage, ServerResponse } from 'node:http';
import { expectCompletionLog } from '../logging/request-log';
import { Abort, type AbortLike } from '../common/abort';

/** A signal that fires when the client goes away before the response has been sent (common/abort.ts). */
export function abortOnDisconnect(req: IncomingMessage, res: ServerResponse): Abort {
  const controller = new Abort();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  req.once('aborted', () => controller.abort(new Error('client disconnected')));
  // The request's log line gets the completion's user, key id, model, host, tokens and credits.
  expectCompletionLog(controller.signal, res);
  return controller;
}

/**
 * Writes a piece of a streamed body, waiting when the socket's buffer is full (bounded memory).
 * Pieces written in the same tick (tokens that arrived in one upstream read) leave in one
 * socket write: the response is corked until the next tick.
 */
export async function write(res: ServerResponse, data: string, signal: AbortLike): Promise<void> {
  corkForTick(res);
  if (res.write(data)) return;
  await drained(res, signal);
}

/** Holds the response's writes until the end of this tick, then sends them as one. */
export function corkForTick(res: ServerResponse): void {
  if (res.writableCorked) return;
  res.cork();
  process.nextTick(uncork, res);
}

/** Resolves when the socket's buffer has room again, or the response closed. */
export async function drained(res: ServerResponse, signal: AbortLike): Promise<void> {
  if (signal.aborted || res.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function uncork(res: ServerResponse): void {
  res.uncork();
}

/**
 * A JSON answer as express's `res.json` writes it (same headers, same bytes), on a plain Node
 * response: the hot routes run without express's request/response prototypes (common/fast-path.ts).
 */
export function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export function setHeaders(res: ServerResponse, headers: Record<string, string>): void {
  for (const name in headers) res.setHeader(name, headers[name] as string);
}
