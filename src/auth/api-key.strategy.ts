import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import passport from 'passport';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import type { Principal } from './principal';
import type { RequestAuthenticator } from './request-authenticator';

/**
 * The passport strategies the ApiKeyGuard runs, in CONTRACT §1's order: the `Authorization`
 * header (`Bearer <key>` or a bare key), then `X-API-Key`. Passport tries the next one when a
 * header is absent. Both verify through the one RequestAuthenticator (the lean HTTP path calls
 * it too), so the key rule, the IP whitelist and the error texts live in one place.
 */
export const API_KEY_STRATEGIES = ['api-key-authorization', 'api-key-header'];

/**
 * Passport's strategy registry is process-wide, while each Nest app (tests and the CLI run
 * several in one process) has its own authenticator: the guard lends its own to the request.
 */
const lent = new WeakMap<IncomingMessage, RequestAuthenticator>();

export function lendAuthenticator(req: IncomingMessage, authenticator: RequestAuthenticator): void {
  lent.set(req, authenticator);
}

function verify(_key: string, done: (err: Error | null, principal?: Principal) => void, req?: Request): void {
  const authenticator = req && lent.get(req);
  if (!authenticator) return done(new Error('ApiKeyGuard: no authenticator for this request'));
  authenticator.authenticate(req).then(
    (principal) => done(null, principal),
    (error: Error) => done(error),
  );
}

let registered = false;

/** Registers the two strategies with passport (once per process). */
export function registerApiKeyStrategies(): void {
  if (registered) return;
  registered = true;
  const [authorization, apiKeyHeader] = API_KEY_STRATEGIES as [string, string];
  passport.use(
    authorization,
    new HeaderAPIKeyStrategy({ header: 'Authorization', prefix: '' }, true, verify),
  );
  passport.use(apiKeyHeader, new HeaderAPIKeyStrategy({ header: 'X-API-Key', prefix: '' }, true, verify));
}
