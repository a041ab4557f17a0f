import { ApiError } from '../common/api-error';

/** Small typed readers for hand-parsed request bodies: each failure names the field. */
export type Body = Record<string, unknown>;

export function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function invalid(param: string, reason: string): ApiError {
  return new ApiError('invalid_request', `Invalid '${param}': ${reason}`, param);
}

export function optionalNumber(body: Body, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(name, 'expected a number');
  if (value < min || value > max) throw invalid(name, `expected a number from ${min} to ${max}`);
  return value;
}

export function optionalInteger(body: Body, name: string, min: number, max: number): number | undefined {
  const value = optionalNumber(body, name, min, max);
  if (value !== undefined && !Number.isInteger(value)) throw invalid(name, 'expected an integer');
  return value;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(name, 'expected true or false');
  return value;
}

export function optionalString(body: Body, name: string, maxLength = 256): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > maxLength) throw invalid(name, 'expected a string');
  return value;
}

/** `stop`: a string or up to 4 strings (OpenAI's limit). */
export function optionalStop(body: Body, name = 'stop'): string[] | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length <= 4 && value.every((s) => typeof s === 'string')) {
    return value as string[];
  }
  throw invalid(name, 'expected a string or an array of up to 4 strings');
}

/** Largest max_tokens accepted: bounds the reservation so it can't overflow anything. */
export const MAX_OUTPUT_TOKENS = 1_000_000;
/** Largest context accepted for num_context. */
export const MAX_CONTEXT = 10_000_000;
