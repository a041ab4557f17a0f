import type { ServerResponse } from 'node:http';
import type { AbortLike } from '../common/abort';

/** What a completion adds to its request's log line once it settled (never a key or secret). */
export interface CompletionLogFields {
  userId: string;
  keyId: string | null;
  model: string;
  host: string | null;
  inputTokens: number;
  outputTokens: number;
  credits: bigint;
}

/** The log line of a request that runs a completion waits for its settle (credits are known then). */
export interface PendingCompletionLog {
  fields?: CompletionLogFields;
  /** The completion's OpenTelemetry trace id, when tracing is on (src/observability/tracing.ts). */
  traceId?: string;
  /** Set by the logger when the response closed before the settle: it writes the line then. */
  write?: () => void;
}

const PENDING = Symbol('le.completionLog');
const bySignal = new WeakMap<AbortLike, PendingCompletionLog>();

type WithPending = ServerResponse & { [PENDING]?: PendingCompletionLog };

/**
 * Called where a completion's AbortSignal is made for an HTTP request (http-stream.ts): the
 * settle finds the request's log line through the signal, the only thing it shares with it.
 */
export function expectCompletionLog(signal: AbortLike, res: ServerResponse): void {
  const pending: PendingCompletionLog = {};
  (res as WithPending)[PENDING] = pending;
  bySignal.set(signal, pending);
}

/** The log entry waiting for the completion run with `signal` (none for queued tasks and other callers). */
export function pendingCompletionLogOf(signal: AbortLike): PendingCompletionLog | undefined {
  return bySignal.get(signal);
}

export function pendingCompletionLog(res: ServerResponse): PendingCompletionLog | undefined {
  return (res as WithPending)[PENDING];
}
