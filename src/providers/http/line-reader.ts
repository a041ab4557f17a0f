/** Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across chunk borders. */
export async function* readLines(body: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const part of body) {
    pending += typeof part === 'string' ? part : decoder.decode(part, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      yield pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  if (pending.length > 0) yield pending.replace(/\r$/, '');
}
