/**
 * Money in the browser: credits are integers that may pass 2^53, so they travel as decimal
 * strings and are computed on as BigInt; rates are exact decimal strings. Never a float.
 */

const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** Credits (an integer string or bigint) with thousands separators: "-1234567" → "-1,234,567". */
export function formatCredits(value: string | bigint): string {
  const text = typeof value === 'bigint' ? value.toString() : value.trim();
  if (!INTEGER.test(text)) throw new Error(`not an integer amount: ${value}`);
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return negative ? `-${grouped}` : grouped;
}

/**
 * Credits in dollars, exactly: a credit is 0.0001 cent (seed 000), so 1,000,000 credits are
 * one dollar. "12345678" → "$12.345678"; trailing zeros are kept to two decimals.
 */
export function creditsToDollars(value: string | bigint): string {
  const credits = typeof value === 'bigint' ? value : parseCredits(value);
  const negative = credits < 0n;
  const abs = negative ? -credits : credits;
  const whole = abs / 1_000_000n;
  let fraction = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  if (fraction.length < 2) fraction = fraction.padEnd(2, '0');
  return `${negative ? '-' : ''}$${formatCredits(whole)}.${fraction}`;
}

/** A credit amount typed by a person ("1,000,000" or "1000000"); null when not a positive integer. */
export function parsePositiveCredits(text: string): bigint | null {
  const cleaned = text.trim().replace(/[,_\s]/g, '');
  if (!/^[1-9][0-9]*$/.test(cleaned)) return null;
  return BigInt(cleaned);
}

export function parseCredits(text: string): bigint {
  const trimmed = text.trim();
  if (!INTEGER.test(trimmed)) throw new Error(`not an integer amount: ${text}`);
  return BigInt(trimmed);
}

/** The largest top-up the API takes (a JSON integer it reads exactly). */
export const MAX_TOP_UP = 9007199254740991n;

/** The server's rule for rates (cents per token): plain decimal, ≤ 12 integer and ≤ 10 decimal digits. */
const RATE = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,10})?$/;

/** Null when `text` is a valid rate, else the reason in words. */
export function rateError(text: string): string | null {
  const value = text.trim();
  if (value === '') return 'Enter a rate, e.g. 0.015';
  if (/e/i.test(value)) return 'Write the rate in plain decimals, not exponent notation';
  if (value.startsWith('-')) return 'A rate cannot be negative';
  if (/^[0-9]*\.?[0-9]*$/.test(value)) {
    const [whole = '', fraction = ''] = value.split('.');
    if (whole === '') return 'Put a digit before the decimal point, e.g. 0.5';
    if (whole.length > 1 && whole.startsWith('0')) return 'No leading zeros, e.g. 0.5 rather than 00.5';
    if (whole.length > 12) return 'At most 12 digits before the decimal point';
    if (value.endsWith('.')) return 'Add digits after the decimal point or remove it';
    if (fraction.length > 10) return 'At most 10 decimal places';
  }
  return RATE.test(value) ? null : 'Use digits and one decimal point only, e.g. 0.015';
}

/** Removes insignificant trailing zeros for display: "0.0100000000" → "0.01". */
export function normalizeRate(text: string): string {
  const value = text.trim();
  if (!value.includes('.')) return value;
  return value.replace(/0+$/, '').replace(/\.$/, '');
}

/** The top-up request body, with the amount written from the BigInt (exact at any size). */
export function topUpBody(credits: bigint, reference: string): string {
  const ref = reference.trim();
  return `{"amount":${credits.toString()}${ref ? `,"reference":${JSON.stringify(ref)}` : ''}}`;
}
