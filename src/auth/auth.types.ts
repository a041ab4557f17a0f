export type Role = 'user' | 'admin';
export const ROLES: readonly Role[] = ['user', 'admin'];

/** A user as the rest of the platform sees it. */
export interface UserRecord {
  id: string;
  name: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A key as the rest of the platform sees it: never the secret, never its hash. */
export interface ApiKeyRecord {
  id: string;
  userId: string;
  /** `sk-le-<public id>`: identifies the key in lists; useless without the secret. */
  prefix: string;
  name: string | null;
  ipWhitelist: string[];
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** Written in batches, so up to a few seconds behind. */
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** A new key: its record plus the plaintext, which exists only in this value. */
export interface IssuedApiKey {
  record: ApiKeyRecord;
  key: string;
}

export interface CreateUserInput {
  name: string;
  email?: string | null;
  role?: Role;
}

export interface UpdateUserInput {
  name?: string;
  email?: string | null;
  role?: Role;
  disabled?: boolean;
}

/** Settings of a key; on update, `undefined` keeps a value and `null` clears it. */
export interface KeySettings {
  name?: string | null;
  ipWhitelist?: string[];
  models?: string[];
  rpm?: number | null;
  tpm?: number | null;
  expiresAt?: Date | null;
}
