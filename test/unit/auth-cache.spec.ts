import type { ApiKeyRecord } from '../../src/auth/auth.types';
import type { AppConfig } from '../../src/config/app-config';
import { Clock } from '../../src/auth/clock';
import { compileWhitelist } from '../../src/auth/ip-address';
import type { Principal } from '../../src/auth/principal';
import { VerifiedKeyCache } from '../../src/auth/verified-key.cache';

class FakeClock extends Clock {
  t = 1_000_000;
  override now(): number {
    return this.t;
  }
}

const entry = (keyId: string, userId = 'u1') => ({
  principal: { userId, keyId, role: 'user', allowedModels: [], rpm: null, tpm: null } satisfies Principal,
  ipAllowed: compileWhitelist([]),
  expiresAt: null,
});

const record = (id: string, userId = 'u1', tpm: number | null = null): ApiKeyRecord => ({
  id,
  userId,
  prefix: `sk-le-${id}`,
  name: null,
  ipWhitelist: [],
  models: [],
  rpm: null,
  tpm,
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  createdAt: new Date(0),
});

describe('VerifiedKeyCache', () => {
  const make = (ttl: number) => {
    const clock = new FakeClock();
    return { clock, cache: new VerifiedKeyCache({ authCacheTtlMs: ttl } as AppConfig, clock) };
  };

  it('serves an entry for at most AUTH_CACHE_TTL_MS', () => {
    const { clock, cache } = make(5000);
    cache.set('d1', entry('k1'));
    clock.t += 4999;
    expect(cache.get('d1')?.principal.keyId).toBe('k1');
    clock.t += 1;
    expect(cache.get('d1')).toBeUndefined();
  });

  it('evicts by key and by user at once', () => {
    const { cache } = make(5000);
    cache.set('d1', entry('k1', 'u1'));
    cache.set('d2', entry('k2', 'u1'));
    cache.set('d3', entry('k3', 'u2'));
    cache.evictKey('k3');
    expect(cache.get('d3')).toBeUndefined();
    cache.evictUser('u1');
    expect([cache.get('d1'), cache.get('d2')]).toEqual([undefined, undefined]);
  });

  it('caches nothing with a TTL of 0', () => {
    const { cache } = make(0);
    cache.set('d1', entry('k1'));
    cache.setRecord(record('k1'));
    expect(cache.get('d1')).toBeUndefined();
    expect(cache.getRecord('k1')).toBeUndefined();
  });

  it("keeps key records (a queued task's limits) on the same TTL and evictions", () => {
    const { clock, cache } = make(5000);
    cache.setRecord(record('k2', 'u1'));
    cache.setRecord(record('k3', 'u2'));
    cache.evictKey('k3');
    expect(cache.getRecord('k3')).toBeUndefined();
    expect(cache.getRecord('k2')?.id).toBe('k2');
    cache.evictUser('u1');
    expect(cache.getRecord('k2')).toBeUndefined();
    cache.setRecord(record('k1', 'u1', 50));
    clock.t += 4999;
    expect(cache.getRecord('k1')?.tpm).toBe(50);
    clock.t += 1;
    expect(cache.getRecord('k1')).toBeUndefined();
  });
});
