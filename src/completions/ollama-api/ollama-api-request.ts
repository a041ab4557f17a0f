import { ApiError } from '../../common/api-error';
import type {
  ChatMessage,
  CompletionRequest,
  EmbeddingRequest,
  MessageRole,
  ResponseFormat,
  ToolCall,
  ToolDefinition,
} from '../completion.types';
import { imageTypeOfBase64 } from '../image-type';
import { DEFAULT_CHAT_MAX_TOKENS, requireModel } from '../openai/openai-request';
import {
  Body,
  invalid,
  isObject,
  MAX_CONTEXT,
  MAX_OUTPUT_TOKENS,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalStop,
} from '../request-validation';
import { checkTools } from '../tools';

export interface ParsedOllama {
  request: CompletionRequest;
  /** An empty `messages` / `prompt`: Ollama loads the model and answers done_reason "load". */
  loadOnly: boolean;
}

const ROLES: Record<string, MessageRole> = {
  system: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
};

/** POST /api/chat (Ollama) → the internal request. Streams unless `stream: false`, as Ollama does. */
export function parseOllamaChat(raw: unknown): ParsedOllama {
  const body = bodyOf(raw);
  const model = requireModel(body);
  if (body.messages !== undefined && body.messages !== null && !Array.isArray(body.messages)) {
    throw invalid('messages', 'expected a list of messages');
  }
  const list = (body.messages as unknown[] | undefined) ?? [];
  const messages = withCallIds(list.map((m, i) => parseMessage(m, `messages[${i}]`)));
  const tools = parseTools(body.tools);
  rejectThinking(body);
  const request: CompletionRequest = {
    kind: 'chat',
    model,
    messages,
    stream: optionalBoolean(body, 'stream') ?? true,
    ...options(body),
    ...(tools ? { tools } : {}),
    ...format(body.format),
  };
  return { request, loadOnly: messages.length === 0 };
}

/**
 * POST /api/generate → a text completion of `prompt`; with `system` or `images` it is a chat
 * (system message + user message), which every backend can answer.
 */
export function parseOllamaGenerate(raw: unknown): ParsedOllama {
  const body = bodyOf(raw);
  const model = requireModel(body);
  const prompt = body.prompt ?? '';
  if (typeof prompt !== 'string') throw invalid('prompt', 'expected a string');
  if (typeof body.suffix === 'string' && body.suffix !== '') throw invalid('suffix', 'is not supported');
  if (typeof body.template === 'string' && body.template !== '')
    throw invalid('template', 'is not supported');
  rejectThinking(body);
  const system = body.system;
  if (system !== undefined && system !== null && typeof system !== 'string')
    throw invalid('system', 'expected a string');
  const images = parseImages(body.images, 'images');
  const common = {
    model,
    stream: optionalBoolean(body, 'stream') ?? true,
    ...options(body),
    ...format(body.format),
  };
  if (system || images) {
    const messages: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
    messages.push(images ? { role: 'user', content: prompt, images } : { role: 'user', content: prompt });
    return { request: { kind: 'chat', messages, ...common }, loadOnly: prompt === '' && !images };
  }
  return { request: { kind: 'completion', messages: [], prompt, ...common }, loadOnly: prompt === '' };
}

/** POST /api/embed ({input: string | string[]}) or the older /api/embeddings ({prompt}). */
export function parseOllamaEmbed(raw: unknown, legacy: boolean): EmbeddingRequest {
  const body = bodyOf(raw);
  const model = requireModel(body);
  const name = legacy ? 'prompt' : 'input';
  const value = body[name];
  let input: string[];
  if (typeof value === 'string') input = [value];
  else if (!legacy && Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === 'string')) {
    input = value as string[];
  } else
    throw invalid(name, legacy ? 'expected a string' : 'expected a string or a non-empty list of strings');
  if (input.some((s) => s.length === 0)) throw invalid(name, 'must not be empty');
  return { model, input };
}

/** POST /api/show: `model` (or the older `name`). */
export function parseOllamaShow(raw: unknown): string {
  const body = bodyOf(raw);
  const model = body.model ?? body.name;
  if (typeof model !== 'string' || model === '') throw invalid('model', 'expected the model name');
  return model;
}

function bodyOf(raw: unknown): Body {
  if (!isObject(raw)) throw new ApiError('invalid_request', 'The request body must be a JSON object');
  return raw;
}

function rejectThinking(body: Body): void {
  if (body.think === true || typeof body.think === 'string')
    throw invalid('think', 'thinking is not supported');
}

function parseMessage(value: unknown, param: string): ChatMessage {
  if (!isObject(value)) throw invalid(param, 'expected a message');
  const role = typeof value.role === 'string' ? ROLES[value.role] : undefined;
  if (!role) throw invalid(`${param}.role`, 'expected system, user, assistant or tool');
  const content = value.content ?? '';
  if (typeof content !== 'string') throw invalid(`${param}.content`, 'expected a string');
  const message: ChatMessage = { role, content };
  const images = parseImages(value.images, `${param}.images`);
  if (images) message.images = images;
  if (role === 'assistant' && Array.isArray(value.tool_calls) && value.tool_calls.length > 0) {
    message.toolCalls = value.tool_calls.map((c, j) => parseToolCall(c, `${param}.tool_calls[${j}]`));
  }
  if (role === 'tool') {
    if (typeof value.tool_call_id === 'string' && value.tool_call_id !== '')
      message.toolCallId = value.tool_call_id;
    if (typeof value.tool_name === 'string' && value.tool_name !== '') message.toolName = value.tool_name;
  }
  return message;
}

