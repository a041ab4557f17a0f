import { UpstreamError } from '../upstream-error';

/**
 * Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across part borders. Fed part by
 * part by the reader of the body, it returns the lines each part completed, all at once: a host
 * that sends twenty tokens in one packet costs one step of the reading loop, not twenty, and no
 * async generator of its own stands between the socket and the parser.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';

  /** The lines this part completed (none: an empty array). A line longer than MAX_LINE is a protocol error. */
  push(part: Buffer | string): string[] {
    this.pending += typeof part === 'string' ? part : this.decoder.decode(part, { stream: true });
    if (this.pending.indexOf('\n') < 0) {
      // A host that sends an endless line cannot fill this process's memory.
      if (this.pending.length > MAX_LINE) {
        this.pending = '';
        throw new UpstreamError(
          'protocol',
          `A line of the host's answer is longer than ${MAX_LINE} characters`,
        );
      }
      return [];
    }
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (let i = 0; i < lines.length; i++) lines[i] = stripCr(lines[i]!);
    return lines;
  }

  /** At the end of the body: the last line if it had no newline. */
  end(): string[] {
    this.pending += this.decoder.decode();
    const last = this.pending;
    this.pending = '';
    return last.length > 0 ? [stripCr(last)] : [];
  }
}

/** Longest line of a streamed answer (one SSE data line or NDJSON object): far above any chunk. */
export const MAX_LINE = 8 * 1024 * 1024;

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
