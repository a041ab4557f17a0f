import type { IncomingMessage } from 'node:http';
import cors, { type CorsOptions } from 'cors';
import type { NextFunction, Request, Response } from 'express';

/** Request headers browser clients send: SDKs' own (x-stainless-*, anthropic-*, openai-*) and ours. */
const ALLOWED_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'content-type',
  'idempotency-key',
  'x-request-id',
  'anthropic-version',
  'anthropic-beta',
  'anthropic-dangerous-direct-browser-access',
  'openai-organization',
  'openai-project',
  'openai-beta',
]);
const ALLOWED_PREFIX = 'x-stainless-';

/** Response headers a browser script may read. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'retry-after',
];

export type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/**
 * CORS for browser clients calling the API from other origins (CORS_ORIGINS; none by default, so
 * no middleware at all). Keys travel in headers, never cookies: no credentials. A preflight is
 * allowed exactly the requested headers that are on the list above; a request without an
 * Origin header (every non-browser client) passes untouched.
 */
export function corsMiddleware(origins: readonly string[]): Middleware | undefined {
  if (origins.length === 0) return undefined;
  const origin: CorsOptions['origin'] = origins.includes('*') ? '*' : [...origins];
  const handle = cors((req, callback) => {
    callback(null, {
      origin,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: allowedHeaders(req as IncomingMessage),
      exposedHeaders: EXPOSED_HEADERS,
      credentials: false,
      maxAge: 600,
    });
  });
  return (req, res, next) => (req.headers.origin === undefined ? next() : handle(req, res, next));
}

function allowedHeaders(req: IncomingMessage): string[] {
  const requested = req.headers['access-control-request-headers'];
  if (typeof requested !== 'string') return [];
  return requested
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => ALLOWED_HEADERS.has(h) || h.startsWith(ALLOWED_PREFIX));
}
