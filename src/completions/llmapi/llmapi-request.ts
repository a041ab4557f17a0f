import { imageTypeOf } from '../image-type';
import { ApiError } from '../../common/api-error';
import type { ChatMessage, CompletionRequest, MessageRole, ResponseFormat } from '../completion.types';
import { MAX_OUTPUT_TOKENS } from '../request-validation';

/** Seed 001's parameter table: name, range and default (FastAPI service defaults). */
export const LLMAPI_PARAMETERS = {
  temperature: { min: 0, max: 2, default: 0, integer: false },
  max_tokens: { min: 1, max: MAX_OUTPUT_TOKENS, default: 2048, integer: true },
  top_p: { min: 0, max: 1, default: 1, integer: false },
  frequency_penalty: { min: -2, max: 2, default: 0, integer: false },
  presence_penalty: { min: -2, max: 2, default: 0, integer: false },
  seed: { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, default: 0, integer: true },
} as const;

type ParamName = keyof typeof LLMAPI_PARAMETERS;

function fail(param: string, msg: string): ApiError {
  return new ApiError('invalid_request', msg, param);
}

/** Reads one parameter; multipart form fields arrive as strings and are converted. */
function readParam(source: Record<string, unknown>, name: ParamName, fromForm: boolean): number {
  const spec = LLMAPI_PARAMETERS[name];
  let value: unknown = source[name];
  if (value === undefined || value === null || value === '') return spec.default;
  if (fromForm && typeof value === 'string') value = Number(value);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(name, `${name} must be a number`);
  if (spec.integer && !Number.isInteger(value)) throw fail(name, `${name} must be an integer`);
  if (value < spec.min || value > spec.max) {
    throw fail(name, `${name} must be between ${spec.min} and ${spec.max}`);
  }
  return value;
}

function readResponseFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch {
      throw fail('response_format', 'response_format must be a JSON object');
    }
  }
  const spec = parsed as { type?: unknown; json_schema?: { name?: unknown; schema?: unknown } };
  if (spec?.type === 'text') return { type: 'text' };
  if (spec?.type === 'json_object') return { type: 'json_object' };
  if (
    spec?.type === 'json_schema' &&
    typeof spec.json_schema?.schema === 'object' &&
    spec.json_schema.schema
  ) {
    return {
      type: 'json_schema',
      schema: spec.json_schema.schema as Record<string, unknown>,
      ...(typeof spec.json_schema.name === 'string' ? { name: spec.json_schema.name } : {}),
    };
  }
  throw fail('response_format', "response_format.type must be 'text', 'json_object' or 'json_schema'");
}

function sampling(source: Record<string, unknown>, fromForm: boolean) {
  const format = readResponseFormat(source.response_format);
  return {
    temperature: readParam(source, 'temperature', fromForm),
    maxTokens: readParam(source, 'max_tokens', fromForm),
    topP: readParam(source, 'top_p', fromForm),
    frequencyPenalty: readParam(source, 'frequency_penalty', fromForm),
    presencePenalty: readParam(source, 'presence_penalty', fromForm),
    seed: readParam(source, 'seed', fromForm),
    ...(format ? { responseFormat: format } : {}),
  };
}

const ROLES = new Set<MessageRole>(['system', 'user', 'assistant']);

/** JSON body of /text_model/chat/*: messages plus the parameter table. */
export function parseTextModelRequest(body: unknown, model: string, stream: boolean): CompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw fail('body', 'Expected a JSON object');
  const source = body as Record<string, unknown>;
  if (!Array.isArray(source.messages) || source.messages.length === 0) {
    throw fail('messages', 'messages must be a non-empty list');
  }
  const messages: ChatMessage[] = source.messages.map((m: unknown, i) => {
    const msg = m as { role?: unknown; content?: unknown };
    if (typeof msg?.content !== 'string' || !ROLES.has(msg.role as MessageRole)) {
      throw fail(`messages.${i}`, 'each message needs a role (system, user, assistant) and a string content');
    }
    return { role: msg.role as MessageRole, content: msg.content };
  });
  return { kind: 'chat', model, messages, stream, ...sampling(source, false) };
}

/** Multipart form of /image_model/chat/*: an image file, a prompt, the parameter table as fields. */
export function parseImageModelRequest(
  fields: Record<string, unknown>,
  image: { buffer: Buffer; mimetype: string } | undefined,
  model: string,
  stream: boolean,
): CompletionRequest {
  if (!image || image.buffer.length === 0) throw fail('image', 'Field required');
  // The bytes decide, not the file name or the part's declared type (a text file named x.png is refused).
  if (!imageTypeOf(image.buffer)) throw fail('image', 'image must be a PNG, JPEG, GIF or WebP image file');
  const prompt = fields.prompt;
  if (typeof prompt !== 'string' || prompt.trim() === '') throw fail('prompt', 'Field required');
  return {
    kind: 'chat',
    model,
    messages: [{ role: 'user', content: prompt, images: [image.buffer.toString('base64')] }],
    stream,
    ...sampling(fields, true),
  };
}
