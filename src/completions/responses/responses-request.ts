import { ApiError } from '../../common/api-error';
import type {
  ChatMessage,
  CompletionRequest,
  MessageRole,
  ResponseFormat,
  ToolChoice,
  ToolDefinition,
} from '../completion.types';
import { DEFAULT_CHAT_MAX_TOKENS, parseImage, requireModel } from '../openai/openai-request';
import {
  Body,
  invalid,
  isObject,
  MAX_OUTPUT_TOKENS,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalString,
} from '../request-validation';
import { checkToolChoice, checkTools } from '../tools';

/** What the response object echoes of the request besides the internal request. */
export interface ResponsesEcho {
  instructions: string | null;
  maxOutputTokens: number | null;
  temperature: number | null;
  topP: number | null;
  parallelToolCalls: boolean;
  toolChoice: unknown;
  tools: unknown[];
  text: { format: unknown };
  user: string | null;
  metadata: Record<string, unknown>;
  previousResponseId: string | null;
}

/** An input item: a message, or a reference to an item of a stored response. */
export type InputEntry = { message: ChatMessage } | { reference: string; param: string };

export interface ParsedResponses {
  /** The request without its conversation: `messages` is filled in by `withConversation`. */
  request: CompletionRequest;
  instructions?: string;
  input: InputEntry[];
  previousResponseId?: string;
  store: boolean;
  echo: ResponsesEcho;
}

const ROLES: Record<string, MessageRole> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
};

/**
 * POST /v1/responses body (OpenAI's Responses API) → the internal request. `input` is a string or
 * a list of items: messages (input_text / input_image / output_text parts), function_call and
 * function_call_output items, item_reference items (to a stored response's output); reasoning
 * items are dropped (another model cannot read them). `previous_response_id` and references are
 * resolved by ResponsesService, which also stores the answer unless `store: false`.
 */
export function parseResponses(raw: unknown): ParsedResponses {
  if (!isObject(raw)) throw new ApiError('invalid_request', 'The request body must be a JSON object');
  const body: Body = raw;
  const model = requireModel(body);
  const previousResponseId = optionalString(body, 'previous_response_id');
  const store = optionalBoolean(body, 'store') ?? true;
  if (body.background === true) throw invalid('background', 'background responses are not supported');
  const instructions = optionalString(body, 'instructions', 1_000_000);
  const input = parseInput(body.input);
  const maxOutput = optionalInteger(body, 'max_output_tokens', 1, MAX_OUTPUT_TOKENS);
  const temperature = optionalNumber(body, 'temperature', 0, 2);
  const topP = optionalNumber(body, 'top_p', 0, 1);
  const user = optionalString(body, 'user');
  const tools = parseTools(body.tools);
  const toolChoice = parseToolChoice(body.tool_choice);
  if (toolChoice !== undefined) checkToolChoice(toolChoice, tools, 'tool_choice');
  const parallel = optionalBoolean(body, 'parallel_tool_calls');
  const format = textFormat(body.text);
  const request: CompletionRequest = {
    kind: 'chat',
    model,
    messages: [],
    maxTokens: maxOutput ?? DEFAULT_CHAT_MAX_TOKENS,
    stream: optionalBoolean(body, 'stream') ?? false,
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(user ? { user } : {}),
    ...(tools ? { tools } : {}),
    ...(toolChoice !== undefined ? { toolChoice } : {}),
    ...(parallel !== undefined ? { parallelToolCalls: parallel } : {}),
    ...(format ? { responseFormat: format } : {}),
  };
  const metadata = isObject(body.metadata) ? body.metadata : {};
  return {
    request,
    ...(instructions ? { instructions } : {}),
    input,
    ...(previousResponseId ? { previousResponseId } : {}),
    store,
    echo: {
      instructions: instructions ?? null,
      maxOutputTokens: maxOutput ?? null,
      temperature: temperature ?? null,
      topP: topP ?? null,
      parallelToolCalls: parallel ?? true,
      toolChoice: body.tool_choice ?? 'auto',
      tools: Array.isArray(body.tools) ? body.tools : [],
      text: {
        format: isObject(body.text) && isObject(body.text.format) ? body.text.format : { type: 'text' },
      },
      user: user ?? null,
      metadata,
      previousResponseId: previousResponseId ?? null,
    },
  };
}

function parseInput(input: unknown): InputEntry[] {
  if (typeof input === 'string') return [{ message: { role: 'user', content: input } }];
  if (!Array.isArray(input) || input.length === 0) {
    throw invalid('input', 'expected a string or a non-empty list of input items');
  }
  const entries: InputEntry[] = [];
  input.forEach((item: unknown, i) => {
    const param = `input[${i}]`;
    if (!isObject(item)) throw invalid(param, 'expected an input item');
    const type = item.type ?? 'message';
    if (type === 'message') entries.push({ message: parseMessage(item, param) });
    else if (type === 'function_call') {
      entries.push({
        message: { role: 'assistant', content: '', toolCalls: [parseFunctionCall(item, param)] },
      });
    } else if (type === 'function_call_output') {
      if (typeof item.call_id !== 'string' || item.call_id === '')
        throw invalid(`${param}.call_id`, 'expected the call id');
      const content = outputText(item.output, `${param}.output`);
      entries.push({ message: { role: 'tool', content, toolCallId: item.call_id } });
    } else if (type === 'item_reference') {
      if (typeof item.id !== 'string' || item.id === '')
        throw invalid(`${param}.id`, 'expected the id of a stored item');
      entries.push({ reference: item.id, param: `${param}.id` });
    } else if (type !== 'reasoning') {
      throw invalid(
        `${param}.type`,
        "expected 'message', 'function_call', 'function_call_output' or 'item_reference'",
      );
    }
  });
  return entries;
}

