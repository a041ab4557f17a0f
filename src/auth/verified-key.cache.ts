import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { ApiKeyRecord } from './auth.types';
import { Clock } from './clock';
import type { IpMatcher } from './ip-address';
import type { Principal } from './principal';

export interface VerifiedKey {
  principal: Principal;
  ipAllowed: IpMatcher;
  /** Epoch ms of the key's own expiry, checked on every hit. */
  expiresAt: number | null;
}

const MAX_ENTRIES = 10000;

/**
 * Keys verified in the last AUTH_CACHE_TTL_MS, by digest of the full key (never the plaintext),
 * so the hot path makes no query. A revoke, disable or change evicts locally at once; other
 * replicas see it when their entry ages out, i.e. within AUTH_CACHE_TTL_MS. TTL 0 disables it.
 */
@Injectable()
export class VerifiedKeyCache {
  private readonly entries = new Map<string, VerifiedKey & { until: number }>();
  /** Key records by id, read for queued tasks' runs (their limits), on the same TTL. */
  private readonly records = new Map<string, { record: ApiKeyRecord; until: number }>();
  private readonly ttlMs: number;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.ttlMs = config.authCacheTtlMs;
  }

  get(digest: string): VerifiedKey | undefined {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    if (entry.until > this.clock.now()) return entry;
    this.entries.delete(digest);
    return undefined;
  }

  set(digest: string, value: VerifiedKey): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= MAX_ENTRIES) evictOldest(this.entries);
    this.entries.delete(digest);
    this.entries.set(digest, { ...value, until: this.clock.now() + this.ttlMs });
  }

  evictKey(keyId: string): void {
    for (const [digest, entry] of this.entries)
      if (entry.principal.keyId === keyId) this.entries.delete(digest);
    this.records.delete(keyId);
  }

  getRecord(keyId: string): ApiKeyRecord | undefined {
    const entry = this.records.get(keyId);
    if (!entry) return undefined;
    if (entry.until > this.clock.now()) return entry.record;
    this.records.delete(keyId);
    return undefined;
  }

  setRecord(record: ApiKeyRecord): void {
    if (this.ttlMs <= 0) return;
    if (this.records.size >= MAX_ENTRIES) evictOldest(this.records);
    this.records.delete(record.id);
    this.records.set(record.id, { record, until: this.clock.now() + this.ttlMs });
  }

  evictUser(userId: string): void {
    for (const [digest, entry] of this.entries)
      if (entry.principal.userId === userId) this.entries.delete(digest);
    for (const [keyId, entry] of this.records) if (entry.record.userId === userId) this.records.delete(keyId);
  }
}

/** Drops the entry set longest ago (Maps keep insertion order; a set re-inserts). */
function evictOldest(map: Map<string, unknown>): void {
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}
