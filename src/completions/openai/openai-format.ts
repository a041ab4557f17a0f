import { randomUUID } from 'node:crypto';
import type { FinishReason, Usage } from '../completion.types';

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

export function chatCompletion(
  id: string,
  created: number,
  model: string,
  text: string,
  finish: FinishReason,
  usage: Usage,
) {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage: openAiUsage(usage),
    system_fingerprint: null,
  };
}

export function textCompletion(
  id: string,
  created: number,
  model: string,
  text: string,
  finish: FinishReason,
  usage: Usage,
) {
  return {
    id,
    object: 'text_completion',
    created,
    model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
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
  ) {}

  role(): string {
    return this.kind === 'chat' ? this.sse(this.choice({ role: 'assistant', content: '' }, null)) : '';
  }

  content(text: string): string {
    if (!this.contentFrame) {
      const whole = this.sse(this.choice(this.kind === 'chat' ? { content: TEXT_SLOT } : TEXT_SLOT, null));
      const [before, after] = whole.split(JSON.stringify(TEXT_SLOT)) as [string, string];
      this.contentFrame = [before, after];
    }
    return this.contentFrame[0] + JSON.stringify(text) + this.contentFrame[1];
  }

  finish(reason: FinishReason): string {
    return this.sse(this.choice(this.kind === 'chat' ? {} : '', reason));
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

  private choice(delta: object | string, finish: FinishReason | null) {
    const choice =
      this.kind === 'chat'
        ? { index: 0, delta, logprobs: null, finish_reason: finish }
        : { index: 0, text: delta, logprobs: null, finish_reason: finish };
    return { ...this.base(), choices: [choice] };
  }

  private sse(payload: object): string {
    return `data: ${JSON.stringify(payload)}\n\n`;
  }
}
