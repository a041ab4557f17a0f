import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ApiError, type ApiErrorCode } from '../common/api-error';
import { render } from '../common/api-exception.filter';
import {
  AdminErrorResponse,
  AnthropicErrorBody,
  AnthropicErrorResponse,
  OllamaErrorResponse,
  LlmApiErrorResponse,
  LlmApiValidationItem,
  NativeErrorResponse,
  OpenAiErrorBody,
  OpenAiErrorResponse,
} from './error-schemas';

export type DocumentedSurface =
  'native' | 'openai' | 'serverless' | 'llmapi' | 'anthropic' | 'ollama' | 'admin';

const SCHEMA: Record<DocumentedSurface, new () => unknown> = {
  native: NativeErrorResponse,
  openai: OpenAiErrorResponse,
  serverless: OpenAiErrorResponse,
  llmapi: LlmApiErrorResponse,
  anthropic: AnthropicErrorResponse,
  ollama: OllamaErrorResponse,
  admin: AdminErrorResponse,
};

/** What the credentials check can answer (CONTRACT §1): on every secured operation. */
export const AUTH_ERRORS: ApiErrorCode[] = ['missing_api_key', 'invalid_api_key', 'ip_not_authorized'];

/** Short names for the examples. */
const SUMMARY: Partial<Record<ApiErrorCode, string>> = {
  missing_api_key: 'No key in Authorization or X-API-Key',
  invalid_api_key: 'Unknown, revoked or expired key',
  ip_not_authorized: 'Client address not in the key’s IP whitelist',
  insufficient_credits: 'The reservation exceeds the balance',
  model_pricing_not_found: 'The model has no rate',
  no_available_hosts: 'No GPU host could take the request',
};

/**
 * Documents the errors an operation (or every operation of a controller) can answer, in the
 * surface's own shape: the examples are what the exception filter renders for each code, so
 * they cannot drift from the wire. Codes with the same status share one response.
 */
export function ApiErrors(
  surface: DocumentedSurface,
  ...errors: (ApiErrorCode | [ApiErrorCode, string])[]
): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, { code: ApiErrorCode; body: unknown }[]>();
  for (const error of errors) {
    // A tuple gives the example its own message (e.g. which field is invalid).
    const [code, message] = typeof error === 'string' ? [error, undefined] : error;
    const { status, body } = render(surface, new ApiError(code, message));
    byStatus.set(status, [...(byStatus.get(status) ?? []), { code, body }]);
  }
  const schema = { $ref: getSchemaPath(SCHEMA[surface]) };
  // Errors are JSON whatever the operation produces on success (NDJSON, SSE, text).
  const decorators = [...byStatus.entries()].map(([status, found]) =>
    ApiResponse({
      status,
      description: [...new Set(found.map((e) => describe(e.body)))].join('; '),
      content: {
        'application/json': {
          schema,
          examples: Object.fromEntries(
            found.map((e) => [e.code, { summary: SUMMARY[e.code] ?? describe(e.body), value: e.body }]),
          ),
        },
      },
    }),
  );
  return applyDecorators(
    ApiExtraModels(SCHEMA[surface], OpenAiErrorBody, LlmApiValidationItem, AnthropicErrorBody),
    ...decorators,
  ) as MethodDecorator & ClassDecorator;
}

/** The human text of a rendered error body. */
function describe(body: unknown): string {
  const b = body as { message?: string; error?: { message?: string } | string; detail?: unknown };
  if (typeof b.message === 'string') return b.message;
  if (typeof b.error === 'object' && b.error?.message) return b.error.message;
  if (typeof b.error === 'string') return b.error;
  if (typeof b.detail === 'string') return b.detail;
  if (Array.isArray(b.detail)) return 'Invalid field (named in `detail[].loc`)';
  return 'Error';
}

/** What every completion on the OpenAI-shaped surfaces can answer besides success. */
export const OPENAI_COMPLETION_ERRORS: (ApiErrorCode | [ApiErrorCode, string])[] = [
  ['invalid_request', 'messages: must be a non-empty array'],
  ...AUTH_ERRORS,
  'insufficient_credits',
  'model_not_allowed',
  ['model_not_found', 'The model `llama9` does not exist'],
  'rate_limit_exceeded',
  'upstream_error',
  'no_available_hosts',
  'service_unavailable',
];

/** The same errors on the newer dialects (each renders them in its own shape). */
export const DIALECT_COMPLETION_ERRORS: (ApiErrorCode | [ApiErrorCode, string])[] = [
  ['invalid_request', "Invalid 'input': expected a string or a non-empty list of input items"],
  ...AUTH_ERRORS,
  'insufficient_credits',
  'model_not_allowed',
  ['model_pricing_not_found', "The model 'llama9' does not exist"],
  'rate_limit_exceeded',
  'upstream_error',
  'no_available_hosts',
  'service_unavailable',
];
