import type { CompletionChunk, FinishReason, ToolCall } from './completion.types';

/** One choice of a whole (non-streamed) answer, rebuilt from its chunks. */
export interface AnswerChoice {
  index: number;
  text: string;
  toolCalls: ToolCall[];
  finishReason?: FinishReason;
  /** The host's log probabilities (OpenAI's object; streamed `content` lists joined). */
  logprobs?: unknown;
}

/**
 * Rebuilds whole choices from chunks as the SDKs' stream accumulators do: text appended, tool
 * calls keyed by index (id and name from their first piece, arguments appended), log
 * probabilities' `content` lists joined.
 */
export class AnswerBuilder {
  private readonly choices: AnswerChoice[] = [];
  private readonly calls: Map<number, ToolCall>[] = [];

  add(chunk: CompletionChunk): void {
    const index = chunk.choice ?? 0;
    const choice = (this.choices[index] ??= { index, text: '', toolCalls: [] });
    if (chunk.text) choice.text += chunk.text;
    if (chunk.finishReason) choice.finishReason = chunk.finishReason;
    if (chunk.logprobs !== undefined) choice.logprobs = joinLogprobs(choice.logprobs, chunk.logprobs);
    if (!chunk.toolCalls) return;
    const calls = (this.calls[index] ??= new Map());
    for (const delta of chunk.toolCalls) {
      let call = calls.get(delta.index);
      if (!call) {
        call = { id: '', name: '', arguments: '' };
        calls.set(delta.index, call);
        choice.toolCalls.push(call);
      }
      if (delta.id) call.id = delta.id;
      if (delta.name) call.name = delta.name;
      if (delta.arguments) call.arguments += delta.arguments;
    }
  }

  /** The choices in index order (choice 0 always present). */
  result(): AnswerChoice[] {
    if (!this.choices[0]) this.choices[0] = { index: 0, text: '', toolCalls: [] };
    return this.choices.filter((c) => c !== undefined);
  }
}

function joinLogprobs(had: unknown, more: unknown): unknown {
  const a = (had as { content?: unknown } | undefined)?.content;
  const b = (more as { content?: unknown } | undefined)?.content;
  if (Array.isArray(a) && Array.isArray(b)) return { ...(had as object), content: [...a, ...b] };
  return had ?? more;
}
