import type { ApiError } from '../../common/api-error';
import { AnswerBuilder, type AnswerChoice } from '../answer';
import type { CompletionChunk, FinishReason, ToolCall, Usage } from '../completion.types';
import type { RunOutcome } from '../completions.service';
import type { StreamFormat } from '../stream-writer';
import { argumentsObject } from '../tools';

const NS_PER_MS = 1_000_000;

/** When the answer started and first produced output (for Ollama's durations, in nanoseconds). */
export class OllamaTimer {
  private readonly started = performance.now();
  private first: number | undefined;

  output(): void {
    this.first ??= performance.now();
  }

  stats(usage: Usage) {
    const now = performance.now();
    const first = this.first ?? now;
    return {
      total_duration: Math.round((now - this.started) * NS_PER_MS),
      load_duration: 0,
      prompt_eval_count: usage.inputTokens,
      prompt_eval_duration: Math.round((first - this.started) * NS_PER_MS),
      eval_count: usage.outputTokens,
      eval_duration: Math.round((now - first) * NS_PER_MS),
    };
  }
}

/** Ollama's done_reason: "length" when cut by num_predict, otherwise "stop" (also after tool calls). */
function doneReason(finish: FinishReason): string {
  return finish === 'length' ? 'length' : 'stop';
}

/** Tool calls as Ollama writes them: arguments as an object, each with its index. */
function ollamaToolCalls(calls: ToolCall[]) {
  return calls.map((call, index) => ({
    id: call.id,
    function: { index, name: call.name, arguments: argumentsObject(call.arguments) },
  }));
}

export type OllamaEndpoint = 'chat' | 'generate';

/** The final (done) object of /api/chat or /api/generate: the whole answer when not streamed. */
export function ollamaFinal(
  endpoint: OllamaEndpoint,
  model: string,
  choice: AnswerChoice | undefined,
  finish: FinishReason | 'load',
  stats: object,
) {
  const created_at = new Date().toISOString();
  const done_reason = finish === 'load' ? 'load' : doneReason(finish);
  const text = choice?.text ?? '';
  if (endpoint === 'chat') {
    const message: Record<string, unknown> = { role: 'assistant', content: text };
    if (choice?.toolCalls.length) message.tool_calls = ollamaToolCalls(choice.toolCalls);
    return { model, created_at, message, done_reason, done: true, ...stats };
  }
  return { model, created_at, response: text, done: true, done_reason, context: [], ...stats };
}

/**
 * Ollama's NDJSON stream: one object per piece of text (`message` for /api/chat, `response` for
 * /api/generate), `done: false`; tool calls whole in one object (Ollama sends them whole; pieces
 * from OpenAI-protocol hosts are gathered first), then the final object with done_reason and the
 * counts and durations.
 */
export class OllamaStream implements StreamFormat {
  readonly headers = { 'Content-Type': 'application/x-ndjson' };
  private readonly calls = new AnswerBuilder();
  private calling = false;

  constructor(
    private readonly endpoint: OllamaEndpoint,
    private readonly model: string,
    private readonly timer: OllamaTimer,
  ) {}

  open(): string {
    return '';
  }

  piece(chunk: CompletionChunk): string {
    if ((chunk.choice ?? 0) !== 0) return '';
    if (chunk.toolCalls) {
      this.timer.output();
      this.calling = true;
      this.calls.add({ toolCalls: chunk.toolCalls });
    }
    if (!chunk.text) return '';
    this.timer.output();
    return this.line(chunk.text);
  }

  close(outcome: RunOutcome): string {
    let lines = '';
    if (this.calling) {
      const calls = ollamaToolCalls(this.calls.result()[0]!.toolCalls);
      lines += this.json({
        model: this.model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '', tool_calls: calls },
        done: false,
      });
    }
    const final = ollamaFinal(
      this.endpoint,
      this.model,
      undefined,
      outcome.finishReason,
      this.timer.stats(outcome.usage),
    );
    return lines + this.json(final);
  }

  fail(error: ApiError): string {
    return this.json({ error: error.message });
  }

  private line(text: string): string {
    const created_at = new Date().toISOString();
    return this.endpoint === 'chat'
      ? this.json({
          model: this.model,
          created_at,
          message: { role: 'assistant', content: text },
          done: false,
        })
      : this.json({ model: this.model, created_at, response: text, done: false });
  }

  private json(value: object): string {
    return `${JSON.stringify(value)}\n`;
  }
}
