/**
 * Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across part borders. Fed part by
 * part by the reader of the body, it returns the lines each part completed, all at once: a host
 * that sends twenty tokens in one packet costs one step of the reading loop, not twenty, and no
 * async generator of its own stands between the socket and the parser.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';

  /** The lines this part completed (none: an empty array). */
  push(part: Buffer | string): string[] {
    this.pending += typeof part === 'string' ? part : this.decoder.decode(part, { stream: true });
    if (this.pending.indexOf('\n') < 0) return [];
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

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
