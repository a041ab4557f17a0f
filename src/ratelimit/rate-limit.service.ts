import { Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Counter } from 'prom-client';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal } from '../auth/principal';
import { ApiError } from '../common/api-error';
import { dependencyUnavailable } from '../common/api-exception.filter';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { RedisService } from '../redis/redis.service';

/** What the X-RateLimit-* headers say after a request was counted. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Unix time (seconds) when the window resets. */
  reset: number;
}

const WINDOW_SECONDS = 60;
/** A limit check waits at most this long for Redis (no offline queue: a lost connection fails at once). */
const REDIS_COMMAND_TIMEOUT_MS = 1000;

/**
 * Per-key limits (requests/minute, tokens/minute) in Redis, shared by every replica.
 * Fixed one-minute windows (rate-limiter-flexible). Keys without limits cost no round trip.
 * Redis unreachable: RATE_LIMIT_FAIL_OPEN (default) serves limited keys without their limits,
 * with one warning per outage and `le_rate_limit_unchecked_total`; otherwise they get a 503.
 */
@Injectable()
export class RateLimitService {
  private readonly logger = new Logger(RateLimitService.name);
  private readonly limiters = new Map<string, RateLimiterRedis>();
  private client: Redis | undefined;
  private wasReady = false;
  private outage = false;
  private readonly unchecked: Counter<'reason'>;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    this.unchecked = new Counter({
      name: 'le_rate_limit_unchecked_total',
      help: 'Requests of limited keys served without their limits because Redis was unreachable (fail-open)',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    });
  }

  /** Counts one request against the key's rpm and checks its tpm budget; throws 429 when over. */
  async admit(principal: Principal): Promise<RateLimitState | undefined> {
    if (principal.tpm === null && principal.rpm === null) return undefined;
    try {
      const state = await this.check(principal);
      this.recovered();
      return state;
    } catch (error) {
      if (error instanceof ApiError) throw error;
      return this.unreachable(error, 'admit');
    }
  }

  private async check(principal: Principal): Promise<RateLimitState | undefined> {
    await this.connected();
    if (principal.tpm !== null) {
      const used = await this.limiter('tpm', principal.tpm).get(principal.keyId);
      if (used && used.consumedPoints >= principal.tpm) {
        throw this.exceeded(principal.tpm, used, 'tokens per minute');
      }
    }
    if (principal.rpm === null) return undefined;
    try {
      const res = await this.limiter('rpm', principal.rpm).consume(principal.keyId, 1);
      return state(principal.rpm, res);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes)
        throw this.exceeded(principal.rpm, rejection, 'requests per minute');
      throw rejection;
    }
  }

  /** Adds the tokens a finished request used to the key's tokens-per-minute window. */
  async recordTokens(principal: Principal, tokens: number): Promise<void> {
    if (principal.tpm === null || tokens <= 0) return;
    try {
      await this.limiter('tpm', principal.tpm).penalty(principal.keyId, tokens);
      this.recovered();
    } catch (error) {
      // The request is answered already: its tokens go uncounted, whatever the policy.
      this.warnOnce(error);
      this.unchecked.inc({ reason: 'record' });
    }
  }

  /** Redis did not answer: serve without limits (fail-open) or refuse with 503. */
  private unreachable(error: unknown, reason: string): undefined {
    this.warnOnce(error);
    if (!this.config.rateLimitFailOpen) throw dependencyUnavailable('redis');
    this.unchecked.inc({ reason });
    return undefined;
  }

  private warnOnce(error: unknown): void {
    if (this.outage) return;
    this.outage = true;
    const policy = this.config.rateLimitFailOpen
      ? 'serving limited keys without limits'
      : 'refusing limited keys with 503';
    this.logger.warn(
      `Redis unreachable for rate limits (${error instanceof Error ? error.message : String(error)}): ${policy}`,
    );
  }

  private recovered(): void {
    if (!this.outage) return;
    this.outage = false;
    this.logger.log('Redis reachable again: rate limits apply');
  }

  private limiter(kind: 'rpm' | 'tpm', points: number): RateLimiterRedis {
    const id = `${kind}:${points}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.connection(),
        keyPrefix: `${this.redis.prefix}:rl:${kind}`,
        points,
        duration: WINDOW_SECONDS,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /** Its own connection: no offline queue and a command timeout, so an outage costs no wait. */
  private connection(): Redis {
    if (this.client) return this.client;
    this.client = this.redis.create('client', {
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
    });
    // Once, at creation: a listener per call would pile up, one per limited request.
    this.client.once('ready', () => (this.wasReady = true));
    return this.client;
  }

  /** A new connection is waited for (briefly): without an offline queue it would refuse at once. */
  private async connected(): Promise<void> {
    const client = this.connection();
    // Only the first connection is waited for; a lost one fails at once (the outage policy decides).
    if (client.status === 'ready' || this.outage || this.wasReady) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, REDIS_COMMAND_TIMEOUT_MS);
      client.once('ready', done);
    });
  }

  private exceeded(limit: number, res: RateLimiterRes, what: string): ApiError {
    const s = state(limit, res);
    return new ApiError(
      'rate_limit_exceeded',
      `Rate limit exceeded: ${limit} ${what}. Retry in ${Math.ceil(res.msBeforeNext / 1000)} s.`,
      undefined,
      undefined,
      { ...rateLimitHeaders(s), 'Retry-After': String(Math.max(1, Math.ceil(res.msBeforeNext / 1000))) },
    );
  }
}

function state(limit: number, res: RateLimiterRes): RateLimitState {
  return {
    limit,
    remaining: Math.max(0, limit - res.consumedPoints),
    reset: Math.ceil((Date.now() + res.msBeforeNext) / 1000),
  };
}

export function rateLimitHeaders(s: RateLimitState): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(s.limit),
    'X-RateLimit-Remaining': String(s.remaining),
    'X-RateLimit-Reset': String(s.reset),
  };
}
