import { UpstreamError } from '../upstream-error';
import { readLineBatches } from './line-reader';

/** Parses an NDJSON stream (Ollama): one JSON object per non-empty line; one array per read. */
export async function* readNdjson<T>(body: AsyncIterable<Buffer | string>): AsyncGenerator<T[]> {
  for await (const lines of readLineBatches(body)) {
    const objects: T[] = [];
    for (const line of lines) if (line.trim() !== '') objects.push(parseJson<T>(line));
    if (objects.length > 0) yield objects;
  }
}

function parseJson<T>(line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new UpstreamError('protocol', `Invalid NDJSON line: ${line.slice(0, 100)}`);
  }
}
