import Decimal from 'decimal.js';

/** Exact decimals with room for any token count times any rate (never JS floats). */
const Exact = Decimal.clone({ precision: 100, rounding: Decimal.ROUND_CEIL });

/** One credit is 0.0001 cent, so credits = cents × 10,000. */
const CREDITS_PER_CENT = 10_000n;

/** Cents per token, exact. */
export interface ModelRate {
  input: Decimal;
  output: Decimal;
}

export interface ChatMessageLike {
  role: string;
  content: unknown;
}

/** Number of Unicode code points in a string (a surrogate pair is one character). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** A tool definition as the reservation counts it. */
export interface ToolLike {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

/**
 * The reservation's input-token estimate (seed 000's rule, extended to tools): the characters
 * (Unicode code points) of the content of the `user` messages and of the `tool` messages (tool
 * results the model reads), plus, for each tool definition, its name, its description and the
 * JSON text of its parameters schema. System and assistant messages are not counted. Non-string
 * content (e.g. OpenAI content parts) counts the text of its `text` parts.
 */
export function inputCharacters(messages: readonly ChatMessageLike[], tools?: readonly ToolLike[]): number {
  let total = 0;
  for (const m of messages) {
    if (m.role !== 'user' && m.role !== 'tool') continue;
    if (typeof m.content === 'string') total += codePointLength(m.content);
    else if (Array.isArray(m.content)) {
      for (const part of m.content as unknown[]) {
        const text = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') total += codePointLength(text);
      }
    }
  }
  for (const tool of tools ?? []) {
    total += codePointLength(tool.name) + codePointLength(tool.description ?? '');
    total += codePointLength(JSON.stringify(tool.parameters ?? {}));
  }
  return total;
}

/** Token counts of a request, as the host reported them (or as the platform counted them). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * The upper bound a request holds before it runs (seed 000): its characters in (inputCharacters)
 * and its max_tokens out, at the model's rates now.
 */
export function estimateFor(
  rate: ModelRate,
  messages: readonly ChatMessageLike[],
  maxTokens: number,
  tools?: readonly ToolLike[],
): bigint {
  return creditsFor(rate, inputCharacters(messages, tools), maxTokens);
}

/**
 * What a finished request is charged: its actual usage at the rates it was admitted with, never
 * more than its hold (CONTRACT §5). A refund charges nothing. The only place the charge is
 * decided: the settle statements write what this returns.
 */
export function chargeFor(hold: Hold, usage: TokenUsage, refund = false): Settlement {
  if (hold.credits < 0n) throw new RangeError('a hold must be >= 0 credits');
  const cost = refund ? 0n : creditsFor(hold.rate, usage.inputTokens, usage.outputTokens);
  const charged = cost < hold.credits ? cost : hold.credits;
  return { charged, returned: hold.credits - charged };
}

/** A request's hold: the credits set aside and the rates it was admitted with. */
export interface Hold {
  credits: bigint;
  rate: ModelRate;
}

/** A settle's two ledger figures: −charged for the request in all, +returned of its hold. */
export interface Settlement {
  charged: bigint;
  returned: bigint;
}

/**
 * credits = ⌈(input × input_rate + output × output_rate) cents / 0.0001⌉, exactly: in integers,
 * each rate read once as numerator / 10^scale (a decimal.js product per request cost ≈ 4 µs).
 */
export function creditsFor(rate: ModelRate, inputTokens: number, outputTokens: number): bigint {
  assertTokenCount(inputTokens, 'inputTokens');
  assertTokenCount(outputTokens, 'outputTokens');
  const a = fractionOf(rate.input);
  const b = fractionOf(rate.output);
  // Both terms over the larger denominator, in units of 1/unit credits.
  const unit = a.unit >= b.unit ? a.unit : b.unit;
  const total =
    (BigInt(inputTokens) * a.numerator * (unit / a.unit) +
      BigInt(outputTokens) * b.numerator * (unit / b.unit)) *
    CREDITS_PER_CENT;
  if (unit === 1n) return total;
  const whole = total / unit;
  // BigInt division truncates toward zero: that is the ceiling for a negative total, not for a positive one.
  return total > 0n && total % unit !== 0n ? whole + 1n : whole;
}

/** A decimal as numerator / unit (a power of ten), and its text. */
interface Fraction {
  text: string;
  numerator: bigint;
  unit: bigint;
}

/** Decimals are immutable: each rate's fraction is worked out once. */
const fractions = new WeakMap<Decimal, Fraction>();

function fractionOf(value: Decimal): Fraction {
  let fraction = fractions.get(value);
  if (fraction) return fraction;
  // toFixed() without digits: plain notation, every digit (precision 100 holds any stored rate).
  const text = value.toFixed();
  const dot = text.indexOf('.');
  const scale = dot < 0 ? 0 : text.length - dot - 1;
  const numerator = BigInt(dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1));
  fraction = { text, numerator, unit: 10n ** BigInt(scale) };
  fractions.set(value, fraction);
  return fraction;
}

/** A rate's text as stored and shown: plain decimal notation (toFixed() of the Decimal, worked out once). */
export function rateText(value: Decimal): string {
  return fractionOf(value).text;
}

/** Rates read back from the database (a claimed task's hold), by their text: one Decimal each. */
const parsedRates = new Map<string, Decimal>();
/** A bound on that map; models have few distinct rates, so this is only a guard. */
const MAX_PARSED_RATES = 1024;

/**
 * A rate as stored and shown: plain decimal notation, no exponent, no trailing zeros. The same
 * text gives the same (immutable) Decimal, so its fraction is worked out once, not per task.
 */
export function parseRate(text: string): Decimal {
  let rate = parsedRates.get(text);
  if (rate) return rate;
  rate = new Exact(text);
  if (parsedRates.size >= MAX_PARSED_RATES) parsedRates.clear();
  parsedRates.set(text, rate);
  return rate;
}

function assertTokenCount(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
}
