/**
 * Which dependency an error says is unreachable: PostgreSQL (pg, pg-pool and TypeORM wrapping
 * them), Redis (ioredis), or neither. Such errors are answered 503 with Retry-After on every
 * surface (api-exception.filter.ts), never 500.
 */
export type Dependency = 'database' | 'redis';

/** Socket-level failures of a connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** PostgreSQL SQLSTATEs of a server that is going away, starting, or full. */
const PG_UNAVAILABLE = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  'the database system is',
];
const REDIS_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Command timed out',
];

export function unavailableDependency(error: unknown): Dependency | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { name, code, message, syscall } = e as {
      name?: unknown;
      code?: unknown;
      message?: unknown;
      syscall?: unknown;
    };
    const text = typeof message === 'string' ? message : '';
    if (name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.some((m) => text.includes(m))) return 'redis';
    if (typeof code === 'string' && PG_UNAVAILABLE.has(code)) return 'database';
    if (PG_MESSAGES.some((m) => text.includes(m))) return 'database';
    // Only a failed connect: a reset socket elsewhere (a client, a host) is not a dependency outage.
    if (typeof code === 'string' && NETWORK_CODES.has(code) && syscall === 'connect') {
      // ioredis connect errors name the port; everything else here talks to PostgreSQL.
      return /:6379\b|redis/i.test(text) ? 'redis' : 'database';
    }
    // TypeORM's QueryFailedError keeps the driver's error; AggregateError keeps the attempts.
    const inner =
      (e as { driverError?: unknown; cause?: unknown; errors?: unknown[] }).driverError ??
      (e as { cause?: unknown }).cause ??
      (e as { errors?: unknown[] }).errors?.[0];
    e = inner;
  }
  return undefined;
}
