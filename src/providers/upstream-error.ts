import type { AbortLike } from '../common/abort';
/** Why a call to an inference host failed; the dispatcher decides failover and host health from it. */
export type UpstreamErrorKind = 'connect' | 'timeout' | 'status' | 'protocol' | 'aborted';

/** Upstream statuses worth trying on another host (overload, host-side faults, model missing there). */
const RETRYABLE_STATUS = new Set([401, 403, 404, 408, 429]);

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  /** True when another host may succeed where this one failed (before the first chunk only). */
  readonly retryable: boolean;

  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    /** The host's HTTP status, for `kind: 'status'`. */
    readonly status?: number,
  ) {
    super(message);
    this.retryable =
      kind === 'connect' ||
      kind === 'timeout' ||
      kind === 'protocol' ||
      (kind === 'status' && isRetryable(status));
  }
}

function isRetryable(status: number | undefined): boolean {
  return status !== undefined && (status >= 500 || RETRYABLE_STATUS.has(status));
}

/** Could not reach the host at all: it is down (the registry takes it out at once). */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** The connection broke during the exchange (host crash, or a keep-alive race): retryable, counted. */
const DROPPED_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Maps anything thrown while talking to a host (undici, net, JSON) to an UpstreamError. */
export function toUpstreamError(error: unknown, signal?: AbortLike): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (signal?.aborted) return new UpstreamError('aborted', 'The request was aborted');
  const code = errorCode(error);
  const { message, name } = describe(error);
  if (code && CONNECT_CODES.has(code)) return new UpstreamError('connect', `${code}: ${message}`);
  if (code && TIMEOUT_CODES.has(code)) return new UpstreamError('timeout', `${code}: ${message}`);
  if (code && DROPPED_CODES.has(code))
    return new UpstreamError('protocol', `Connection dropped (${code}): ${message}`);
  if (code === 'UND_ERR_ABORTED' || name === 'AbortError')
    return new UpstreamError('aborted', 'The request was aborted');
  return new UpstreamError('protocol', message);
}

interface ErrorLike {
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
  message?: unknown;
  name?: unknown;
}

/**
 * Duck-typed, not `instanceof Error`: errors from Node's core (net) and from a library may come
 * from another realm (Jest's VM modules), where instanceof fails.
 */
function describe(error: unknown): { message: string; name: string } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  return {
    message: typeof e.message === 'string' ? e.message : String(error),
    name: typeof e.name === 'string' ? e.name : '',
  };
}

/** The error code of a net/undici error, also when wrapped (cause) or aggregated (happy eyeballs). */
function errorCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 3) return undefined;
  const e = error as ErrorLike;
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0], depth + 1);
  return e.cause ? errorCode(e.cause, depth + 1) : undefined;
}
