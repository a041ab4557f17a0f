import { ApiError } from '../../common/api-error';
import type {
  ChatMessage,
  CompletionRequest,
  EmbeddingRequest,
  MessageRole,
  ResponseFormat,
} from '../completion.types';
import {
  Body,
  invalid,
  isObject,
  MAX_OUTPUT_TOKENS,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalStop,
  optionalString,
} from '../request-validation';

/** max_tokens when the client sets none: the reservation needs an upper bound (seed 001's default). */
export const DEFAULT_CHAT_MAX_TOKENS = 2048;
/** OpenAI's (and seed 003's) default for legacy text completions. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

export interface OpenAiStreamOptions {
  includeUsage: boolean;
}

export interface ParsedOpenAi {
  request: CompletionRequest;
  streamOptions: OpenAiStreamOptions;
}

/** Spelling of parameters: OpenAI's snake_case, or seed 002's camelCase aliases. */
export type ParameterNames = 'snake' | 'camel-aliases';

const ALIASES: Record<string, string> = {
  maxTokens: 'max_tokens',
  maxCompletionTokens: 'max_completion_tokens',
  topP: 'top_p',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  responseFormat: 'response_format',
  streamOptions: 'stream_options',
};

function normalise(body: unknown, names: ParameterNames): Body {
  if (!isObject(body)) throw new ApiError('invalid_request', 'The request body must be a JSON object');
  if (names === 'snake') return body;
  const out: Body = { ...body };
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (out[alias] !== undefined && out[name] === undefined) out[name] = out[alias];
  }
  return out;
}

/** POST /v1/chat/completions body → the internal request. Unsupported values are a 400, never ignored. */
export function parseChatCompletion(raw: unknown, names: ParameterNames = 'snake'): ParsedOpenAi {
  const body = normalise(raw, names);
  const model = requireModel(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw invalid('messages', 'expected a non-empty array of messages');
  }
  const messages = body.messages.map((m, i) => parseMessage(m, i));
  rejectUnsupported(body);
  const request: CompletionRequest = {
    kind: 'chat',
    model,
    messages,
    maxTokens: maxTokens(body, DEFAULT_CHAT_MAX_TOKENS),
    stream: optionalBoolean(body, 'stream') ?? false,
    ...sampling(body),
  };
  return { request, streamOptions: streamOptions(body) };
}

/** POST /v1/completions body (legacy text completion). */
export function parseTextCompletion(raw: unknown): ParsedOpenAi {
  const body = normalise(raw, 'snake');
  const model = requireModel(body);
  const prompt = parsePrompt(body.prompt);
  rejectUnsupported(body);
  for (const name of ['suffix', 'echo']) {
    if (body[name] !== undefined && body[name] !== null && body[name] !== false) {
      throw invalid(name, 'is not supported');
    }
  }
  optionalInteger(body, 'best_of', 1, 1); // only best_of = 1 is supported
  const request: CompletionRequest = {
    kind: 'completion',
    model,
    messages: [],
    prompt,
    maxTokens: maxTokens(body, DEFAULT_COMPLETION_MAX_TOKENS),
    stream: optionalBoolean(body, 'stream') ?? false,
    ...sampling(body),
  };
  return { request, streamOptions: streamOptions(body) };
}

export interface ParsedEmbedding {
  request: EmbeddingRequest;
  encoding: 'float' | 'base64';
}

/** POST /v1/embeddings body. */
export function parseEmbedding(raw: unknown): ParsedEmbedding {
  const body = normalise(raw, 'snake');
  const model = requireModel(body);
  const input = body.input;
  let texts: string[];
  if (typeof input === 'string') texts = [input];
  else if (
    Array.isArray(input) &&
    input.length > 0 &&
    input.length <= 2048 &&
    input.every((s) => typeof s === 'string')
  )
    texts = input as string[];
  else
    throw invalid(
      'input',
      'expected a string or a non-empty array of strings (token arrays are not supported)',
    );
  if (texts.some((t) => t.length === 0)) throw invalid('input', 'must not contain empty strings');
  if (body.dimensions !== undefined && body.dimensions !== null)
    throw invalid('dimensions', 'is not supported');
  const encoding = body.encoding_format ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64')
    throw invalid('encoding_format', "expected 'float' or 'base64'");
  const user = optionalString(body, 'user');
  return { request: { model, input: texts, ...(user ? { user } : {}) }, encoding };
}

function requireModel(body: Body): string {
  const model = body.model;
  if (typeof model !== 'string' || model.trim() === '' || model.length > 200) {
    throw invalid('model', 'expected the model name');
  }
  return model;
}

const ROLES: Record<string, MessageRole> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
};

