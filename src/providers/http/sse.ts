import { UpstreamError } from '../upstream-error';
import { LineSplitter } from './line-reader';

/** The SSE terminator OpenAI-compatible servers send after the last chunk. */
export const SSE_DONE = Symbol('sse-done');

/**
 * Reads one event's data when it has a shape the caller knows to be common, for less than
 * JSON.parse costs; undefined sends the event to JSON.parse.
 */
export type SseFastParse<T> = (data: string) => T | undefined;

/**
 * An SSE stream of JSON events (OpenAI-compatible) fed part by part: `data:` lines joined per
 * event, `data: [DONE]` gives SSE_DONE; comments (`:`) and other fields are skipped. `fast` may
 * read common events first.
 */
export class SseJsonParser<T> {
  private readonly lines = new LineSplitter();
  private data: string[] = [];

  constructor(private readonly fast?: SseFastParse<T>) {}

  /** The events this part completed. */
  push(part: Buffer | string): (T | typeof SSE_DONE)[] {
    const events: (T | typeof SSE_DONE)[] = [];
    for (const line of this.lines.push(part)) this.take(line, events);
    return events;
  }

  /** At the end of the body: the events its last line or a missing blank line left open. */
  end(): (T | typeof SSE_DONE)[] {
    const events: (T | typeof SSE_DONE)[] = [];
    for (const line of this.lines.end()) this.take(line, events);
    if (this.data.length > 0) events.push(this.parse(this.data.join('\n')));
    this.data = [];
    return events;
  }

  private take(line: string, events: (T | typeof SSE_DONE)[]): void {
    if (line === '') {
      if (this.data.length > 0)
        events.push(this.parse(this.data.length === 1 ? this.data[0]! : this.data.join('\n')));
      this.data = [];
    } else if (line.startsWith('data:')) {
      this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
  }

  private parse(data: string): T | typeof SSE_DONE {
    const fast = this.fast?.(data);
    if (fast !== undefined) return fast;
    if (data.trim() === '[DONE]') return SSE_DONE;
    try {
      return JSON.parse(data) as T;
    } catch {
      throw new UpstreamError('protocol', `Invalid SSE data: ${data.slice(0, 100)}`);
    }
  }
}
