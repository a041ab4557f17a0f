import { combineRounds, type Figures, type ScenarioResult } from './figures';
import { PEER_NAMES, type Peer, type PeerName } from './peers';

/** The peers in front of one host; a peer that could not start carries the reason instead. */
export interface PeerSet {
  peers: Peer[];
  unavailable: Partial<Record<PeerName, string>>;
}

/**
 * Runs `measure` for every peer, `rounds` times, alternating a, b, c inside each round so that
 * machine noise hits all three alike. A peer that fails is reported as unavailable with the error.
 */
export async function alternate(
  set: PeerSet,
  rounds: number,
  measure: (peer: Peer) => Promise<Figures>,
  log: (line: string) => void,
): Promise<ScenarioResult['peers']> {
  const collected = new Map<PeerName, Figures[]>();
  const failed: Partial<Record<PeerName, string>> = { ...set.unavailable };
  for (let round = 0; round < rounds; round++) {
    for (const peer of set.peers) {
      if (failed[peer.name]) continue;
      try {
        const figures = await measure(peer);
        collected.set(peer.name, [...(collected.get(peer.name) ?? []), figures]);
        log(`    ${peer.name.padEnd(8)} round ${round + 1}: ${summary(figures)}`);
      } catch (error) {
        failed[peer.name] = (error as Error).message.split('\n')[0] ?? 'failed';
        log(`    ${peer.name.padEnd(8)} failed: ${failed[peer.name]}`);
      }
    }
  }
  const out: ScenarioResult['peers'] = {};
  for (const name of PEER_NAMES) {
    const measured = collected.get(name);
    if (measured) out[name] = combineRounds(measured);
    else if (failed[name]) out[name] = { unavailable: failed[name] as string };
  }
  return out;
}

function summary(figures: Figures): string {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(' ');
}
