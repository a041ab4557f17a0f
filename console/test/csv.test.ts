import { describe, expect, it } from 'vitest';
import { buildCsv, csvField } from '../src/csv';
import { feedSse } from '../src/sse';

describe('CSV building', () => {
  it('quotes what needs quoting and defuses formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField(-5)).toBe('-5');
    expect(csvField(12345678901234567890n)).toBe('12345678901234567890');
    expect(csvField(null)).toBe('');
  });

  it('writes a header and one CRLF line per row', () => {
    const csv = buildCsv<{ m: string; c: string }>(
      [
        { key: 'model', value: (r) => r.m },
        { key: 'credits', value: (r) => r.c },
      ],
      [
        { m: 'llama3.1', c: '9007199254740993' },
        { m: 'a,b', c: '0' },
      ],
    );
    expect(csv).toBe('model,credits\r\nllama3.1,9007199254740993\r\n"a,b",0\r\n');
  });
});

describe('SSE reading', () => {
  it('joins deltas across chunk boundaries and reads the usage chunk and [DONE]', () => {
    const deltas: string[] = [];
    let usage: unknown = null;
    const events = { onDelta: (t: string) => deltas.push(t), onUsage: (u: unknown) => (usage = u) };
    let state = feedSse('', 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choi', events);
    state = feedSse(state.rest, 'ces":[{"delta":{"content":"lo"}}]}\n\n', events);
    state = feedSse(
      state.rest,
      'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\ndata: [DONE]\n\n',
      events,
    );
    expect(deltas.join('')).toBe('Hello');
    expect(usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
    expect(state.done).toBe(true);
  });
});
