import { ApiError } from '../../common/api-error';
import type {
  ChatMessage,
  CompletionRequest,
  EmbeddingRequest,
  MessageRole,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../completion.types';
import { imageTypeOfBase64 } from '../image-type';
import { checkToolChoice, checkTools } from '../tools';
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
  toolChoice: 'tool_choice',
  parallelToolCalls: 'parallel_tool_calls',
  topLogprobs: 'top_logprobs',
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
    ...tooling(body),
    ...choicesAndLogprobs(body, 'top_logprobs'),
  };
  return { request, streamOptions: streamOptions(body) };
}

/** `tools`, `tool_choice`, `parallel_tool_calls` (OpenAI's chat wire). */
function tooling(body: Body): Partial<CompletionRequest> {
  const out: Partial<CompletionRequest> = {};
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw invalid('tools', 'expected an array of tools');
    out.tools = checkTools(body.tools.map(parseTool), 'tools');
  }
  const choice = parseToolChoice(body.tool_choice);
  if (choice !== undefined) {
    checkToolChoice(choice, out.tools, 'tool_choice');
    out.toolChoice = choice;
  }
  const parallel = optionalBoolean(body, 'parallel_tool_calls');
  if (parallel !== undefined) out.parallelToolCalls = parallel;
  return out;
}

function parseTool(value: unknown, i: number): ToolDefinition {
  const param = `tools[${i}]`;
  if (!isObject(value) || value.type !== 'function' || !isObject(value.function)) {
    throw invalid(param, 'expected {"type": "function", "function": {"name": …, "parameters": {…}}}');
  }
  const fn = value.function;
  if (typeof fn.name !== 'string') throw invalid(`${param}.function.name`, 'expected the function name');
  const tool: ToolDefinition = { name: fn.name };
  if (fn.description !== undefined && fn.description !== null) {
    if (typeof fn.description !== 'string')
      throw invalid(`${param}.function.description`, 'expected a string');
    tool.description = fn.description;
  }
  if (fn.parameters !== undefined && fn.parameters !== null) {
    if (!isObject(fn.parameters))
      throw invalid(`${param}.function.parameters`, 'expected a JSON schema object');
    tool.parameters = fn.parameters;
  }
  if (typeof fn.strict === 'boolean') tool.strict = fn.strict;
  return tool;
}

function parseToolChoice(value: unknown): ToolChoice | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (isObject(value) && value.type === 'function' && isObject(value.function)) {
    const name = value.function.name;
    if (typeof name === 'string' && name.length > 0) return { name };
  }
  throw invalid(
    'tool_choice',
    `expected 'auto', 'none', 'required' or {"type": "function", "function": {"name": …}}`,
  );
}

/** `n` and `logprobs`; `topName` is where the wire keeps the number of alternatives. */
function choicesAndLogprobs(body: Body, topName: string): Partial<CompletionRequest> {
  const out: Partial<CompletionRequest> = {};
  const n = optionalInteger(body, 'n', 1, 128);
  if (n !== undefined && n > 1) out.n = n;
  const logprobs = optionalBoolean(body, 'logprobs');
  if (logprobs) out.logprobs = true;
  const top = optionalInteger(body, topName, 0, 20);
  if (top !== undefined) {
    if (!logprobs) throw invalid(topName, "requires 'logprobs': true");
    out.topLogprobs = top;
  }
  return out;
}

/** POST /v1/completions body (legacy text completion). */
export function parseTextCompletion(raw: unknown): ParsedOpenAi {
  const body = normalise(raw, 'snake');
  const model = requireModel(body);
  const prompt = parsePrompt(body.prompt);
  rejectUnsupported(body);
  if (body.tools !== undefined && body.tools !== null)
    throw invalid('tools', 'is not a text completion parameter');
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
    ...textLogprobs(body),
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

/** The legacy API's `n` and `logprobs` (a number of alternatives, 0–5). */
function textLogprobs(body: Body): Partial<CompletionRequest> {
  const out: Partial<CompletionRequest> = {};
  const n = optionalInteger(body, 'n', 1, 128);
  if (n !== undefined && n > 1) out.n = n;
  const top = optionalInteger(body, 'logprobs', 0, 5);
  if (top !== undefined) {
    out.logprobs = true;
    out.topLogprobs = top;
  }
  return out;
}

export function requireModel(body: Body): string {
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
  const message = parseContent(value.content, role, param);
  if (role === 'assistant' && value.tool_calls !== undefined && value.tool_calls !== null) {
    if (!Array.isArray(value.tool_calls))
      throw invalid(`${param}.tool_calls`, 'expected an array of tool calls');
    const calls = value.tool_calls.map((c, j) => parseToolCall(c, `${param}.tool_calls[${j}]`));
    if (calls.length > 0) message.toolCalls = calls;
  }
  if (role === 'tool') {
    if (typeof value.tool_call_id !== 'string' || value.tool_call_id === '') {
      throw invalid(`${param}.tool_call_id`, 'expected the id of the tool call this message answers');
    }
    message.toolCallId = value.tool_call_id;
    if (typeof value.name === 'string') message.toolName = value.name;
  }
  return message;
}

function parseContent(content: unknown, role: MessageRole, param: string): ChatMessage {
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

function parseToolCall(value: unknown, param: string): ToolCall {
  if (!isObject(value) || !isObject(value.function)) {
    throw invalid(param, 'expected {"id": …, "type": "function", "function": {"name": …, "arguments": "…"}}');
  }
  const { id, function: fn } = value;
  if (typeof id !== 'string' || id === '') throw invalid(`${param}.id`, 'expected the tool call id');
  if (typeof fn.name !== 'string' || fn.name === '')
    throw invalid(`${param}.function.name`, 'expected a name');
  if (typeof fn.arguments !== 'string') {
    throw invalid(`${param}.function.arguments`, 'expected the arguments as a JSON string');
  }
  return { id, name: fn.name, arguments: fn.arguments };
}

const DATA_URL = /^data:image\/[a-z0-9.+-]+;base64,([A-Za-z0-9+/=\s]+)$/i;

export function parseImage(value: unknown, where: string): string {
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
  const b64 = match[1].replace(/\s+/g, '');
  if (!imageTypeOfBase64(b64)) throw invalid(`${where}.image_url`, 'expected a PNG, JPEG, GIF or WebP image');
  return b64;
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
  if (Array.isArray(body.functions) && body.functions.length > 0) {
    throw invalid('functions', "the deprecated 'functions' parameter is not supported: use 'tools'");
  }
}
