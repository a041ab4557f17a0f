import { extractApiKey } from '../../src/auth/api-key.header';
import {
  adminKeyProblem,
  base62,
  formatKey,
  hashSecret,
  looksWeak,
  parseKey,
  SECRET_LENGTH,
} from '../../src/auth/api-key.format';
import { validateEnv } from '../../src/config/env.schema';

describe('API key format', () => {
  it('encodes 32 bytes in 43 base62 digits, padded, and round-trips through parseKey', () => {
    expect(base62(Buffer.alloc(32, 0xff), SECRET_LENGTH)).toHaveLength(43);
    expect(base62(Buffer.from([1]), 4)).toBe('0001');
    expect(base62(Buffer.from([62]), 2)).toBe('10');
    const key = formatKey('AbCdEf012345', 'x'.repeat(43));
    expect(parseKey(key)).toEqual({ publicId: 'AbCdEf012345', secret: 'x'.repeat(43) });
  });

  it('rejects anything not in the issued shape', () => {
    for (const bad of [
      'sk-le-short-secret',
      `sk-AbCdEf012345-${'x'.repeat(43)}`,
      `sk-le-AbCdEf012345-${'x'.repeat(42)}`,
    ]) {
      expect(parseKey(bad)).toBeNull();
    }
  });

  it('hashes with sha256 (hex)', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('calls a low-variety secret weak', () => {
    expect(looksWeak('a'.repeat(43))).toBe(true);
    expect(looksWeak(base62(Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), 43))).toBe(false);
  });
});

describe('ADMIN_API_KEY and TRUST_PROXY checks (at start, with the environment)', () => {
  const strong = `sk-le-AbCdEf012345-${base62(Buffer.from('9f'.repeat(32), 'hex'), 43)}`;

  it('names ADMIN_API_KEY for a key of the wrong shape or a weak one', () => {
    expect(adminKeyProblem(strong)).toBeNull();
    expect(() => validateEnv({ ADMIN_API_KEY: 'changeme' })).toThrow(
      /^Invalid configuration: ADMIN_API_KEY: must look like a key this platform issues/,
    );
    expect(() => validateEnv({ ADMIN_API_KEY: `sk-le-AbCdEf012345-${'0'.repeat(43)}` })).toThrow(
      /^Invalid configuration: ADMIN_API_KEY: .*too weak/,
    );
    expect(() => validateEnv({ ADMIN_API_KEY: strong })).not.toThrow();
    expect(() => validateEnv({ ADMIN_API_KEY: '' })).not.toThrow();
  });

  it('names TRUST_PROXY for an entry that is not an address or range', () => {
    expect(() => validateEnv({ TRUST_PROXY: '10.0.0.0/8, proxy.local' })).toThrow(
      /^Invalid configuration: TRUST_PROXY: proxy.local is not an IP address or CIDR range/,
    );
    expect(() => validateEnv({ TRUST_PROXY: '10.0.0.0/8, ::1' })).not.toThrow();
  });
});

describe('key headers (CONTRACT §1 order)', () => {
  it('Bearer, then bare Authorization, then X-API-Key', () => {
    expect(extractApiKey({ authorization: 'Bearer k1', 'x-api-key': 'k3' })).toBe('k1');
    expect(extractApiKey({ authorization: 'bearer   k1 ' })).toBe('k1');
    expect(extractApiKey({ authorization: 'k2', 'x-api-key': 'k3' })).toBe('k2');
    expect(extractApiKey({ 'x-api-key': 'k3' })).toBe('k3');
    expect(extractApiKey({ authorization: 'Bearer ', 'x-api-key': 'k3' })).toBe('k3');
    expect(extractApiKey({})).toBeNull();
    expect(extractApiKey({ authorization: '  ' })).toBeNull();
  });
});
