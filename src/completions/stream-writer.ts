import type { ServerResponse } from 'node:http';
import { ApiError } from '../common/api-error';
import type { CompletionChunk } from './completion.types';
import type { CompletionHandle, RunOutcome } from './completions.service';
import { corkForTick, drained, setHeaders } from './http-stream';
import type { AbortLike } from '../common/abort';

/** How one dialect writes a streamed answer: its headers, and the frames around and for each chunk. */
export interface StreamFormat {
  readonly headers: Record<string, string>;
  /** Frames before the first chunk ('' for none). */
  open(): string;
  /** The frames of one chunk ('' for none). */
  piece(chunk: CompletionChunk): string;
  /** Work before the last frames (a dialect that stores its answer), once the outcome is known. */
  beforeClose?(outcome: RunOutcome): Promise<void>;
  /** Frames after the last chunk, once the answer's outcome is known. */
  close(outcome: RunOutcome): string;
  /** The host broke off after the status line went out: the dialect's in-stream error. */
  fail(error: ApiError): string;
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/**
 * Writes a completion as a stream, the same loop for every dialect: one host read at a time, its
 * chunks framed and written as one piece, then backpressure; a client that left stops it (the
 * handle settles what was delivered).
 */
export async function writeStream(
  res: ServerResponse,
  handle: CompletionHandle,
  format: StreamFormat,
  signal: AbortLike,
): Promise<void> {
  res.statusCode = 200;
  setHeaders(res, format.headers);
  // Frames written in one tick leave in one socket write.
  corkForTick(res);
  const head = format.open();
  if (head) res.write(head);
  try {
    for await (const batch of handle.batches()) {
      if (signal.aborted) break;
      let frames = '';
      for (const chunk of batch) frames += format.piece(chunk);
      if (frames.length === 0) continue;
      corkForTick(res);
      if (!res.write(frames)) await drained(res, signal);
    }
    if (!signal.aborted) {
      const outcome = await handle.finished;
      if (format.beforeClose) await format.beforeClose(outcome);
      corkForTick(res);
      res.write(format.close(outcome));
    }
  } catch (error) {
    corkForTick(res);
    res.write(format.fail(error instanceof ApiError ? error : new ApiError('upstream_error')));
  }
  res.end();
}
