import { UpstreamError } from '../upstream-error';
import { readLines } from './line-reader';

/** Parses an NDJSON stream (Ollama): one JSON object per non-empty line. */
export async function* readNdjson<T>(body: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  for await (const line of readLines(body)) {
    if (line.trim() === '') continue;
    yield parseJson<T>(line);
  }
}

function parseJson<T>(line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new UpstreamError('protocol', `Invalid NDJSON line: ${line.slice(0, 100)}`);
  }
}
