import { ApiError } from '../../common/api-error';
import type { ChatMessage, CompletionRequest, MessageRole } from '../completion.types';
import {
  Body,
  isObject,
  MAX_CONTEXT,
  MAX_OUTPUT_TOKENS,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
} from '../request-validation';

const ROLES = new Set<MessageRole>(['user', 'assistant', 'system']);

/**
 * Seed 000's request body: messages, model and max_tokens required; temperature (0.7),
 * num_context (2048) and stream (false) optional; `output_format` ('default' | 'json', the queued
 * API's) asks the backend for JSON. Missing required fields -> "messages, model, max_tokens, and
 * temperature are required"; anything malformed -> "Invalid request". Both 400 (seed 000).
 */
export function parseNativeCompletion(body: unknown): CompletionRequest {
  if (!isObject(body)) throw new ApiError('invalid_request');
  if (isMissing(body.messages) || isMissing(body.model) || isMissing(body.max_tokens)) {
    throw new ApiError('missing_fields');
  }
  const model = body.model;
  if (typeof model !== 'string' || model.trim() === '' || model.length > 200) {
    throw new ApiError('invalid_request', 'model must be a non-empty string', 'model');
  }
  const maxTokens = optionalInteger(body, 'max_tokens', 1, MAX_OUTPUT_TOKENS) as number;
  const temperature = optionalNumber(body, 'temperature', 0, 2) ?? 0.7;
  const numContext = optionalInteger(body, 'num_context', 1, MAX_CONTEXT) ?? 2048;
  const stream = optionalBoolean(body, 'stream') ?? false;
  const request: CompletionRequest = {
    kind: 'chat',
    model,
    messages: parseMessages(body.messages),
    maxTokens,
    temperature,
    numContext,
    stream,
  };
  const format = parseOutputFormat(body);
  if (format === 'json') request.responseFormat = { type: 'json_object' };
  return request;
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null;
}

function parseMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ApiError('invalid_request', 'messages must be a non-empty array', 'messages');
  }
  return value.map((m: unknown, i) => {
    if (!isObject(m) || typeof m.content !== 'string' || !ROLES.has(m.role as MessageRole)) {
      throw new ApiError('invalid_request', `messages[${i}] needs a role and a string content`, 'messages');
    }
    return { role: m.role as MessageRole, content: m.content };
  });
}

function parseOutputFormat(body: Body): 'default' | 'json' {
  const value = body.output_format;
  if (value === undefined || value === null || value === 'default') return 'default';
  if (value === 'json') return 'json';
  throw new ApiError('invalid_request', "output_format must be 'default' or 'json'", 'output_format');
}
