import { createHash } from 'node:crypto';
import { ApiError } from '../common/api-error';
import type { CompletionRequest } from '../completions/completion.types';
import { parseNativeCompletion } from '../completions/native/native-request';

export interface QueuedCompletion {
  request: CompletionRequest;
  webhookUrl: string | null;
  /**
   * Identifies the submitted request, to tell a retried submit from a different one. Worked out
   * when asked (only submits with an Idempotency-Key need it): a SHA-256 of the whole request.
   */
  hash(): string;
}

/**
 * The body of POST /api/v1/qcompletions: seed 000's completion body, parsed exactly as the
 * synchronous API parses it (same errors; `output_format: "json"` asks for JSON output), plus
 * an optional `webhook_url`.
 */
export function parseQueuedCompletion(body: unknown): QueuedCompletion {
  const parsed = parseNativeCompletion(body);
  const webhook = (body as Record<string, unknown>).webhook_url ?? null;
  if (webhook !== null && typeof webhook !== 'string') {
    throw new ApiError('invalid_request', 'webhook_url must be a string', 'webhook_url');
  }
  // A queued task is answered whole; `stream` has no meaning here.
  const request: CompletionRequest = { ...parsed, stream: false };
  let hash: string | undefined;
  return {
    request,
    webhookUrl: webhook,
    hash: () =>
      (hash ??= createHash('sha256')
        .update(JSON.stringify([request, webhook]))
        .digest('hex')),
  };
}
