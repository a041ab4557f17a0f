import type { ProviderKind } from '../providers/provider.types';

export interface BootstrapHost {
  provider: ProviderKind;
  baseUrl: string;
}

/** Parses HOSTS (`ollama=http://127.0.0.1:11434,openai=http://10.0.0.5:8000`); a bad entry throws. */
export function parseHostsEnv(value: string): BootstrapHost[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const eq = entry.indexOf('=');
      const provider = entry.slice(0, eq).trim();
      const baseUrl = normalizeBaseUrl(entry.slice(eq + 1).trim());
      if (eq < 0 || (provider !== 'ollama' && provider !== 'openai'))
        throw new Error(`HOSTS entry "${entry}" must be ollama=<url> or openai=<url>`);
      return { provider, baseUrl };
    });
}

/** http(s) URL without a trailing slash; throws on anything else. */
export function normalizeBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`"${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`"${value}" is not an http(s) URL`);
  // Credentials in the URL would show in reads and logs; hosts get theirs through api_key.
  if (url.username || url.password) throw new Error('credentials belong in api_key, not in the URL');
  return url.toString().replace(/\/+$/, '');
}
