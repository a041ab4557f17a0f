import type { IncomingHttpHeaders } from 'node:http';

/**
 * The key a request presents, in CONTRACT §1's order: `Authorization: Bearer <key>`, a bare
 * `Authorization: <key>` (seed 000), then `X-API-Key` (seed 001). Null when there is none.
 */
export function extractApiKey(headers: IncomingHttpHeaders): string | null {
  const authorization = headers.authorization?.trim();
  if (authorization) {
    const bearer = /^bearer(?:\s+(.*))?$/i.exec(authorization);
    const key = bearer ? (bearer[1] ?? '').trim() : authorization;
    if (key) return key;
  }
  const header = headers['x-api-key'];
  const apiKey = (Array.isArray(header) ? header[0] : header)?.trim();
  return apiKey ? apiKey : null;
}
