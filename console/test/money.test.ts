import { describe, expect, it } from 'vitest';
import {
  creditsToDollars,
  formatCredits,
  normalizeRate,
  parsePositiveCredits,
  rateError,
  topUpBody,
} from '../src/money';

describe('credits from bigint strings', () => {
  it('groups digits without going through a float, beyond 2^53', () => {
    expect(formatCredits('0')).toBe('0');
    expect(formatCredits('999')).toBe('999');
    expect(formatCredits('1000')).toBe('1,000');
    expect(formatCredits('-1234567')).toBe('-1,234,567');
    expect(formatCredits('123456789012345678901')).toBe('123,456,789,012,345,678,901');
    expect(formatCredits(9007199254740993n)).toBe('9,007,199,254,740,993');
  });

  it('refuses text that is not an integer', () => {
    expect(() => formatCredits('1.5')).toThrow();
    expect(() => formatCredits('1e6')).toThrow();
    expect(() => formatCredits('')).toThrow();
  });

  it('converts to dollars exactly (1,000,000 credits = $1)', () => {
    expect(creditsToDollars('0')).toBe('$0.00');
    expect(creditsToDollars('1')).toBe('$0.000001');
    expect(creditsToDollars('12345678')).toBe('$12.345678');
    expect(creditsToDollars('1500000')).toBe('$1.50');
    expect(creditsToDollars('-2000000')).toBe('-$2.00');
    expect(creditsToDollars('9007199254740993000000')).toBe('$9,007,199,254,740,993.00');
  });

  it('reads a typed amount as a positive BigInt', () => {
    expect(parsePositiveCredits('1,000,000')).toBe(1000000n);
    expect(parsePositiveCredits(' 42 ')).toBe(42n);
    expect(parsePositiveCredits('9007199254740993')).toBe(9007199254740993n);
    expect(parsePositiveCredits('0')).toBeNull();
    expect(parsePositiveCredits('-5')).toBeNull();
    expect(parsePositiveCredits('1.5')).toBeNull();
    expect(parsePositiveCredits('abc')).toBeNull();
  });

  it('writes the top-up body from the BigInt digits', () => {
    expect(topUpBody(9007199254740993n, '')).toBe('{"amount":9007199254740993}');
    expect(topUpBody(5n, ' inv "7" ')).toBe('{"amount":5,"reference":"inv \\"7\\""}');
  });
});

describe('decimal rate validation', () => {
  it('accepts what the server accepts', () => {
    for (const ok of ['0', '0.015', '12', '0.0000000001', '999999999999.9999999999'])
      expect(rateError(ok)).toBeNull();
  });

  it('says in words what is wrong', () => {
    expect(rateError('')).toMatch(/Enter a rate/);
    expect(rateError('1e-5')).toMatch(/exponent/);
    expect(rateError('-1')).toMatch(/negative/);
    expect(rateError('.5')).toMatch(/digit before/);
    expect(rateError('01.5')).toMatch(/leading zeros/);
    expect(rateError('1.')).toMatch(/after the decimal point/);
    expect(rateError('0.12345678901')).toMatch(/10 decimal places/);
    expect(rateError('1234567890123')).toMatch(/12 digits/);
    expect(rateError('1,5')).toMatch(/digits and one decimal point/);
    expect(rateError('1.2.3')).toMatch(/digits and one decimal point/);
  });

  it('shows rates without trailing zeros', () => {
    expect(normalizeRate('0.0100000000')).toBe('0.01');
    expect(normalizeRate('2.0000')).toBe('2');
    expect(normalizeRate('15')).toBe('15');
  });
});
