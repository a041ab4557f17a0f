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
      kind === 'connect' || kind === 'timeout' || kind === 'protocol' || (kind === 'status' && isRetryable(status));
  }
}

function isRetryable(status: number | undefined): boolean {
  return status !== undefined && (status >= 500 || RETRYABLE_STATUS.has(status));
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Maps anything thrown while talking to a host (undici, net, JSON) to an UpstreamError. */
export function toUpstreamError(error: unknown, signal?: AbortSignal): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (signal?.aborted) return new UpstreamError('aborted', 'The request was aborted');
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code && CONNECT_CODES.has(code)) return new UpstreamError('connect', `${code}: ${message}`);
  if (code && TIMEOUT_CODES.has(code)) return new UpstreamError('timeout', `${code}: ${message}`);
  if (code === 'UND_ERR_ABORTED' || (error instanceof Error && error.name === 'AbortError'))
    return new UpstreamError('aborted', 'The request was aborted');
  return new UpstreamError('protocol', message);
}

/** The error code of a net/undici error, also when wrapped (cause) or aggregated (happy eyeballs). */
function errorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const own = (error as Error & { code?: unknown }).code;
  if (typeof own === 'string') return own;
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return error.cause ? errorCode(error.cause) : undefined;
}
