import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { ApiError } from '../common/api-error';
import { ApiKeyEntity } from './api-key.entity';
import {
  formatKey,
  hashSecret,
  keyDigest,
  KEY_PREFIX,
  parseKey,
  PUBLIC_ID_LENGTH,
  SECRET_BYTES,
  SECRET_LENGTH,
  base62,
} from './api-key.format';
import type {
  ApiKeyRecord,
  CreateUserInput,
  IssuedApiKey,
  KeySettings,
  UpdateUserInput,
  UserRecord,
} from './auth.types';
import { Clock } from './clock';
import { compileWhitelist, isValidRange, parseAddress } from './ip-address';
import { LastUsedRecorder } from './last-used.recorder';
import type { Principal } from './principal';
import { RandomSource } from './random.source';
import { UserEntity } from './user.entity';
import { type VerifiedKey, VerifiedKeyCache } from './verified-key.cache';

interface KeyRow {
  id: string;
  user_id: string;
  secret_hash: string;
  ip_whitelist: string[];
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  role: 'user' | 'admin';
  disabled: boolean;
}

/** A hash that matches nothing, compared when the public id is unknown so both paths cost the same. */
const NO_HASH = Buffer.alloc(32);

/** Users and API keys: issuing, verifying, changing and revoking. */
@Injectable()
export class AuthService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    private readonly cache: VerifiedKeyCache,
    private readonly lastUsed: LastUsedRecorder,
    private readonly random: RandomSource,
    private readonly clock: Clock,
  ) {}

  // ---- verification (hot path) -------------------------------------------------------------

  /**
   * The principal for a raw key presented from `clientIp`. Throws `invalid_api_key` for anything
   * not a live key of an enabled user, `ip_not_authorized` when the key's whitelist refuses the
   * address. A hit in the verified-key cache makes no query.
   */
  async verify(rawKey: string, clientIp: string | null): Promise<Principal> {
    const digest = keyDigest(rawKey);
    let verified = this.cache.get(digest);
    if (!verified) {
      verified = await this.loadKey(rawKey);
      this.cache.set(digest, verified);
    }
    if (verified.expiresAt !== null && verified.expiresAt <= this.clock.now()) {
      throw new ApiError('invalid_api_key');
    }
    if (!verified.ipAllowed(clientIp ? parseAddress(clientIp) : null)) {
      throw new ApiError('ip_not_authorized');
    }
    this.lastUsed.touch(verified.principal.keyId);
    return verified.principal;
  }

  /** The cache miss: one indexed query by public id, then a constant-time hash comparison. */
  private async loadKey(rawKey: string): Promise<VerifiedKey> {
    const parsed = parseKey(rawKey);
    if (!parsed) throw new ApiError('invalid_api_key');
    const rows: KeyRow[] = await this.db.query(
      `SELECT k.id, k.user_id, k.secret_hash, k.ip_whitelist, k.models, k.rpm, k.tpm, k.expires_at,
              k.revoked_at, u.role, u.disabled
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.public_id = $1`,
      [parsed.publicId],
    );
    const row = rows[0];
    const stored = row ? Buffer.from(row.secret_hash, 'hex') : NO_HASH;
    const given = Buffer.from(hashSecret(parsed.secret), 'hex');
    const hashMatches = stored.length === given.length && timingSafeEqual(stored, given);
    if (!row || !hashMatches || row.revoked_at || row.disabled) throw new ApiError('invalid_api_key');
    // Frozen: one principal object is shared by every request that hits the cache.
    const principal: Principal = Object.freeze({
      userId: row.user_id,
      keyId: row.id,
      role: row.role,
      allowedModels: Object.freeze([...row.models]) as string[],
      rpm: row.rpm,
      tpm: row.tpm,
    });
    return {
      principal,
      ipAllowed: compileWhitelist(row.ip_whitelist),
      expiresAt: row.expires_at ? new Date(row.expires_at).getTime() : null,
    };
  }

  // ---- users -------------------------------------------------------------------------------

  async createUser(input: CreateUserInput): Promise<UserRecord> {
    const users = this.db.getRepository(UserEntity);
    const user = users.create({
      name: input.name,
      email: input.email ?? null,
      role: input.role ?? 'user',
      disabled: false,
    });
    await this.assertEmailFree(user.email, null);
    return toUserRecord(await uniqueEmail(() => users.save(user)));
  }

  async listUsers(): Promise<UserRecord[]> {
    const users = await this.db.getRepository(UserEntity).find({ order: { createdAt: 'ASC', id: 'ASC' } });
    return users.map(toUserRecord);
  }

  async getUser(id: string): Promise<UserRecord> {
    return toUserRecord(await this.findUser(this.db.manager, id));
  }

  /** Changes a user; disabling one refuses all their keys (at once here, within the cache TTL elsewhere). */
  async updateUser(id: string, patch: UpdateUserInput): Promise<UserRecord> {
    const users = this.db.getRepository(UserEntity);
    const user = await this.findUser(this.db.manager, id);
    if (patch.name !== undefined) user.name = patch.name;
    if (patch.email !== undefined) user.email = patch.email;
    if (patch.role !== undefined) user.role = patch.role;
    if (patch.disabled !== undefined) user.disabled = patch.disabled;
    await this.assertEmailFree(user.email, id);
    const saved = await uniqueEmail(() => users.save(user));
    this.cache.evictUser(id);
    return toUserRecord(saved);
  }

  // ---- keys --------------------------------------------------------------------------------

  /** Issues a key. The plaintext is in the result and nowhere else: only sha256(secret) is stored. */
  async createKey(userId: string, settings: KeySettings = {}): Promise<IssuedApiKey> {
    assertValidSettings(settings);
    await this.findUser(this.db.manager, userId);
    const publicId = base62(this.random.bytes(8), PUBLIC_ID_LENGTH);
    const secret = base62(this.random.bytes(SECRET_BYTES), SECRET_LENGTH);
    const keys = this.db.getRepository(ApiKeyEntity);
    const saved = await keys.save(
      keys.create({
        userId,
        publicId,
        secretHash: hashSecret(secret),
        name: settings.name ?? null,
        ipWhitelist: normalizeList(settings.ipWhitelist),
        models: normalizeList(settings.models),
        rpm: settings.rpm ?? null,
        tpm: settings.tpm ?? null,
        expiresAt: settings.expiresAt ?? null,
        revokedAt: null,
        lastUsedAt: null,
      }),
    );
    return { record: toKeyRecord(saved), key: formatKey(publicId, secret) };
  }

  async listKeys(userId: string): Promise<ApiKeyRecord[]> {
    await this.findUser(this.db.manager, userId);
    const keys = await this.db
      .getRepository(ApiKeyEntity)
      .find({ where: { userId }, order: { createdAt: 'ASC', id: 'ASC' } });
    return keys.map(toKeyRecord);
  }

  async getKey(id: string): Promise<ApiKeyRecord> {
    return toKeyRecord(await this.findKey(id));
  }

  /**
   * A key's record as of at most AUTH_CACHE_TTL_MS ago (the staleness verified keys have on the
   * hot path; a change made in this process evicts it at once): what a queued task's run reads.
   */
  async getKeyCached(id: string): Promise<ApiKeyRecord> {
    const cached = this.cache.getRecord(id);
    if (cached) return cached;
    const record = await this.getKey(id);
    this.cache.setRecord(record);
    return record;
  }

  async updateKey(id: string, patch: KeySettings): Promise<ApiKeyRecord> {
    assertValidSettings(patch);
    const key = await this.findKey(id);
    if (patch.name !== undefined) key.name = patch.name;
    if (patch.ipWhitelist !== undefined) key.ipWhitelist = normalizeList(patch.ipWhitelist);
    if (patch.models !== undefined) key.models = normalizeList(patch.models);
    if (patch.rpm !== undefined) key.rpm = patch.rpm;
    if (patch.tpm !== undefined) key.tpm = patch.tpm;
    if (patch.expiresAt !== undefined) key.expiresAt = patch.expiresAt;
    const saved = await this.db.getRepository(ApiKeyEntity).save(key);
    this.cache.evictKey(id);
    return toKeyRecord(saved);
  }

  /** Revokes a key for good (idempotent: a second revoke keeps the first time). */
  async revokeKey(id: string): Promise<ApiKeyRecord> {
    const key = await this.findKey(id);
    if (!key.revokedAt) {
      key.revokedAt = new Date(this.clock.now());
      await this.db.getRepository(ApiKeyEntity).update(id, { revokedAt: key.revokedAt });
    }
    this.cache.evictKey(id);
    return toKeyRecord(key);
  }

  // ---- admin bootstrap ---------------------------------------------------------------------

  /**
   * Makes `rawKey` (already checked to be in the issued format) a working admin key: updates the
   * key with that public id, or creates an admin user and the key. Serialised across processes.
   */
  async ensureAdminKey(rawKey: string): Promise<{ userId: string; keyId: string }> {
    const parsed = parseKey(rawKey);
    if (!parsed) throw new Error('ensureAdminKey: not a key in the issued format');
    const secretHash = hashSecret(parsed.secret);
    const result = await this.db.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('le:admin-bootstrap'))`);
      const keys = m.getRepository(ApiKeyEntity);
      const users = m.getRepository(UserEntity);
      const existing = await keys.findOneBy({ publicId: parsed.publicId });
      if (existing) {
        await keys.update(existing.id, { secretHash, revokedAt: null, expiresAt: null });
        await users.update(existing.userId, { role: 'admin', disabled: false });
        return { userId: existing.userId, keyId: existing.id };
      }
      const user = await users.save(
        users.create({ name: 'admin', email: null, role: 'admin', disabled: false }),
      );
      const key = await keys.save(
        keys.create({
          userId: user.id,
          publicId: parsed.publicId,
          secretHash,
          name: 'ADMIN_API_KEY',
          ipWhitelist: [],
          models: [],
          rpm: null,
          tpm: null,
          expiresAt: null,
          revokedAt: null,
          lastUsedAt: null,
        }),
      );
      return { userId: user.id, keyId: key.id };
    });
    this.cache.evictKey(result.keyId);
    return result;
  }

  /** Checked first so the usual duplicate is a clean 409 (uniqueEmail covers the race). */
  private async assertEmailFree(email: string | null, exceptUserId: string | null): Promise<void> {
    if (email === null) return;
    const taken: unknown[] = await this.db.query(
      `SELECT 1 FROM users WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $2::uuid`,
      [email, exceptUserId],
    );
    if (taken.length > 0) throw emailTaken();
  }

  private async findUser(m: EntityManager, id: string): Promise<UserEntity> {
    const user = await m.getRepository(UserEntity).findOneBy({ id });
    if (!user) throw new ApiError('not_found', 'User not found', 'id');
    return user;
  }

  private async findKey(id: string): Promise<ApiKeyEntity> {
    const key = await this.db.getRepository(ApiKeyEntity).findOneBy({ id });
    if (!key) throw new ApiError('not_found', 'API key not found', 'id');
    return key;
  }
}

function toUserRecord(u: UserEntity): UserRecord {
  return {
    id: u.id,
    name: u.name,
    email: u.email,
    role: u.role,
    disabled: u.disabled,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  };
}

function toKeyRecord(k: ApiKeyEntity): ApiKeyRecord {
  return {
    id: k.id,
    userId: k.userId,
    prefix: `${KEY_PREFIX}${k.publicId}`,
    name: k.name,
    ipWhitelist: k.ipWhitelist,
    models: k.models,
    rpm: k.rpm,
    tpm: k.tpm,
    expiresAt: k.expiresAt,
    revokedAt: k.revokedAt,
    lastUsedAt: k.lastUsedAt,
    createdAt: k.createdAt,
  };
}

function normalizeList(list: string[] | undefined): string[] {
  return [...new Set((list ?? []).map((s) => s.trim()).filter((s) => s.length > 0))];
}

/** Checks what the database cannot express (the DTOs check the same for HTTP callers). */
function assertValidSettings(s: KeySettings): void {
  const bad = (s.ipWhitelist ?? []).find((entry) => !isValidRange(entry));
  if (bad !== undefined) {
    throw new ApiError(
      'invalid_request',
      `ip_whitelist: "${bad}" is not an IPv4/IPv6 address or CIDR range`,
      'ip_whitelist',
    );
  }
  for (const field of ['rpm', 'tpm'] as const) {
    const value = s[field];
    if (value !== undefined && value !== null && !(Number.isInteger(value) && value > 0)) {
      throw new ApiError('invalid_request', `${field}: must be a positive integer`, field);
    }
  }
}

function emailTaken(): ApiError {
  return new ApiError('conflict', 'email: a user with this email already exists', 'email');
}

/** A duplicate email is a 409 naming the field, not a 500. */
async function uniqueEmail<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505') {
      throw emailTaken();
    }
    throw error;
  }
}
