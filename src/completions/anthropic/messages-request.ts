import { ApiError } from '../../common/api-error';
import type {
  ChatMessage,
  CompletionRequest,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../completion.types';
import { imageTypeOfBase64 } from '../image-type';
import { requireModel } from '../openai/openai-request';
import {
  Body,
  invalid,
  isObject,
  MAX_OUTPUT_TOKENS,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
} from '../request-validation';
import { checkToolChoice, checkTools } from '../tools';

/** Anthropic's limit on stop_sequences is generous; this bounds what reaches a host. */
const MAX_STOP_SEQUENCES = 16;

/**
 * POST /v1/messages body (Anthropic's Messages API) → the internal request. `max_tokens` is
 * required there; `system` is a string or text blocks; user turns carry text, image (base64) and
 * tool_result blocks, assistant turns text and tool_use blocks.
 */
export function parseMessages(raw: unknown, forCounting = false): CompletionRequest {
  if (!isObject(raw)) throw new ApiError('invalid_request', 'The request body must be a JSON object');
  const body: Body = raw;
  const model = requireModel(body);
  const maxTokens = optionalInteger(body, 'max_tokens', 1, MAX_OUTPUT_TOKENS);
  if (maxTokens === undefined && !forCounting) throw invalid('max_tokens', 'Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw invalid('messages', 'expected a non-empty list of messages');
  }
  const messages: ChatMessage[] = [];
  const system = systemText(body.system);
  if (system !== undefined) messages.push({ role: 'system', content: system });
  body.messages.forEach((m, i) => messages.push(...parseMessage(m, `messages[${i}]`)));
  if (isObject(body.thinking) && body.thinking.type === 'enabled') {
    throw invalid('thinking', 'extended thinking is not supported by the hosts of this platform');
  }
  const tools = parseTools(body.tools);
  const { choice, parallel } = parseToolChoice(body.tool_choice);
  if (choice !== undefined) checkToolChoice(choice, tools, 'tool_choice');
  const temperature = optionalNumber(body, 'temperature', 0, 1);
  const topP = optionalNumber(body, 'top_p', 0, 1);
  const stop = stopSequences(body.stop_sequences);
  const user =
    isObject(body.metadata) && typeof body.metadata.user_id === 'string' ? body.metadata.user_id : undefined;
  return {
    kind: 'chat',
    model,
    messages,
    maxTokens: maxTokens ?? 1,
    stream: optionalBoolean(body, 'stream') ?? false,
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(stop ? { stop } : {}),
    ...(user ? { user } : {}),
    ...(tools ? { tools } : {}),
    ...(choice !== undefined ? { toolChoice: choice } : {}),
    ...(parallel !== undefined ? { parallelToolCalls: parallel } : {}),
  };
}

function systemText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((block, i) => textOf(block, `system[${i}]`)).join('\n');
  throw invalid('system', 'expected a string or a list of text blocks');
}

function textOf(block: unknown, param: string): string {
  if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') {
    throw invalid(param, 'expected a text block');
  }
  return block.text;
}

/** One Anthropic turn → internal messages: tool results become `tool` messages ahead of the rest. */
function parseMessage(value: unknown, param: string): ChatMessage[] {
  if (!isObject(value)) throw invalid(param, 'expected a message');
  const role = value.role;
  if (role !== 'user' && role !== 'assistant')
    throw invalid(`${param}.role`, "expected 'user' or 'assistant'");
  const content = value.content;
  if (typeof content === 'string') return [{ role, content }];
  if (!Array.isArray(content))
    throw invalid(`${param}.content`, 'expected a string or a list of content blocks');
  const out: ChatMessage[] = [];
  const texts: string[] = [];
  const images: string[] = [];
  const calls: ToolCall[] = [];
  content.forEach((block: unknown, j) => {
    const where = `${param}.content[${j}]`;
    if (!isObject(block)) throw invalid(where, 'expected a content block');
    switch (block.type) {
      case 'text':
        texts.push(textOf(block, where));
        break;
      case 'image':
        if (role !== 'user') throw invalid(where, 'images belong in user turns');
        images.push(imageData(block.source, `${where}.source`));
        break;
      case 'tool_use':
        if (role !== 'assistant') throw invalid(where, 'tool_use blocks belong in assistant turns');
        calls.push(toolUse(block, where));
        break;
      case 'tool_result':
        if (role !== 'user') throw invalid(where, 'tool_result blocks belong in user turns');
        out.push(toolResult(block, where));
        break;
      case 'thinking':
      case 'redacted_thinking':
        break; // the model's earlier thinking: another model cannot read it
      default:
        throw invalid(`${where}.type`, "expected 'text', 'image', 'tool_use' or 'tool_result'");
    }
  });
  if (texts.length > 0 || images.length > 0 || calls.length > 0 || out.length === 0) {
    const message: ChatMessage = { role, content: texts.join('\n') };
    if (images.length > 0) message.images = images;
    if (calls.length > 0) message.toolCalls = calls;
    out.push(message);
  }
  return out;
}

