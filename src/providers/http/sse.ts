import { UpstreamError } from '../upstream-error';
import { readLineBatches } from './line-reader';

/** The SSE terminator OpenAI-compatible servers send after the last chunk. */
export const SSE_DONE = Symbol('sse-done');

/**
 * Reads one event's data when it has a shape the caller knows to be common, for less than
 * JSON.parse costs; undefined sends the event to JSON.parse.
 */
export type SseFastParse<T> = (data: string) => T | undefined;

/**
 * Parses an SSE stream of JSON events (OpenAI-compatible): `data:` lines joined per event,
 * `data: [DONE]` gives SSE_DONE; comments (`:`) and other fields are skipped. The events
 * completed by each read come as one array. `fast` may read common events first.
 */
export async function* readSseJson<T>(
  body: AsyncIterable<Buffer | string>,
  fast?: SseFastParse<T>,
): AsyncGenerator<(T | typeof SSE_DONE)[]> {
  let data: string[] = [];
  for await (const lines of readLineBatches(body)) {
    const events: (T | typeof SSE_DONE)[] = [];
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) {
          const text = data.length === 1 ? data[0]! : data.join('\n');
          events.push(fast?.(text) ?? parseEvent<T>(text));
        }
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
    if (events.length > 0) yield events;
  }
  if (data.length > 0) {
    const text = data.join('\n');
    yield [fast?.(text) ?? parseEvent<T>(text)];
  }
}

function parseEvent<T>(data: string): T | typeof SSE_DONE {
  if (data.trim() === '[DONE]') return SSE_DONE;
  try {
    return JSON.parse(data) as T;
  } catch {
    throw new UpstreamError('protocol', `Invalid SSE data: ${data.slice(0, 100)}`);
  }
}
