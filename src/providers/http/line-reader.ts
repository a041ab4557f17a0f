/**
 * Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across chunk borders. Yields the
 * complete lines of each read as one array: a host that sends twenty tokens in one packet costs
 * one async step here, not twenty (each step of an async generator is a few promise hops).
 */
export async function* readLineBatches(body: AsyncIterable<Buffer | string>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const part of body) {
    pending += typeof part === 'string' ? part : decoder.decode(part, { stream: true });
    if (pending.indexOf('\n') < 0) continue;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (let i = 0; i < lines.length; i++) lines[i] = stripCr(lines[i]!);
    yield lines;
  }
  pending += decoder.decode();
  if (pending.length > 0) yield [stripCr(pending)];
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
