import { randomBytes } from 'node:crypto';
import type { ApiError } from '../../common/api-error';
import type { AnswerChoice } from '../answer';
import type { CompletionChunk, FinishReason, Usage } from '../completion.types';
import type { RunOutcome } from '../completions.service';
import { SSE_HEADERS, StreamFormat } from '../stream-writer';
import { argumentsObject } from '../tools';

/** Anthropic's message ids: `msg_` and 24 base62-like characters. */
export function messageId(): string {
  return `msg_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export type StopReason = 'end_turn' | 'max_tokens' | 'tool_use';

export function stopReason(finish: FinishReason): StopReason {
  if (finish === 'tool_calls') return 'tool_use';
  if (finish === 'length') return 'max_tokens';
  return 'end_turn';
}

export function messagesUsage(usage: Usage) {
  return {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: usage.outputTokens,
  };
}

/** A whole answer as Anthropic's message object: a text block (when there is text), then tool_use blocks. */
export function messageObject(
  id: string,
  model: string,
  choice: AnswerChoice,
  finish: FinishReason,
  usage: Usage,
) {
  const content: object[] = [];
  if (choice.text !== '' || choice.toolCalls.length === 0) content.push({ type: 'text', text: choice.text });
  for (const call of choice.toolCalls) {
    content.push({ type: 'tool_use', id: call.id, name: call.name, input: argumentsObject(call.arguments) });
  }
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(finish),
    stop_sequence: null,
    usage: messagesUsage(usage),
  };
}

/**
 * Anthropic's stream: message_start, ping; per content block content_block_start, its deltas
 * (text_delta, or input_json_delta for a tool_use) and content_block_stop; then message_delta with
 * the stop_reason and the usage, and message_stop. Errors after the start are an `error` event.
 */
export class MessagesStream implements StreamFormat {
  readonly headers = SSE_HEADERS;
  private blocks = 0;
  /** The open block: text, or the tool_use of a tool-call index. */
  private current: { kind: 'text' } | { kind: 'tool'; call: number } | undefined;

  constructor(
    private readonly id: string,
    private readonly model: string,
  ) {}

  open(): string {
    const message = {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: messagesUsage({ inputTokens: 0, outputTokens: 0 }),
    };
    return this.event('message_start', { message }) + this.event('ping', {});
  }

  piece(chunk: CompletionChunk): string {
    if ((chunk.choice ?? 0) !== 0) return '';
    let frames = '';
    if (chunk.text) {
      if (this.current?.kind !== 'text') {
        frames += this.stop();
        frames += this.start({ type: 'text', text: '' });
        this.current = { kind: 'text' };
      }
      frames += this.delta({ type: 'text_delta', text: chunk.text });
    }
    for (const call of chunk.toolCalls ?? []) {
      if (this.current?.kind !== 'tool' || this.current.call !== call.index) {
        frames += this.stop();
        frames += this.start({ type: 'tool_use', id: call.id ?? '', name: call.name ?? '', input: {} });
        this.current = { kind: 'tool', call: call.index };
      }
      if (call.arguments) frames += this.delta({ type: 'input_json_delta', partial_json: call.arguments });
    }
    return frames;
  }

  close(outcome: RunOutcome): string {
    let frames = this.stop();
    if (this.blocks === 0) frames += this.start({ type: 'text', text: '' }) + this.stopBlock(0);
    frames += this.event('message_delta', {
      delta: { stop_reason: stopReason(outcome.finishReason), stop_sequence: null },
      usage: { input_tokens: outcome.usage.inputTokens, output_tokens: outcome.usage.outputTokens },
    });
    return frames + this.event('message_stop', {});
  }

  fail(error: ApiError): string {
    return this.event('error', { error: { type: 'api_error', message: error.message } });
  }

  private start(block: object): string {
    return this.event('content_block_start', { index: this.blocks++, content_block: block });
  }

  private delta(delta: object): string {
    return this.event('content_block_delta', { index: this.blocks - 1, delta });
  }

  private stop(): string {
    if (!this.current) return '';
    this.current = undefined;
    return this.stopBlock(this.blocks - 1);
  }

  private stopBlock(index: number): string {
    return this.event('content_block_stop', { index });
  }

  private event(type: string, payload: object): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  }
}