/**
 * The conversation of `entries`, references replaced by the stored items (`stored`): function
 * calls that follow an assistant turn (or each other) join that turn, as one assistant message
 * carries its text and its calls on every other wire.
 */
export function assemble(entries: InputEntry[], stored: Map<string, ChatMessage>): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const entry of entries) {
    let message: ChatMessage;
    if ('message' in entry) message = entry.message;
    else {
      const found = stored.get(entry.reference);
      if (!found) throw invalid(entry.param, `no stored item '${entry.reference}' of this key's user`);
      message = structuredClone(found);
    }
    const last = messages[messages.length - 1];
    if (
      message.role === 'assistant' &&
      message.content === '' &&
      message.toolCalls &&
      last?.role === 'assistant'
    ) {
      (last.toolCalls ??= []).push(...message.toolCalls);
    } else messages.push(message);
  }
  return messages;
}

function parseMessage(item: Body, param: string): ChatMessage {
  const role = typeof item.role === 'string' ? ROLES[item.role] : undefined;
  if (!role) throw invalid(`${param}.role`, 'expected user, assistant, system or developer');
  const content = item.content;
  if (typeof content === 'string') return { role, content };
  if (!Array.isArray(content))
    throw invalid(`${param}.content`, 'expected a string or a list of content parts');
  const texts: string[] = [];
  const images: string[] = [];
  content.forEach((part: unknown, j) => {
    const where = `${param}.content[${j}]`;
    if (!isObject(part)) throw invalid(where, 'expected a content part');
    if ((part.type === 'input_text' || part.type === 'output_text') && typeof part.text === 'string') {
      texts.push(part.text);
    } else if (part.type === 'input_image') images.push(parseImage(part.image_url, where));
    else if (part.type === 'refusal' && typeof part.refusal === 'string') texts.push(part.refusal);
    else throw invalid(where, "expected an 'input_text', 'output_text' or 'input_image' part");
  });
  const text = texts.join('\n');
  return images.length ? { role, content: text, images } : { role, content: text };
}

function parseFunctionCall(item: Body, param: string) {
  if (typeof item.call_id !== 'string' || item.call_id === '')
    throw invalid(`${param}.call_id`, 'expected the call id');
  if (typeof item.name !== 'string' || item.name === '')
    throw invalid(`${param}.name`, 'expected the function name');
  if (typeof item.arguments !== 'string')
    throw invalid(`${param}.arguments`, 'expected the arguments as JSON text');
  return { id: item.call_id, name: item.name, arguments: item.arguments };
}

/** A function call's output: text, or a list of input_text parts. */
function outputText(output: unknown, param: string): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) {
    return output
      .map((part: unknown) => (isObject(part) && typeof part.text === 'string' ? part.text : ''))
      .join('\n');
  }
  throw invalid(param, 'expected a string');
}

/** Function tools, flat as the Responses API writes them ({type, name, description, parameters, strict}). */
function parseTools(value: unknown): ToolDefinition[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid('tools', 'expected a list of tools');
  const tools = value.map((tool: unknown, i) => {
    const param = `tools[${i}]`;
    if (!isObject(tool)) throw invalid(param, 'expected a tool');
    if (tool.type !== 'function') {
      throw invalid(`${param}.type`, `only function tools are supported (got ${JSON.stringify(tool.type)})`);
    }
    if (typeof tool.name !== 'string') throw invalid(`${param}.name`, 'expected the function name');
    const definition: ToolDefinition = { name: tool.name };
    if (typeof tool.description === 'string') definition.description = tool.description;
    if (tool.parameters !== undefined && tool.parameters !== null) {
      if (!isObject(tool.parameters)) throw invalid(`${param}.parameters`, 'expected a JSON schema object');
      definition.parameters = tool.parameters;
    }
    if (typeof tool.strict === 'boolean') definition.strict = tool.strict;
    return definition;
  });
  // checkTools names fields as the chat API nests them; here they sit on the tool itself.
  try {
    return checkTools(tools, 'tools');
  } catch (error) {
    if (error instanceof ApiError && error.param) {
      const param = error.param.replace('.function.', '.');
      throw new ApiError('invalid_request', error.message.replace(error.param, param), param);
    }
    throw error;
  }
}

function parseToolChoice(value: unknown): ToolChoice | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (isObject(value) && value.type === 'function' && typeof value.name === 'string' && value.name !== '') {
    return { name: value.name };
  }
  throw invalid('tool_choice', `expected 'auto', 'none', 'required' or {"type": "function", "name": …}`);
}

/** `text.format`: text, json_object, or json_schema with the schema beside its name. */
function textFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid('text', 'expected an object');
  const format = value.format;
  if (format === undefined || format === null) return undefined;
  if (!isObject(format)) throw invalid('text.format', 'expected an object with a type');
  if (format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type === 'json_schema') {
    if (!isObject(format.schema)) throw invalid('text.format.schema', 'expected a JSON schema object');
    return {
      type: 'json_schema',
      schema: format.schema,
      ...(typeof format.name === 'string' ? { name: format.name } : {}),
      ...(typeof format.strict === 'boolean' ? { strict: format.strict } : {}),
    };
  }
  throw invalid('text.format.type', "expected 'text', 'json_object' or 'json_schema'");
}
