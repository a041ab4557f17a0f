/**
 * One error type for the whole platform. Services throw `ApiError` with a code; the global
 * exception filter renders it in the wire format of the API surface the request came in on
 * (native `{success:false,message}`, OpenAI `{error:{…}}`, LLM-API `{detail}`, admin).
 */
export type ApiErrorCode =
  | 'invalid_request'
  | 'missing_fields'
  | 'missing_api_key'
  | 'invalid_api_key'
  | 'ip_not_authorized'
  | 'forbidden'
  | 'model_pricing_not_found'
  | 'model_not_found'
  | 'model_not_allowed'
  | 'insufficient_credits'
  | 'rate_limit_exceeded'
  | 'no_available_hosts'
  | 'task_not_found'
  | 'not_found'
  | 'conflict'
  | 'idempotency_mismatch'
  | 'upstream_error'
  | 'service_unavailable'
  | 'internal_error';

export interface ApiErrorSpec {
  status: number;
  /** Text on the native API (seed 000's error table, word for word). */
  native: string;
  /** OpenAI `error.type`. */
  openaiType: string;
  /** OpenAI `error.code`, where OpenAI's differs from ours (CONTRACT §3). */
  openaiCode?: string;
  /** Default human message elsewhere. */
  message: string;
}

export const API_ERRORS: Record<ApiErrorCode, ApiErrorSpec> = {
  invalid_request: {
    status: 400,
    native: 'Invalid request',
    openaiType: 'invalid_request_error',
    message: 'Invalid request',
  },
  missing_fields: {
    status: 400,
    native: 'messages, model, max_tokens, and temperature are required',
    openaiType: 'invalid_request_error',
    message: 'messages, model, max_tokens, and temperature are required',
  },
  missing_api_key: {
    status: 401,
    native: 'Authorization header required',
    openaiType: 'invalid_request_error',
    message: 'You did not provide an API key. Send it as "Authorization: Bearer <key>".',
  },
  invalid_api_key: {
    status: 401,
    native: 'Invalid API key',
    openaiType: 'invalid_request_error',
    message: 'Invalid API key',
  },
  ip_not_authorized: {
    status: 401,
    native: 'Unauthorized IP address',
    openaiType: 'invalid_request_error',
    message: 'Unauthorized IP address',
  },
  forbidden: {
    status: 403,
    native: 'Forbidden',
    openaiType: 'permission_error',
    message: 'This API key may not use this endpoint',
  },
  model_pricing_not_found: {
    status: 400,
    native: 'Model pricing not found',
    openaiType: 'invalid_request_error',
    message: 'Model pricing not found',
  },
  model_not_found: {
    status: 404,
    native: 'Model pricing not found',
    openaiType: 'invalid_request_error',
    message: 'The model does not exist',
  },
  model_not_allowed: {
    status: 403,
    native: 'Model not allowed for this API key',
    openaiType: 'permission_error',
    message: 'This API key may not use this model',
  },
  insufficient_credits: {
    status: 402,
    native: 'Insufficient credits',
    openaiType: 'insufficient_quota',
    openaiCode: 'insufficient_quota',
    message: 'Insufficient credits',
  },
  rate_limit_exceeded: {
    status: 429,
    native: 'Rate limit exceeded',
    openaiType: 'rate_limit_error',
    message: 'Rate limit exceeded',
  },
  no_available_hosts: {
    status: 503,
    native: 'Max attempts reached - no available hosts',
    openaiType: 'server_error',
    message: 'Max attempts reached - no available hosts',
  },
  task_not_found: {
    status: 404,
    native: 'Task not found',
    openaiType: 'invalid_request_error',
    message: 'Task not found',
  },
  not_found: { status: 404, native: 'Not found', openaiType: 'invalid_request_error', message: 'Not found' },
  conflict: { status: 409, native: 'Conflict', openaiType: 'invalid_request_error', message: 'Conflict' },
  idempotency_mismatch: {
    status: 422,
    native: 'Idempotency-Key was already used with a different request',
    openaiType: 'invalid_request_error',
    message: 'Idempotency-Key was already used with a different request',
  },
  upstream_error: {
    status: 502,
    native: 'Upstream error',
    openaiType: 'server_error',
    message: 'The inference host failed',
  },
  service_unavailable: {
    status: 503,
    native: 'Service temporarily unavailable',
    openaiType: 'server_error',
    message: 'The platform cannot reach its database or Redis right now; retry shortly',
  },
  internal_error: {
    status: 500,
    native: 'Internal server error',
    openaiType: 'server_error',
    message: 'Internal server error',
  },
};

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message?: string,
    /** The request field at fault, when there is one (OpenAI `error.param`). */
    readonly param?: string,
    /** Status override. */
    status?: number,
    /** Response headers to send with the error (e.g. X-RateLimit-*, Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message ?? API_ERRORS[code].message);
    this.status = status ?? API_ERRORS[code].status;
  }
}
