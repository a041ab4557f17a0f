import { randomUUID } from 'node:crypto';
import type { AnswerChoice } from '../answer';
import type { CompletionChunk, FinishReason, ToolCallDelta, Usage } from '../completion.types';

/** OpenAI wire shapes for responses and stream chunks (chat.completion, text_completion, …). */
export function completionId(prefix: 'chatcmpl' | 'cmpl'): string {
  // randomUUID draws from a cached entropy pool (randomBytes costs ~30 µs per call).
  return `${prefix}-${randomUUID().replace(/-/g, '')}`;
}

export function openAiUsage(usage: Usage) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** A chat.completion: each choice's message with its tool calls (content null when it only called tools). */
export function chatCompletion(
  id: string,
  created: number,
  model: string,
  choices: readonly AnswerChoice[],
  finish: FinishReason,
  usage: Usage,
) {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: choices.map((c) => ({
      index: c.index,
      message: chatMessage(c),
      logprobs: c.logprobs ?? null,
      finish_reason: c.finishReason ?? finish,
    })),
    usage: openAiUsage(usage),
    system_fingerprint: null,
  };
}

function chatMessage(choice: AnswerChoice) {
  if (choice.toolCalls.length === 0) return { role: 'assistant', content: choice.text, refusal: null };
  return {
    role: 'assistant',
    content: choice.text === '' ? null : choice.text,
    tool_calls: choice.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    })),
    refusal: null,
  };
}

export function textCompletion(
  id: string,
  created: number,
  model: string,
  choices: readonly AnswerChoice[],
  finish: FinishReason,
  usage: Usage,
) {
  return {
    id,
    object: 'text_completion',
    created,
    model,
    choices: choices.map((c) => ({
      index: c.index,
      text: c.text,
      logprobs: c.logprobs ?? null,
      finish_reason: c.finishReason ?? finish,
    })),
    usage: openAiUsage(usage),
    system_fingerprint: null,
  };
}

/** Stands for a chunk's text while its frame is built once per stream (JSON escapes it as \u0000). */
const TEXT_SLOT = '\u0000text\u0000';

/** Builds the SSE chunks of one chat or text completion stream. */
export class OpenAiChunks {
  /** A content chunk's frame around its JSON-encoded text: built once, not per token. */
  private contentFrame: [string, string] | undefined;

  constructor(
    private readonly kind: 'chat' | 'completion',
    private readonly id: string,
    private readonly created: number,
    private readonly model: string,
    /** Choices the request asked for (n). */
    private readonly choices = 1,
  ) {}

  /** The opening role chunk of each choice (chat only). */
  role(): string {
    if (this.kind !== 'chat') return '';
    let frames = '';
    for (let i = 0; i < this.choices; i++)
      frames += this.sse(this.choice({ role: 'assistant', content: '' }, null, i));
    return frames;
  }

  /**
   * The frames of one chunk, each passed through `frame`: the text (the common case, from the
   * prebuilt frame), tool-call pieces as OpenAI streams them (a call's id, type and name with
   * empty arguments, then its arguments), and, for choices other than 0, their finish.
   */
  piece(chunk: CompletionChunk, frame: (sse: string) => string): string {
    const index = chunk.choice ?? 0;
    if (chunk.text && index === 0 && chunk.logprobs === undefined && !chunk.toolCalls) {
      return frame(this.content(chunk.text));
    }
    let frames = '';
    if (chunk.text || chunk.logprobs !== undefined) {
      const text = chunk.text ?? '';
      const delta = this.kind === 'chat' ? { content: text } : text;
      frames += frame(this.sse(this.choice(delta, null, index, chunk.logprobs ?? null)));
    }
    for (const call of chunk.toolCalls ?? []) frames += this.toolCall(call, index, frame);
    if (index !== 0 && chunk.finishReason) frames += frame(this.finish(chunk.finishReason, index));
    return frames;
  }

  private toolCall(call: ToolCallDelta, index: number, frame: (sse: string) => string): string {
    let frames = '';
    if (call.id !== undefined || call.name !== undefined) {
      const head = {
        index: call.index,
        ...(call.id !== undefined ? { id: call.id } : {}),
        type: 'function',
        function: { ...(call.name !== undefined ? { name: call.name } : {}), arguments: '' },
      };
      frames += frame(this.sse(this.choice({ tool_calls: [head] }, null, index)));
    }
    if (call.arguments) {
      const piece = { index: call.index, function: { arguments: call.arguments } };
      frames += frame(this.sse(this.choice({ tool_calls: [piece] }, null, index)));
    }
    return frames;
  }

  content(text: string): string {
    if (!this.contentFrame) {
      const whole = this.sse(this.choice(this.kind === 'chat' ? { content: TEXT_SLOT } : TEXT_SLOT, null));
      const [before, after] = whole.split(JSON.stringify(TEXT_SLOT)) as [string, string];
      this.contentFrame = [before, after];
    }
    return this.contentFrame[0] + JSON.stringify(text) + this.contentFrame[1];
  }

  finish(reason: FinishReason, index = 0): string {
    return this.sse(this.choice(this.kind === 'chat' ? {} : '', reason, index));
  }

  usage(usage: Usage): string {
    return this.sse({ ...this.base(), choices: [], usage: openAiUsage(usage) });
  }

  error(message: string, code: string): string {
    return this.sse({ error: { message, type: 'server_error', param: null, code } });
  }

  done(): string {
    return 'data: [DONE]\n\n';
  }

  private base() {
    return {
      id: this.id,
      object: this.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created: this.created,
      model: this.model,
      system_fingerprint: null,
    };
  }

  private choice(delta: object | string, finish: FinishReason | null, index = 0, logprobs: unknown = null) {
    const choice =
      this.kind === 'chat'
        ? { index, delta, logprobs, finish_reason: finish }
        : { index, text: delta, logprobs, finish_reason: finish };
    return { ...this.base(), choices: [choice] };
  }

  private sse(payload: object): string {
    return `data: ${JSON.stringify(payload)}\n\n`;
  }
}