function imageData(source: unknown, param: string): string {
  if (!isObject(source) || source.type !== 'base64' || typeof source.data !== 'string') {
    throw invalid(param, 'expected {"type": "base64", "media_type", "data"} (the platform fetches no URLs)');
  }
  const data = source.data.replace(/\s+/g, '');
  if (!imageTypeOfBase64(data)) throw invalid(`${param}.data`, 'expected a PNG, JPEG, GIF or WebP image');
  return data;
}

function toolUse(block: Body, param: string): ToolCall {
  if (typeof block.id !== 'string' || block.id === '')
    throw invalid(`${param}.id`, 'expected the tool_use id');
  if (typeof block.name !== 'string' || block.name === '')
    throw invalid(`${param}.name`, 'expected the tool name');
  if (!isObject(block.input)) throw invalid(`${param}.input`, 'expected an object');
  return { id: block.id, name: block.name, arguments: JSON.stringify(block.input) };
}

function toolResult(block: Body, param: string): ChatMessage {
  if (typeof block.tool_use_id !== 'string' || block.tool_use_id === '') {
    throw invalid(`${param}.tool_use_id`, 'expected the id of the tool_use this answers');
  }
  let content: string;
  if (block.content === undefined || block.content === null) content = '';
  else if (typeof block.content === 'string') content = block.content;
  else if (Array.isArray(block.content)) {
    content = block.content
      .map((part: unknown, k) =>
        isObject(part) && part.type === 'image' ? '' : textOf(part, `${param}.content[${k}]`),
      )
      .join('\n');
  } else throw invalid(`${param}.content`, 'expected a string or a list of text blocks');
  if (block.is_error === true) content = `Error: ${content}`;
  return { role: 'tool', content, toolCallId: block.tool_use_id };
}

function parseTools(value: unknown): ToolDefinition[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid('tools', 'expected a list of tools');
  const tools = value.map((tool: unknown, i) => {
    const param = `tools[${i}]`;
    if (!isObject(tool)) throw invalid(param, 'expected a tool');
    if (tool.type !== undefined && tool.type !== 'custom') {
      throw invalid(`${param}.type`, `server tools are not supported (got ${JSON.stringify(tool.type)})`);
    }
    if (typeof tool.name !== 'string') throw invalid(`${param}.name`, 'expected the tool name');
    if (!isObject(tool.input_schema)) throw invalid(`${param}.input_schema`, 'expected a JSON schema object');
    const definition: ToolDefinition = { name: tool.name, parameters: tool.input_schema };
    if (typeof tool.description === 'string') definition.description = tool.description;
    return definition;
  });
  try {
    return checkTools(tools, 'tools');
  } catch (error) {
    // The shared rule names OpenAI's nesting; Anthropic's fields sit on the tool itself.
    if (error instanceof ApiError && error.param) {
      const param = error.param.replace('.function.parameters', '.input_schema').replace('.function.', '.');
      throw new ApiError('invalid_request', error.message.replace(error.param, param), param);
    }
    throw error;
  }
}

/** auto | any (= required) | tool (= a named function) | none; disable_parallel_tool_use. */
function parseToolChoice(value: unknown): { choice?: ToolChoice; parallel?: boolean } {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw invalid('tool_choice', "expected {\"type\": 'auto' | 'any' | 'tool' | 'none'}");
  const parallel = value.disable_parallel_tool_use === true ? { parallel: false } : {};
  switch (value.type) {
    case 'auto':
      return { choice: 'auto', ...parallel };
    case 'any':
      return { choice: 'required', ...parallel };
    case 'none':
      return { choice: 'none' };
    case 'tool':
      if (typeof value.name !== 'string' || value.name === '')
        throw invalid('tool_choice.name', 'expected the tool name');
      return { choice: { name: value.name }, ...parallel };
    default:
      throw invalid('tool_choice.type', "expected 'auto', 'any', 'tool' or 'none'");
  }
}

function stopSequences(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    Array.isArray(value) &&
    value.length <= MAX_STOP_SEQUENCES &&
    value.every((s) => typeof s === 'string')
  ) {
    return value.length > 0 ? (value as string[]) : undefined;
  }
  throw invalid('stop_sequences', `expected up to ${MAX_STOP_SEQUENCES} strings`);
}