function parseMessage(value: unknown, i: number): ChatMessage {
  const param = `messages[${i}]`;
  if (!isObject(value)) throw invalid(param, 'expected an object');
  const role = typeof value.role === 'string' ? ROLES[value.role] : undefined;
  if (!role) throw invalid(`${param}.role`, 'expected system, developer, user, assistant or tool');
  const content = value.content;
  if (typeof content === 'string') return { role, content };
  if ((content === null || content === undefined) && role === 'assistant') return { role, content: '' };
  if (!Array.isArray(content)) throw invalid(`${param}.content`, 'expected a string or an array of parts');
  const texts: string[] = [];
  const images: string[] = [];
  content.forEach((part: unknown, j) => {
    const where = `${param}.content[${j}]`;
    if (!isObject(part)) throw invalid(where, 'expected a content part');
    if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
    else if (part.type === 'image_url') images.push(parseImage(part.image_url, where));
    else throw invalid(where, "expected a 'text' or 'image_url' part");
  });
  return images.length ? { role, content: texts.join('\n'), images } : { role, content: texts.join('\n') };
}

const DATA_URL = /^data:image\/[a-z0-9.+-]+;base64,([A-Za-z0-9+/=\s]+)$/i;

function parseImage(value: unknown, where: string): string {
  const url = isObject(value) ? value.url : value;
  if (typeof url !== 'string')
    throw invalid(`${where}.image_url`, 'expected {"url": "data:image/...;base64,..."}');
  const match = DATA_URL.exec(url);
  if (!match?.[1]) {
    throw invalid(
      `${where}.image_url`,
      'only data: URLs with base64 images are supported (the platform fetches nothing)',
    );
  }
  return match[1].replace(/\s+/g, '');
}

function parsePrompt(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  throw invalid('prompt', 'expected a string (or an array of exactly one string)');
}

function maxTokens(body: Body, fallback: number): number {
  return (
    optionalInteger(body, 'max_completion_tokens', 1, MAX_OUTPUT_TOKENS) ??
    optionalInteger(body, 'max_tokens', 1, MAX_OUTPUT_TOKENS) ??
    fallback
  );
}

function sampling(body: Body): Partial<CompletionRequest> {
  const out: Partial<CompletionRequest> = {};
  const temperature = optionalNumber(body, 'temperature', 0, 2);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = optionalNumber(body, 'top_p', 0, 1);
  if (topP !== undefined) out.topP = topP;
  const seed = optionalInteger(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (seed !== undefined) out.seed = seed;
  const stop = optionalStop(body);
  if (stop) out.stop = stop;
  const frequency = optionalNumber(body, 'frequency_penalty', -2, 2);
  if (frequency !== undefined) out.frequencyPenalty = frequency;
  const presence = optionalNumber(body, 'presence_penalty', -2, 2);
  if (presence !== undefined) out.presencePenalty = presence;
  const format = responseFormat(body.response_format);
  if (format) out.responseFormat = format;
  const user = optionalString(body, 'user');
  if (user) out.user = user;
  return out;
}

function responseFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid('response_format', 'expected an object with a type');
  if (value.type === 'text') return { type: 'text' };
  if (value.type === 'json_object') return { type: 'json_object' };
  if (value.type === 'json_schema') {
    const spec = value.json_schema;
    if (!isObject(spec) || !isObject(spec.schema)) {
      throw invalid('response_format.json_schema', 'expected {"name": …, "schema": {…}}');
    }
    return {
      type: 'json_schema',
      schema: spec.schema,
      ...(typeof spec.name === 'string' ? { name: spec.name } : {}),
      ...(typeof spec.strict === 'boolean' ? { strict: spec.strict } : {}),
    };
  }
  throw invalid('response_format.type', "expected 'text', 'json_object' or 'json_schema'");
}

function streamOptions(body: Body): OpenAiStreamOptions {
  const value = body.stream_options;
  if (value === undefined || value === null) return { includeUsage: false };
  if (!isObject(value)) throw invalid('stream_options', 'expected an object');
  const includeUsage = optionalBoolean(value, 'include_usage') ?? false;
  return { includeUsage };
}

/** Parameters this platform does not implement: refused clearly rather than silently ignored. */
function rejectUnsupported(body: Body): void {
  const n = optionalInteger(body, 'n', 1, 128);
  if (n !== undefined && n !== 1) throw invalid('n', 'only n = 1 is supported');
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0)) {
    throw invalid('logprobs', 'is not supported');
  }
  if (Array.isArray(body.tools) && body.tools.length > 0)
    throw invalid('tools', 'tool calling is not supported');
  if (Array.isArray(body.functions) && body.functions.length > 0) {
    throw invalid('functions', 'function calling is not supported');
  }
}
