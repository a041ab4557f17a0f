import { AuthService } from '../../src/auth/auth.service';
import type { TestApp } from './test-app';

export interface CreateUserOptions {
  role?: 'user' | 'admin';
  name?: string;
}

export interface CreateKeyOptions {
  ip_whitelist?: string[];
  models?: string[];
  rpm?: number;
  tpm?: number;
  /** ISO 8601; may be in the past (an expired key). */
  expires_at?: string;
}

let counter = 0;

/** A user made through AuthService (no HTTP, no admin key needed). */
export async function createUser(t: TestApp, opts: CreateUserOptions = {}): Promise<{ id: string }> {
  const user = await t.app.get(AuthService).createUser({
    name: opts.name ?? `test-user-${process.pid}-${++counter}`,
    role: opts.role ?? 'user',
  });
  return { id: user.id };
}

/** A key for `userId`; `key` is the plaintext to send in a header. */
export async function createKey(
  t: TestApp,
  userId: string,
  opts: CreateKeyOptions = {},
): Promise<{ id: string; key: string }> {
  const issued = await t.app.get(AuthService).createKey(userId, {
    ipWhitelist: opts.ip_whitelist,
    models: opts.models,
    rpm: opts.rpm,
    tpm: opts.tpm,
    expiresAt: opts.expires_at === undefined ? undefined : new Date(opts.expires_at),
  });
  return { id: issued.record.id, key: issued.key };
}

/** A user and one key in one call. */
export async function createUserWithKey(
  t: TestApp,
  opts: CreateUserOptions & CreateKeyOptions = {},
): Promise<{ userId: string; keyId: string; key: string }> {
  const { role, name, ...keyOpts } = opts;
  const user = await createUser(t, { role, name });
  const key = await createKey(t, user.id, keyOpts);
  return { userId: user.id, keyId: key.id, key: key.key };
}
