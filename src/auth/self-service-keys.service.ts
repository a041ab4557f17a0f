import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { AppConfig } from '../config/app-config';
import { AuthService } from './auth.service';
import type { ApiKeyRecord, IssuedApiKey, KeySettings } from './auth.types';
import { Clock } from './clock';
import { rangeWithin } from './ip-address';
import type { Principal } from './principal';

/**
 * A user's own keys. The rule: a user holds at most SELF_SERVICE_MAX_KEYS live keys (not revoked,
 * not expired), and a key they make can do no more than the key that makes it: rpm, tpm and
 * expiry at most the creating key's, models and IP ranges within its lists. An admin therefore
 * sets a user's limits on the key it hands out.
 */
@Injectable()
export class SelfServiceKeysService {
  constructor(
    private readonly auth: AuthService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  list(p: Principal): Promise<ApiKeyRecord[]> {
    return this.auth.listKeys(p.userId);
  }

  async create(p: Principal, wanted: KeySettings): Promise<IssuedApiKey> {
    const parent = await this.auth.getKey(p.keyId);
    const now = this.clock.now();
    const live = (await this.auth.listKeys(p.userId)).filter(
      (k) => !k.revokedAt && (!k.expiresAt || k.expiresAt.getTime() > now),
    );
    if (live.length >= this.config.selfServiceMaxKeys)
      throw new ApiError(
        'forbidden',
        `You may hold at most ${this.config.selfServiceMaxKeys} live keys; revoke one first`,
      );
    return this.auth.createKey(p.userId, bounded(parent, wanted, now));
  }

  async revoke(p: Principal, keyId: string): Promise<ApiKeyRecord> {
    const key = await this.auth.getKey(keyId).catch(() => null);
    // Another user's key is "not found", never a hint that it exists.
    if (!key || key.userId !== p.userId) throw new ApiError('not_found', 'API key not found', 'id');
    return this.auth.revokeKey(keyId);
  }
}

/** The wanted settings within the parent key's; absent limits are inherited. */
function bounded(parent: ApiKeyRecord, wanted: KeySettings, now: number): KeySettings {
  const refuse = (field: string, why: string) =>
    new ApiError('forbidden', `${field}: ${why} (the limit of the key you signed in with)`, field);
  const limit = (field: 'rpm' | 'tpm'): number | null => {
    const cap = parent[field];
    const value = wanted[field] ?? null;
    if (cap === null) return value;
    if (value === null) return cap;
    if (value > cap) throw refuse(field, `at most ${cap}`);
    return value;
  };
  let models = wanted.models ?? [];
  if (parent.models.length > 0) {
    if (models.length === 0) models = parent.models;
    const extra = models.find((m) => !parent.models.includes(m));
    if (extra !== undefined) throw refuse('models', `"${extra}" is not allowed`);
  }
  let ipWhitelist = wanted.ipWhitelist ?? [];
  if (parent.ipWhitelist.length > 0) {
    if (ipWhitelist.length === 0) ipWhitelist = parent.ipWhitelist;
    const outside = ipWhitelist.find((r) => !rangeWithin(r, parent.ipWhitelist));
    if (outside !== undefined) throw refuse('ip_whitelist', `"${outside}" is outside the allowed ranges`);
  }
  let expiresAt = wanted.expiresAt ?? null;
  if (expiresAt !== null && expiresAt.getTime() <= now)
    throw new ApiError('invalid_request', 'expires_at: must be in the future', 'expires_at');
  if (parent.expiresAt !== null) {
    if (expiresAt === null) expiresAt = parent.expiresAt;
    if (expiresAt > parent.expiresAt)
      throw refuse('expires_at', `no later than ${parent.expiresAt.toISOString()}`);
  }
  return { name: wanted.name ?? null, rpm: limit('rpm'), tpm: limit('tpm'), models, ipWhitelist, expiresAt };
}
