/**
 * How big a credit lease gets (src/billing/credit-leases.ts): the whole rule, in one place. The
 * lease store only applies it under the user's account lock (leases.repository.ts).
 */

/** A lease grows by at least this many times the request that asked, or doubles what it was granted. */
export const GROW_REQUESTS = 8n;

/** What a lease asks the database for when it cannot admit a request. */
export interface LeaseAsk {
  /** The least that lets the request in: refused below it. */
  min: bigint;
  /** What it would like, so that the next requests need no round trip. */
  want: bigint;
}

/**
 * The ask of a lease that cannot admit a request of `credits` (`unheld` of its credits are free)
 * and was granted `granted` in all so far: at least the shortfall, and room for GROW_REQUESTS more
 * such requests or as much again as it was ever granted. Doubling the grants (not what is left
 * after the charges) keeps a steadily used lease to a logarithmic number of takes.
 */
export function leaseAsk(credits: bigint, unheld: bigint, granted: bigint): LeaseAsk {
  const shortfall = credits - unheld;
  if (shortfall <= 0n) throw new RangeError('the lease already covers the request');
  const growth = GROW_REQUESTS * credits > granted ? GROW_REQUESTS * credits : granted;
  return { min: shortfall, want: shortfall + growth };
}

/**
 * What is granted of an ask when the user has `free` credits outside every lease: null (refused)
 * when that cannot cover the minimum; otherwise the wish, but never more than the minimum plus
 * half of the free credit beyond it, so another process of the same user still finds credit.
 */
export function leaseGrant(ask: LeaseAsk, free: bigint): bigint | null {
  if (free < ask.min) return null;
  const want = ask.want > ask.min ? ask.want : ask.min;
  const cap = ask.min + (free - ask.min) / 2n;
  return want < cap ? want : cap;
}

/** How often running requests' leases are renewed: a quarter of the time the sweep waits. */
export function leaseRenewIntervalMs(holdMs: number): number {
  return Math.max(250, Math.floor(holdMs / 4));
}
