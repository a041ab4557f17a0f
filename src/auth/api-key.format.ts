import { createHash } from 'node:crypto';

/** `sk-le-<public id>-<secret>`: the public id finds the row, only sha256(secret) is stored. */
export const KEY_PREFIX = 'sk-le-';
export const PUBLIC_ID_LENGTH = 12;
/** 32 random bytes in base62 never need more than 43 digits; shorter values are zero-padded. */
export const SECRET_LENGTH = 43;
export const SECRET_BYTES = 32;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PATTERN = new RegExp(
  `^${KEY_PREFIX}([0-9A-Za-z]{${PUBLIC_ID_LENGTH}})-([0-9A-Za-z]{${SECRET_LENGTH}})$`,
);

export interface ParsedKey {
  publicId: string;
  secret: string;
}

/** Big-endian bytes as a base62 number, left-padded to `length` digits. */
export function base62(bytes: Uint8Array, length: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  if (out.length > length) throw new Error(`base62: ${bytes.length} bytes do not fit in ${length} digits`);
  return out.padStart(length, '0');
}

export function formatKey(publicId: string, secret: string): string {
  return `${KEY_PREFIX}${publicId}-${secret}`;
}

/** The parts of a key in the issued format, or null for anything else. */
export function parseKey(raw: string): ParsedKey | null {
  const match = KEY_PATTERN.exec(raw);
  return match ? { publicId: match[1] as string, secret: match[2] as string } : null;
}

/** What the database stores for a secret (hex sha256). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Cache key for a verified key: a digest of the whole key, so the cache never holds plaintext. */
export function keyDigest(raw: string): string {
  return createHash('sha256').update(raw).digest('base64url');
}

/** A secret made by a person or a placeholder ("aaaa…", "0000…") rather than by the generator. */
export function looksWeak(secret: string): boolean {
  return new Set(secret).size < 16;
}

/** Why a configured key (ADMIN_API_KEY) is unacceptable, or null when it is fine. */
export function adminKeyProblem(key: string): string | null {
  const parsed = parseKey(key);
  if (!parsed) {
    return (
      `must look like a key this platform issues (${KEY_PREFIX}<${PUBLIC_ID_LENGTH} base62>-<${SECRET_LENGTH} base62>); ` +
      'or leave it unset and create an admin key with `npm run cli -- create-admin --name NAME`'
    );
  }
  if (looksWeak(parsed.secret)) {
    return 'the secret part is too weak (too few distinct characters); use a random key';
  }
  return null;
}
