import { UpstreamError } from '../upstream-error';
import { LineSplitter } from './line-reader';

/** NDJSON (Ollama) fed part by part: one JSON object per non-empty line. */
export class NdjsonParser<T> {
  private readonly lines = new LineSplitter();

  /** The objects whose lines this part completed. */
  push(part: Buffer | string): T[] {
    return parseLines(this.lines.push(part));
  }

  /** At the end of the body: the last line if it had no newline. */
  end(): T[] {
    return parseLines(this.lines.end());
  }
}

function parseLines<T>(lines: string[]): T[] {
  const objects: T[] = [];
  for (const line of lines) if (line.trim() !== '') objects.push(parseJson<T>(line));
  return objects;
}

function parseJson<T>(line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new UpstreamError('protocol', `Invalid NDJSON line: ${line.slice(0, 100)}`);
  }
}
