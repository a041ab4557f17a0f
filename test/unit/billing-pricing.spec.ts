import Decimal from 'decimal.js';
import { codePointLength, creditsFor, inputCharacters, parseRate, rateText } from '../../src/billing/pricing';
import { decodeLedgerCursor, encodeLedgerCursor } from '../../src/billing/ledger-cursor';

const rate = (input: string, output: string) => ({ input: new Decimal(input), output: new Decimal(output) });

describe('billing pricing (seed 000 rule)', () => {
  it('counts Unicode code points, not UTF-16 units', () => {
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength('é😀')).toBe(2); // '😀'.length === 2 in JS
    expect(codePointLength('👍🏽')).toBe(2); // emoji + skin-tone modifier: two code points
    expect(codePointLength('\ud800x')).toBe(2); // a lone surrogate still counts once
    expect(codePointLength('')).toBe(0);
  });

  it('counts tool results and tool definitions (name, description, parameters JSON) as input', () => {
    const parameters = { type: 'object', properties: { city: { type: 'string' } } };
    const defined = 'get_weather'.length + 'Weather now'.length + JSON.stringify(parameters).length;
    expect(
      inputCharacters(
        [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: '' },
          { role: 'tool', content: '{"temp":21}' },
        ],
        [{ name: 'get_weather', description: 'Weather now', parameters }, { name: 'noop' }],
      ),
    ).toBe(2 + 11 + defined + 'noop'.length + '{}'.length);
  });

  it('counts only user messages, and the text parts of content arrays', () => {
    expect(
      inputCharacters([
        { role: 'system', content: 'ignored' },
        { role: 'user', content: 'hello' },
        { role: 'assistant', content: 'ignored too' },
        { role: 'user', content: [{ type: 'text', text: 'abc' }, { type: 'image_url' }] },
      ]),
    ).toBe(8);
  });

  it('computes credits exactly where floats would not', () => {
    // 0.1 + 0.2 cents in floats is 0.30000000000000004 → 3,001 after rounding up; exactly 3,000.
    expect(creditsFor(rate('0.1', '0.2'), 1, 1)).toBe(3_000n);
    // llama3.1, 100 user characters, max_tokens 100: 1 + 2 = 3 cents = 30,000 credits.
    expect(creditsFor(rate('0.01', '0.02'), 100, 100)).toBe(30_000n);
  });

  it('rounds a fraction of a credit up', () => {
    // 1 × 0.00000001 cents = 0.0001 credits → 1 credit.
    expect(creditsFor(rate('0.00000001', '0'), 1, 0)).toBe(1n);
    expect(creditsFor(rate('0', '0'), 10, 10)).toBe(0n);
  });

  it('stays exact for very large token counts', () => {
    // 9,007,199,254,740,991 × 0.0123456789 cents × 10,000 = 1,111,999,897,873,515,775.7… → …776
    // (computed with Python's decimal module); a double would be off by thousands.
    expect(creditsFor(rate('0.0123456789', '0'), Number.MAX_SAFE_INTEGER, 0)).toBe(
      1_111_999_897_873_515_776n,
    );
  });

  it('agrees with decimal arithmetic for rates of any scale, integers and exponent notation included', () => {
    const Reference = Decimal.clone({ precision: 200, rounding: Decimal.ROUND_CEIL });
    const reference = (input: string, output: string, inTokens: number, outTokens: number) =>
      BigInt(
        new Reference(inTokens)
          .mul(input)
          .plus(new Reference(outTokens).mul(output))
          .mul(10_000)
          .ceil()
          .toFixed(0),
      );
    const rates = [
      '0',
      '1',
      '12',
      '0.5',
      '0.015',
      '0.00000001',
      '1e-7',
      '2.5e3',
      '0.123456789012345678901234567890',
    ];
    const tokens = [0, 1, 7, 999, 123_457, 98_765_432_109];
    for (const input of rates)
      for (const output of rates)
        for (const inTokens of tokens)
          for (const outTokens of [0, 3, 4_096]) {
            const got = creditsFor(rate(input, output), inTokens, outTokens);
            expect([input, output, inTokens, outTokens, got]).toEqual([
              input,
              output,
              inTokens,
              outTokens,
              reference(input, output, inTokens, outTokens),
            ]);
          }
  });

  it('reads a stored rate once per text: the same Decimal, the same exact charge', () => {
    const a = parseRate('0.017');
    expect(parseRate('0.017')).toBe(a);
    expect(parseRate('0.0170')).not.toBe(a); // another text is its own entry, with the same value
    expect(parseRate('0.0170').equals(a)).toBe(true);
    expect(rateText(parseRate('0.0170'))).toBe('0.017');
    // 1,000 × 0.017 + 1,000 × 0.027 cents = 44 cents = 440,000 credits.
    expect(creditsFor({ input: a, output: parseRate('0.027') }, 1000, 1000)).toBe(440_000n);
    expect(() => parseRate('not a rate')).toThrow();
  });

  it('rejects negative or fractional token counts', () => {
    expect(() => creditsFor(rate('1', '1'), -1, 0)).toThrow(RangeError);
    expect(() => creditsFor(rate('1', '1'), 0, 1.5)).toThrow(RangeError);
  });
});

describe('ledger cursor', () => {
  it('round-trips an entry id and rejects anything else', () => {
    expect(decodeLedgerCursor(encodeLedgerCursor('12345'))).toBe('12345');
    expect(() => decodeLedgerCursor('garbage')).toThrow();
    expect(() => decodeLedgerCursor(Buffer.from('l:0').toString('base64url'))).toThrow();
    expect(() => decodeLedgerCursor(Buffer.from('l:1; DROP').toString('base64url'))).toThrow();
  });
});
