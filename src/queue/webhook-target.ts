import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** True for a public unicast address; loopback, private, link-local, CGNAT, multicast… are not. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === 'unicast';
}

export class WebhookTargetError extends Error {
  override readonly name = 'WebhookTargetError';
}

/** Parses a webhook URL: http(s) only, no credentials. Throws WebhookTargetError. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('webhook_url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookTargetError('webhook_url must be http or https');
  }
  if (url.username || url.password) throw new WebhookTargetError('webhook_url must not carry credentials');
  return url;
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Resolves the URL's host and refuses it when any address is not public (unless allowed).
 * Used at submit (400) and again before each delivery.
 */
export async function assertWebhookTarget(raw: string, allowPrivate: boolean): Promise<URL> {
  const url = parseWebhookUrl(raw);
  if (allowPrivate) return url;
  const host = hostOf(url);
  const addresses = isIP(host) ? [host] : await resolveAll(host);
  if (addresses.length === 0 || !addresses.every(isPublicAddress)) {
    throw new WebhookTargetError('webhook_url must not point to a loopback or private address');
  }
  return url;
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (error, addresses) => {
      if (error) reject(new WebhookTargetError(`webhook_url host does not resolve: ${host}`));
      else resolve(addresses.map((a) => a.address));
    }),
  );
}

/**
 * A `lookup` for the delivery socket that refuses non-public answers, so a DNS answer that
 * changes between the check and the connection (rebinding) can't reach a private address.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused || addresses.length === 0) {
      return callback(new WebhookTargetError(`refused webhook address for ${hostname}`), '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
};
