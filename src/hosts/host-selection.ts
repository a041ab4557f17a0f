import { isUsable, isWarm, serves } from './host-rules';
import type { HostState } from './host.types';

/**
 * Chooses the host for a request, in memory: usable hosts that serve the model and have a free slot
 * (in-flight < max_concurrency), not tried yet, that `accept` takes (when given); then lowest in-flight / capacity, higher weight,
 * model warm, least recently chosen.
 */
export function pickHost(
  hosts: Iterable<HostState>,
  model: string,
  exclude: ReadonlySet<string>,
  now: number,
  accept?: (host: HostState) => boolean,
): HostState | undefined {
  let best: HostState | undefined;
  for (const host of hosts) {
    if (exclude.has(host.id) || !isUsable(host, now) || host.inFlight >= host.maxConcurrency) continue;
    if (!serves(host, model) || (accept && !accept(host))) continue;
    if (!best || compare(host, best, model) < 0) best = host;
  }
  return best;
}

function compare(a: HostState, b: HostState, model: string): number {
  const load = a.inFlight / a.maxConcurrency - b.inFlight / b.maxConcurrency;
  if (load !== 0) return load;
  if (a.weight !== b.weight) return b.weight - a.weight;
  const warm = Number(isWarm(b, model)) - Number(isWarm(a, model));
  if (warm !== 0) return warm;
  return a.lastPickedAt - b.lastPickedAt;
}
