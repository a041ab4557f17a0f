import { randomUUID } from 'node:crypto';
import type { ApiError } from '../../common/api-error';
import type { AnswerChoice } from '../answer';
import type { ChatMessage, CompletionChunk, FinishReason, ToolCall, Usage } from '../completion.types';
import type { RunOutcome } from '../completions.service';
import { SSE_HEADERS, StreamFormat } from '../stream-writer';
import type { ResponsesEcho } from './responses-request';

/** Ids as OpenAI writes them: a type prefix and hex. */
export function itemId(prefix: 'resp' | 'msg' | 'fc'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '')}`;
}

export interface ResponseHead {
  id: string;
  createdAt: number;
  model: string;
  echo: ResponsesEcho;
  store: boolean;
}

export type OutputItem = MessageItem | FunctionCallItem;

interface MessageItem {
  id: string;
  type: 'message';
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: { type: 'output_text'; text: string; annotations: never[]; logprobs: never[] }[];
}

interface FunctionCallItem {
  id: string;
  type: 'function_call';
  status: 'in_progress' | 'completed' | 'incomplete';
  call_id: string;
  name: string;
  arguments: string;
}

export function responsesUsage(usage: Usage) {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** The `response` object: in progress (no output yet) or finished. */
export function responseObject(
  head: ResponseHead,
  output: OutputItem[],
  finish: FinishReason | null,
  usage: Usage | null,
) {
  const incomplete = finish === 'length' || finish === 'content_filter';
  const status = finish === null ? 'in_progress' : incomplete ? 'incomplete' : 'completed';
  const { echo } = head;
  return {
    id: head.id,
    object: 'response',
    created_at: head.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: incomplete
      ? { reason: finish === 'length' ? 'max_output_tokens' : 'content_filter' }
      : null,
    instructions: echo.instructions,
    max_output_tokens: echo.maxOutputTokens,
    model: head.model,
    output,
    output_text: outputText(output),
    parallel_tool_calls: echo.parallelToolCalls,
    previous_response_id: echo.previousResponseId,
    reasoning: { effort: null, summary: null },
    store: head.store,
    temperature: echo.temperature,
    text: echo.text,
    tool_choice: echo.toolChoice,
    tools: echo.tools,
    top_p: echo.topP,
    truncation: 'disabled',
    usage: usage ? responsesUsage(usage) : null,
    user: echo.user,
    metadata: echo.metadata,
  };
}

/** The output items of a whole answer: its text as one message, then one item per tool call. */
export function outputItems(choice: AnswerChoice, finish: FinishReason): OutputItem[] {
  const status = finish === 'length' ? 'incomplete' : 'completed';
  const items: OutputItem[] = [];
  if (choice.text !== '' || choice.toolCalls.length === 0)
    items.push(messageItem(itemId('msg'), choice.text, status));
  for (const call of choice.toolCalls) items.push(functionCallItem(itemId('fc'), call, status));
  return items;
}

function messageItem(id: string, text: string, status: MessageItem['status']): MessageItem {
  return { id, type: 'message', status, role: 'assistant', content: [outputTextPart(text)] };
}

function outputTextPart(text: string) {
  return { type: 'output_text' as const, text, annotations: [] as never[], logprobs: [] as never[] };
}

function functionCallItem(id: string, call: ToolCall, status: FunctionCallItem['status']): FunctionCallItem {
  return { id, type: 'function_call', status, call_id: call.id, name: call.name, arguments: call.arguments };
}

/** Output items as the one assistant message they make in a conversation (text, then calls). */
export function outputMessage(output: OutputItem[]): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: outputText(output) };
  const calls = output.flatMap((item) =>
    item.type === 'function_call' ? [{ id: item.call_id, name: item.name, arguments: item.arguments }] : [],
  );
  if (calls.length > 0) message.toolCalls = calls;
  return message;
}

function outputText(output: OutputItem[]): string {
  let text = '';
  for (const item of output) if (item.type === 'message') for (const part of item.content) text += part.text;
  return text;
}

/**
 * The typed SSE events of a streamed response, in the order OpenAI sends them: response.created
 * and .in_progress; per output item .output_item.added, then for text .content_part.added,
 * .output_text.delta … .output_text.done, .content_part.done, and for a function call
 * .function_call_arguments.delta … .done; .output_item.done; then response.completed (or
 * .incomplete) with the whole response and its usage. Every event has a sequence_number.
 */
export class ResponsesStream implements StreamFormat {
  readonly headers = SSE_HEADERS;
  private sequence = 0;
  /** The frames that close the last item, built in beforeClose. */
  private closing = '';
  private readonly output: OutputItem[] = [];
  /** The item being written: text, or the function call of a tool-call index. */
  private current: { item: OutputItem; index: number; call?: number } | undefined;

  constructor(
    private readonly head: ResponseHead,
    /** Runs with the finished response before response.completed is written (storage). */
    private readonly completed: (
      response: ReturnType<typeof responseObject>,
    ) => Promise<void> = async () => {},
  ) {}

  /** Stores the response before its last event, so a follow-up that names it finds it. */
  async beforeClose(outcome: RunOutcome): Promise<void> {
    this.closing = this.closeItem(outcome.finishReason === 'length' ? 'incomplete' : 'completed');
    if (this.output.length === 0) {
      const status = outcome.finishReason === 'length' ? 'incomplete' : 'completed';
      this.closing += this.openMessage() + this.closeItem(status);
    }
    await this.completed(responseObject(this.head, this.output, outcome.finishReason, outcome.usage));
  }

  open(): string {
    const created = responseObject(this.head, [], null, null);
    return (
      this.event('response.created', { response: created }) +
      this.event('response.in_progress', { response: created })
    );
  }

  piece(chunk: CompletionChunk): string {
    if ((chunk.choice ?? 0) !== 0) return '';
    let frames = '';
    if (chunk.text) {
      if (this.current?.item.type !== 'message') frames += this.closeItem() + this.openMessage();
      const item = this.current!.item as MessageItem;
      item.content[0]!.text += chunk.text;
      frames += this.event('response.output_text.delta', {
        item_id: item.id,
        output_index: this.current!.index,
        content_index: 0,
        delta: chunk.text,
        logprobs: [],
      });
    }
    for (const call of chunk.toolCalls ?? []) {
      if (this.current?.call !== call.index) {
        frames += this.closeItem();
        const item = functionCallItem(
          itemId('fc'),
          { id: call.id ?? '', name: call.name ?? '', arguments: '' },
          'in_progress',
        );
        this.current = { item, index: this.output.length, call: call.index };
        this.output.push(item);
        frames += this.event('response.output_item.added', {
          output_index: this.current.index,
          item: { ...item },
        });
      }
      const item = this.current.item as FunctionCallItem;
      if (call.id && !item.call_id) item.call_id = call.id;
      if (call.name && !item.name) item.name = call.name;
      if (call.arguments) {
        item.arguments += call.arguments;
        frames += this.event('response.function_call_arguments.delta', {
          item_id: item.id,
          output_index: this.current.index,
          delta: call.arguments,
        });
      }
    }
    return frames;
  }

  close(outcome: RunOutcome): string {
    const frames = this.closing;
    const response = responseObject(this.head, this.output, outcome.finishReason, outcome.usage);
    const type = response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    return frames + this.event(type, { response });
  }

  fail(error: ApiError): string {
    const response = {
      ...responseObject(this.head, this.output, 'error', null),
      status: 'failed',
      error: { code: error.code, message: error.message },
    };
    return this.event('response.failed', { response });
  }

  private openMessage(): string {
    const item = messageItem(itemId('msg'), '', 'in_progress');
    this.current = { item, index: this.output.length };
    this.output.push(item);
    const added = { ...item, content: [] };
    return (
      this.event('response.output_item.added', { output_index: this.current.index, item: added }) +
      this.event('response.content_part.added', {
        item_id: item.id,
        output_index: this.current.index,
        content_index: 0,
        part: outputTextPart(''),
      })
    );
  }

  private closeItem(status: 'completed' | 'incomplete' = 'completed'): string {
    const open = this.current;
    if (!open) return '';
    this.current = undefined;
    const item = open.item;
    item.status = status;
    let frames = '';
    if (item.type === 'message') {
      const part = item.content[0]!;
      const where = { item_id: item.id, output_index: open.index, content_index: 0 };
      frames += this.event('response.output_text.done', { ...where, text: part.text, logprobs: [] });
      frames += this.event('response.content_part.done', { ...where, part });
    } else {
      frames += this.event('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: open.index,
        name: item.name,
        arguments: item.arguments,
      });
    }
    return frames + this.event('response.output_item.done', { output_index: open.index, item });
  }

  private event(type: string, payload: object): string {
    const data = JSON.stringify({ type, sequence_number: this.sequence++, ...payload });
    return `event: ${type}\ndata: ${data}\n\n`;
  }
}