function parseToolCall(value: unknown, param: string): ToolCall {
  if (!isObject(value) || !isObject(value.function))
    throw invalid(param, 'expected {"function": {"name", "arguments"}}');
  const fn = value.function;
  if (typeof fn.name !== 'string' || fn.name === '')
    throw invalid(`${param}.function.name`, 'expected the tool name');
  const args = fn.arguments ?? {};
  if (!isObject(args)) throw invalid(`${param}.function.arguments`, 'expected an object');
  return { id: typeof value.id === 'string' ? value.id : '', name: fn.name, arguments: JSON.stringify(args) };
}

/**
 * Ollama's history has no call ids before 0.12 (and its clients send none): calls get
 * `call_<message>_<call>` ids, and a tool result without one answers the earliest unanswered
 * call of its tool_name (or, without a name, the earliest unanswered call).
 */
function withCallIds(messages: ChatMessage[]): ChatMessage[] {
  const unanswered: ToolCall[] = [];
  messages.forEach((message, i) => {
    message.toolCalls?.forEach((call, j) => {
      if (call.id === '') call.id = `call_${i}_${j}`;
      unanswered.push(call);
    });
    if (message.role !== 'tool') return;
    const at = message.toolCallId
      ? unanswered.findIndex((c) => c.id === message.toolCallId)
      : unanswered.findIndex((c) => message.toolName === undefined || c.name === message.toolName);
    const call = at >= 0 ? unanswered.splice(at, 1)[0] : undefined;
    if (!message.toolCallId) message.toolCallId = call?.id ?? `call_${i}_result`;
    if (!message.toolName && call) message.toolName = call.name;
  });
  return messages;
}

function parseImages(value: unknown, param: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(param, 'expected a list of base64 images');
  if (value.length === 0) return undefined;
  return value.map((image: unknown, i) => {
    if (typeof image !== 'string' || !imageTypeOfBase64(image)) {
      throw invalid(`${param}[${i}]`, 'expected a base64 PNG, JPEG, GIF or WebP image');
    }
    return image;
  });
}

function parseTools(value: unknown): ToolDefinition[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid('tools', 'expected a list of tools');
  const tools = value.map((tool: unknown, i) => {
    const param = `tools[${i}]`;
    if (!isObject(tool) || !isObject(tool.function))
      throw invalid(param, 'expected {"type": "function", "function": {…}}');
    const fn = tool.function;
    if (typeof fn.name !== 'string') throw invalid(`${param}.function.name`, 'expected the function name');
    const definition: ToolDefinition = { name: fn.name };
    if (typeof fn.description === 'string') definition.description = fn.description;
    if (fn.parameters !== undefined && fn.parameters !== null) {
      if (!isObject(fn.parameters))
        throw invalid(`${param}.function.parameters`, 'expected a JSON schema object');
      definition.parameters = fn.parameters;
    }
    return definition;
  });
  return checkTools(tools, 'tools');
}

/**
 * Ollama's `options` this platform maps (others — num_gpu, mirostat, … — concern the host's
 * runtime and are ignored, as Ollama ignores options a model does not use). num_predict unset or
 * negative ("no limit") reserves 2048 tokens: the reservation needs an upper bound.
 */
function options(body: Body): Omit<CompletionRequest, 'kind' | 'model' | 'messages' | 'stream'> {
  const value = body.options ?? {};
  if (!isObject(value)) throw invalid('options', 'expected an object');
  const numPredict = optionalInteger(value, 'num_predict', -2, MAX_OUTPUT_TOKENS);
  const out: Omit<CompletionRequest, 'kind' | 'model' | 'messages' | 'stream'> = {
    maxTokens: numPredict !== undefined && numPredict > 0 ? numPredict : DEFAULT_CHAT_MAX_TOKENS,
  };
  const temperature = optionalNumber(value, 'temperature', 0, 2);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = optionalNumber(value, 'top_p', 0, 1);
  if (topP !== undefined) out.topP = topP;
  const seed = optionalInteger(value, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (seed !== undefined) out.seed = seed;
  const numCtx = optionalInteger(value, 'num_ctx', 1, MAX_CONTEXT);
  if (numCtx !== undefined) out.numContext = numCtx;
  const frequency = optionalNumber(value, 'frequency_penalty', -2, 2);
  if (frequency !== undefined) out.frequencyPenalty = frequency;
  const presence = optionalNumber(value, 'presence_penalty', -2, 2);
  if (presence !== undefined) out.presencePenalty = presence;
  const stop = optionalStop(value);
  if (stop) out.stop = stop;
  return out;
}

/** `format`: "json", or a JSON schema. */
function format(value: unknown): { responseFormat?: ResponseFormat } {
  if (value === undefined || value === null || value === '') return {};
  if (value === 'json') return { responseFormat: { type: 'json_object' } };
  if (isObject(value)) return { responseFormat: { type: 'json_schema', schema: value } };
  throw invalid('format', 'expected "json" or a JSON schema object');
}
