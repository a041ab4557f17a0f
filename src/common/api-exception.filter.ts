import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { API_ERRORS, ApiError, ApiErrorCode } from './api-error';
import { ApiSurface, surfaceOf } from './api-surface';
import { type Dependency, unavailableDependency } from './dependency-errors';

interface Rendered {
  status: number;
  body: unknown;
}

/** Renders every error in the format of the API surface it came in on (see api-surface.ts). */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    this.respond(exception, http.getRequest<Request>(), http.getResponse<Response>());
  }

  /** Renders `exception` on `res` (also used by the fast path, which has no ArgumentsHost). */
  respond(exception: unknown, req: Request, res: Response): void {
    const surface = surfaceOf(req.path ?? req.url);
    if (surface === 'ops' && exception instanceof HttpException && !res.headersSent) {
      // Health checks and the like keep their own bodies (terminus: {status, info, error, details}).
      res.status(exception.getStatus()).json(exception.getResponse());
      return;
    }
    const error = toApiError(exception);
    if (error.code === 'internal_error') this.logger.error(exception);
    if (res.headersSent) {
      // Mid-stream failure: the status line is gone; end the body so the client sees the cut.
      res.end();
      return;
    }
    const { status, body } = render(surface, error);
    if (error.headers) res.set(error.headers);
    res.status(status).json(body);
  }
}

export function render(surface: ApiSurface, error: ApiError): Rendered {
  const spec = API_ERRORS[error.code];
  switch (surface) {
    case 'native': {
      // Seed 000's error table, word for word; it answers "no available hosts" with 400.
      const status = error.code === 'no_available_hosts' ? 400 : error.status;
      return { status, body: { success: false, message: spec.native } };
    }
    case 'openai':
    case 'serverless':
      if (error.code === 'model_pricing_not_found') {
        // OpenAI clients expect an unknown (unpriced) model as 404 model_not_found.
        return {
          status: 404,
          body: {
            error: { message: error.message, type: spec.openaiType, param: 'model', code: 'model_not_found' },
          },
        };
      }
      return {
        status: error.status,
        body: {
          error: {
            message: error.message,
            type: spec.openaiType,
            param: error.param ?? null,
            code: spec.openaiCode ?? error.code,
          },
        },
      };
    case 'llmapi':
      return renderLlmApi(error);
    case 'anthropic':
      return renderAnthropic(error);
    case 'ollama':
      // Ollama's own shape: {"error": "…"}; an unknown model is its 404.
      if (error.code === 'model_pricing_not_found') {
        return { status: 404, body: { error: error.message } };
      }
      return { status: error.status, body: { error: error.message } };
    default:
      return {
        status: error.status,
        body: { statusCode: error.status, message: error.message, error: error.code },
      };
  }
}

/** Anthropic's error types by status; 529 is its "overloaded", which its SDK retries. */
const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

function renderAnthropic(error: ApiError): Rendered {
  const status = error.code === 'no_available_hosts' ? 529 : error.status;
  const type = ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { status, body: { type: 'error', error: { type, message: error.message } } };
}

/** Seed 001 (FastAPI): `{"detail": …}`, 401 for a missing key, 403 for a wrong one. */
function renderLlmApi(error: ApiError): Rendered {
  switch (error.code) {
    case 'missing_api_key':
      return { status: 401, body: { detail: 'Missing API Key. Please provide X-API-Key header.' } };
    case 'invalid_api_key':
      return { status: 403, body: { detail: 'Invalid API Key' } };
    case 'invalid_request':
    case 'missing_fields':
      return {
        status: 422,
        body: { detail: [{ type: 'value_error', loc: ['body', error.param ?? 'body'], msg: error.message }] },
      };
    default:
      return { status: error.status, body: { detail: error.message } };
  }
}

const STATUS_CODES: Record<number, ApiErrorCode> = {
  400: 'invalid_request',
  401: 'invalid_api_key',
  402: 'insufficient_credits',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  422: 'idempotency_mismatch',
  429: 'rate_limit_exceeded',
  503: 'no_available_hosts',
};

export function toApiError(exception: unknown): ApiError {
  if (exception instanceof ApiError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response
        ? String((response as { message: unknown }).message)
        : exception.message;
    const code = status >= 500 ? 'internal_error' : (STATUS_CODES[status] ?? 'invalid_request');
    return new ApiError(code, message, undefined, status);
  }
  const dependency = unavailableDependency(exception);
  if (dependency) return dependencyUnavailable(dependency);
  // Errors thrown by express middleware (body-parser: malformed JSON, body too large, …).
  if (isHttpLikeError(exception)) {
    const status = exception.status ?? exception.statusCode ?? 400;
    if (status < 500) return new ApiError('invalid_request', 'Invalid request', undefined, status);
  }
  return new ApiError('internal_error');
}

/** Seconds a client is told to wait when a dependency is down (503 Retry-After). */
export const DEPENDENCY_RETRY_AFTER_S = 2;

export function dependencyUnavailable(dependency: Dependency): ApiError {
  const what = dependency === 'database' ? 'its database' : 'Redis';
  return new ApiError(
    'service_unavailable',
    `The platform cannot reach ${what} right now; retry shortly`,
    undefined,
    503,
    { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_S) },
  );
}

function isHttpLikeError(e: unknown): e is { status?: number; statusCode?: number; type?: string } {
  return (
    typeof e === 'object' &&
    e !== null &&
    (typeof (e as { status?: unknown }).status === 'number' ||
      typeof (e as { statusCode?: unknown }).statusCode === 'number')
  );
}
