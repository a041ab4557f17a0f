import { describe, expect, it } from 'vitest';
import { ApiClient, ApiFailure, errorMessage, parseJson, query } from '../src/api';

const respond =
  (status: number, body: string, type = 'application/json') =>
  async () =>
    new Response(body, { status, headers: { 'content-type': type } });

describe('API client', () => {
  it('keeps money fields exact, as strings, even past 2^53 (or refuses them, never rounds)', () => {
    const parsed = parseJson('{"credits": 1234, "amount": -5, "balance_after": 0, "requests": 3}') as Record<
      string,
      unknown
    >;
    expect(parsed.credits).toBe('1234');
    expect(parsed.amount).toBe('-5');
    expect(parsed.balance_after).toBe('0');
    expect(parsed.requests).toBe(3);
    // Browsers with JSON.parse source text (Chromium) read it exactly; others refuse rather than round.
    const big = '{"credits": 9007199254740993}';
    const sourceText = (
      JSON.parse as (t: string, r: (k: string, v: unknown, c?: { source?: string }) => unknown) => unknown
    )('1', (_k, v, c) => c?.source ?? v);
    if (sourceText === '1') expect(parseJson(big)).toEqual({ credits: '9007199254740993' });
    else expect(() => parseJson(big)).toThrow(/too large/);
  });

  it('maps each error shape of the platform to its message', () => {
    expect(
      errorMessage(400, { statusCode: 400, message: 'amount: must be at least 1', error: 'invalid_request' }),
    ).toBe('amount: must be at least 1');
    expect(errorMessage(402, { success: false, message: 'Insufficient credits' })).toBe(
      'Insufficient credits',
    );
    expect(
      errorMessage(404, { error: { message: 'The model does not exist', code: 'model_not_found' } }),
    ).toBe('The model does not exist');
    expect(errorMessage(403, { statusCode: 403, message: 'This API key may not use this endpoint' })).toBe(
      'This key may not do that (This API key may not use this endpoint)',
    );
    expect(errorMessage(401, {})).toMatch(/not accepted/);
    expect(errorMessage(503, '')).toBe('No GPU host is available right now');
    expect(errorMessage(500, null)).toBe('The server failed');
    expect(errorMessage(418, null)).toBe('Request failed (418)');
  });

  it('sends the key as a bearer header, no cookies, and throws ApiFailure with words', async () => {
    let seen: RequestInit | undefined;
    const client = new ApiClient('sk-le-test', async (_url, init) => {
      seen = init;
      return respond(422, '{"statusCode":422,"message":"Idempotency-Key was already used"}')();
    });
    const failure = await client
      .request('/admin/x', { method: 'POST', body: { a: 1 } })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiFailure);
    expect((failure as ApiFailure).status).toBe(422);
    expect((failure as ApiFailure).message).toBe('Idempotency-Key was already used');
    expect((seen?.headers as Record<string, string>).Authorization).toBe('Bearer sk-le-test');
    expect(seen?.credentials).toBe('omit');
    expect(seen?.body).toBe('{"a":1}');
  });

  it('says when the server cannot be reached or answers non-JSON', async () => {
    const offline = new ApiClient('k', async () => {
      throw new TypeError('fetch failed');
    });
    await expect(offline.get('/x')).rejects.toThrow(/Cannot reach the server/);
    const garbled = new ApiClient('k', respond(200, '{not json'));
    await expect(garbled.get('/x')).rejects.toThrow(/not JSON/);
  });

  it('builds query strings from the defined values only', () => {
    expect(query({ a: 1, b: undefined, c: '', d: 'x y' })).toBe('?a=1&d=x+y');
    expect(query({})).toBe('');
  });
});
