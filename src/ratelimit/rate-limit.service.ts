import { Injectable } from '@nestjs/common';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../common/api-error';
import type { Principal } from '../auth/principal';
import { RedisService } from '../redis/redis.service';

/** What the X-RateLimit-* headers say after a request was counted. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Unix time (seconds) when the window resets. */
  reset: number;
}

const WINDOW_SECONDS = 60;

/**
 * Per-key limits (requests/minute, tokens/minute) in Redis, shared by every replica.
 * Fixed one-minute windows (rate-limiter-flexible). Keys without limits cost no round trip.
 */
@Injectable()
export class RateLimitService {
  private readonly limiters = new Map<string, RateLimiterRedis>();

  constructor(private readonly redis: RedisService) {}

  /** Counts one request against the key's rpm and checks its tpm budget; throws 429 when over. */
  async admit(principal: Principal): Promise<RateLimitState | undefined> {
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
    await this.limiter('tpm', principal.tpm).penalty(principal.keyId, tokens);
  }

  private limiter(kind: 'rpm' | 'tpm', points: number): RateLimiterRedis {
    const id = `${kind}:${points}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.redis.client,
        keyPrefix: `${this.redis.prefix}:rl:${kind}`,
        points,
        duration: WINDOW_SECONDS,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
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
