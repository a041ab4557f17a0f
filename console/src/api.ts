/**
 * The console's only way to the server: same-origin fetch with the signed-in key as
 * `Authorization: Bearer` (no cookies). Money fields are read from the JSON text exactly, as
 * strings, and every failure becomes an ApiFailure whose message a person can read.
 */

/** JSON fields that hold credits: kept as their exact decimal text. */
const MONEY_FIELDS = new Set(['credits', 'amount', 'balance_after']);

type ReviverContext = { source?: string };

/** JSON.parse with money fields as strings (from the source text where the browser gives it). */
export function parseJson(text: string): unknown {
  const reviver = function (this: unknown, key: string, value: unknown, context?: ReviverContext) {
    if (MONEY_FIELDS.has(key) && typeof value === 'number') {
      if (context?.source !== undefined) return context.source;
      if (!Number.isSafeInteger(value))
        throw new ApiFailure(0, 'The server sent an amount too large to read');
      return String(value);
    }
    return value;
  };
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

const STATUS_WORDS: Record<number, string> = {
  400: 'The request was not accepted',
  401: 'The API key was not accepted: it may be wrong, expired or revoked',
  402: 'Not enough credits',
  403: 'This key may not do that',
  404: 'Not found',
  409: 'That conflicts with something that exists',
  422: 'The request could not be processed',
  429: 'Too many requests: wait a moment and try again',
  502: 'The GPU host failed',
  503: 'No GPU host is available right now',
};

/** The message of any of the platform's error shapes (admin, native, OpenAI), or words for the status. */
export function errorMessage(status: number, body: unknown): string {
  const fromBody = (() => {
    if (typeof body === 'string') return body.trim() || null;
    if (typeof body !== 'object' || body === null) return null;
    const b = body as { message?: unknown; error?: unknown; detail?: unknown };
    if (typeof b.message === 'string' && b.message) return b.message;
    if (Array.isArray(b.message)) return b.message.join('; ');
    if (typeof b.error === 'object' && b.error !== null) {
      const m = (b.error as { message?: unknown }).message;
      if (typeof m === 'string' && m) return m;
    }
    if (typeof b.detail === 'string') return b.detail;
    return null;
  })();
  const words = STATUS_WORDS[status] ?? (status >= 500 ? 'The server failed' : `Request failed (${status})`);
  if (!fromBody) return words;
  // Generic texts ("Forbidden", "Invalid API key") say less than our words; keep both when they differ.
  if (status === 401 || status === 403) return fromBody === words ? words : `${words} (${fromBody})`;
  return fromBody;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  /** JSON text sent as is (money built from a BigInt, never through a JS number). */
  jsonText?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** A client bound to one key. */
export class ApiClient {
  constructor(
    private readonly key: string,
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
  ) {}

  /** Raw fetch with the key (the playground reads the stream itself). */
  async raw(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key}`, ...options.headers };
    const body = options.jsonText ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      return await this.fetchImpl(path, {
        method: options.method ?? 'GET',
        headers,
        body,
        signal: options.signal,
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (error) {
      if ((error as { name?: string }).name === 'AbortError') throw error;
      throw new ApiFailure(0, 'Cannot reach the server: check your connection');
    }
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, options);
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        body = parseJson(text);
      } catch (error) {
        if (error instanceof ApiFailure) throw error;
        throw new ApiFailure(res.status, 'The server sent an answer that is not JSON');
      }
    }
    if (!res.ok) throw new ApiFailure(res.status, errorMessage(res.status, body));
    return body as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>(path, { signal });
  }
}

/** A query string from the defined values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A random idempotency key (getRandomValues works outside secure contexts, randomUUID does not). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
