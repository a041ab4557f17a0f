import ipaddr from 'ipaddr.js';

export type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/** Tests whether a client address is allowed (null: the address is unknown). */
export type IpMatcher = (address: Address | null) => boolean;

/**
 * Parses one address strictly (dotted-quad IPv4 or IPv6, no "10.1" shorthands); IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) becomes its IPv4 form so both spellings compare equal. Null when invalid.
 */
export function parseAddress(text: string): Address | null {
  const value = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(value)) return ipaddr.IPv4.parse(value);
  if (!ipaddr.IPv6.isValid(value)) return null;
  const v6 = ipaddr.IPv6.parse(value);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** An exact address (as a /32 or /128) or a CIDR range; null when invalid. */
export function parseRange(text: string): Range | null {
  const value = text.trim();
  const slash = value.indexOf('/');
  if (slash < 0) {
    const address = parseAddress(value);
    return address ? [address, address.kind() === 'ipv4' ? 32 : 128] : null;
  }
  const prefixText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const base = value.slice(0, slash);
  if (ipaddr.IPv4.isValidFourPartDecimal(base))
    return prefix <= 32 ? [ipaddr.IPv4.parse(base), prefix] : null;
  if (!ipaddr.IPv6.isValid(base) || prefix > 128) return null;
  const v6 = ipaddr.IPv6.parse(base);
  // ::ffff:10.0.0.0/104 is the IPv4 range 10.0.0.0/8.
  if (v6.isIPv4MappedAddress() && prefix >= 96) return [v6.toIPv4Address(), prefix - 96];
  return [v6, prefix];
}

export function isValidRange(text: string): boolean {
  return parseRange(text) !== null;
}

function matches(address: Address, [base, prefix]: Range): boolean {
  if (address.kind() === base.kind()) return address.match(base, prefix);
  // An IPv4 client against an IPv6 range (e.g. ::/0): compare in the IPv4-mapped space.
  if (address.kind() === 'ipv4') return (address as ipaddr.IPv4).toIPv4MappedAddress().match(base, prefix);
  return false;
}

/** A matcher for a list of addresses / ranges (TRUST_PROXY); an empty list matches nothing. */
export function compileRanges(entries: readonly string[]): IpMatcher {
  const ranges = entries.map((entry) => {
    const range = parseRange(entry);
    if (!range) throw new Error(`invalid IP address or CIDR range: ${entry}`);
    return range;
  });
  return (address) => address !== null && ranges.some((range) => matches(address, range));
}

/** A matcher for a key's IP whitelist; an empty list allows every address. */
export function compileWhitelist(entries: readonly string[]): IpMatcher {
  return entries.length === 0 ? () => true : compileRanges(entries);
}

/**
 * The client's address. The socket peer (parsed, and whether it is a trusted proxy) is the client
 * unless it is a trusted proxy: then X-Forwarded-For is read right to left, skipping trusted
 * proxies, and the first other address is the client. From an untrusted peer the header is
 * ignored (anyone can write it). ClientIpResolver reads a connection's peer once per socket.
 */
export function clientBehind(
  peer: Address | null,
  peerTrusted: boolean,
  forwardedFor: string | string[] | undefined,
  trusted: IpMatcher,
): Address | null {
  let client = peer;
  if (!client || !peerTrusted || forwardedFor === undefined) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseAddress(hops[i] as string);
    // Garbage in the chain: stop at the last address we could trust to have written it.
    if (!hop) return client;
    client = hop;
    if (!trusted(hop)) return hop;
  }
  return client;
}

/** Whether every address of `inner` (address or CIDR) lies in one of the `outer` ranges. */
export function rangeWithin(inner: string, outer: string[]): boolean {
  const range = parseRange(inner);
  if (!range) return false;
  const [address, prefix] = range;
  return outer.some((text) => {
    const container = parseRange(text);
    return (
      container !== null &&
      container[0].kind() === address.kind() &&
      prefix >= container[1] &&
      address.match(container[0] as never, container[1])
    );
  });
}
