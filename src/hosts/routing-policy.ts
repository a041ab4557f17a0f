import type { CompletionRequest } from '../completions/completion.types';
import type { RoutingPolicyName } from '../config/app-config';
import { isUsable, isWarm, serves } from './host-rules';
import type { HostState } from './host.types';

/** What the policy reads about load (ClusterSlots: cluster-wide counts, or this process's). */
export interface LoadView {
  clusterInFlight(host: HostState): number;
  hasRoom(host: HostState): boolean;
}

export interface RouteQuery {
  model: string;
  exclude: ReadonlySet<string>;
  now: number;
  accept?: (host: HostState) => boolean;
  /** The conversation's prefix key (affinityKey), for multi-turn chats. */
  affinity?: number;
  /**
   * Affinity: false while a host with the model loaded exists but is full — the request waits for
   * it rather than loading the model on another host (seconds, and it evicts another model); the
   * dispatcher sets it once the request has waited COLD_WAIT_MS.
   */
  coldOk?: boolean;
}

/** A host known not to have the model in GPU memory counts as this much extra load (a load takes seconds). */
const COLD_PENALTY = 1;
/** A host whose KV cache is nearly full (engine report) counts as this much extra load. */
const KV_FULL = 0.95;
const KV_PENALTY = 0.25;
/**
 * Bounded imbalance: the host that served the conversation's prefix is kept while its score is at
 * most this much above the best host's (0.5 = half its capacity more queued work); beyond that the
 * prefix cache is not worth the wait and the least-loaded host is chosen.
 */
const AFFINITY_SLACK = 0.5;
/** Conversations remembered per process (least recently used forgotten first) and for how long. */
const AFFINITY_ENTRIES = 50_000;
const AFFINITY_TTL_MS = 30 * 60_000;
/** Characters of each leading message hashed: enough to tell conversations apart, bounded cost. */
const KEY_CHARS = 1024;

/**
 * The dispatcher's choice among free hosts (ROUTING_POLICY):
 * - `affinity` (default): the least score = (requests running on the host across replicas + the
 *   engine's waiting queue) / max_concurrency, + 1 when the model is known not to be loaded (Ollama
 *   /api/ps), + 0.25 when its KV cache is ≥ 95 % full; for a multi-turn chat, the host that served
 *   the same conversation (system messages and first user message) last, while its score is
 *   within AFFINITY_SLACK of the best; ties by weight, then least recently chosen.
 * - `least-loaded`: the old choice (in-flight / capacity, weight, warm, least recently chosen), on
 *   cluster-wide counts when slots are shared.
 * - `round-robin`, `random`: among free hosts, as most gateways do (for comparison).
 */
export class HostRouter {
  private rr = 0;
  private readonly memory = new Map<number, { hostId: string; at: number }>();

  constructor(
    readonly policy: RoutingPolicyName,
    private readonly load: LoadView,
  ) {}

  choose(hosts: Iterable<HostState>, query: RouteQuery): HostState | undefined {
    if (this.policy === 'round-robin' || this.policy === 'random') return this.spread(hosts, query);
    if (this.policy === 'least-loaded') return this.leastLoaded(hosts, query);
    return this.scored(hosts, query);
  }

  /**
   * The conversation `key` was served by the host `hostId` (affinity only); true when that is news
   * (first time, or another host than last time), for sharing it with other replicas.
   */
  served(key: number | undefined, hostId: string, now: number): boolean {
    if (key === undefined || this.policy !== 'affinity') return false;
    const known = this.memory.get(key);
    if (known) this.memory.delete(key);
    else if (this.memory.size >= AFFINITY_ENTRIES) {
      const oldest = this.memory.keys().next();
      if (!oldest.done) this.memory.delete(oldest.value);
    }
    this.memory.set(key, { hostId, at: now });
    return known?.hostId !== hostId;
  }

  /** Whether this process remembers where the conversation `key` was served (and not too long ago). */
  knows(key: number, now: number): boolean {
    const known = this.memory.get(key);
    return known !== undefined && now - known.at < AFFINITY_TTL_MS;
  }

  private scored(hosts: Iterable<HostState>, query: RouteQuery): HostState | undefined {
    const remembered = query.affinity === undefined ? undefined : this.memory.get(query.affinity);
    const affineId =
      remembered && query.now - remembered.at < AFFINITY_TTL_MS ? remembered.hostId : undefined;
    let best: HostState | undefined;
    let bestScore = Infinity;
    let affine: HostState | undefined;
    let affineScore = Infinity;
    let warmBusy = false;
    for (const host of hosts) {
      if (!this.eligible(host, query)) {
        if (!warmBusy && query.coldOk === false && this.busyWarm(host, query)) warmBusy = true;
        continue;
      }
      const score = this.score(host, query.model);
      if (host.id === affineId) {
        affine = host;
        affineScore = score;
      }
      if (!best || score < bestScore || (score === bestScore && tieBreak(host, best, query.model) < 0)) {
        best = host;
        bestScore = score;
      }
    }
    if (affine && affineScore <= bestScore + AFFINITY_SLACK) return affine;
    if (best && warmBusy && isCold(best, query.model)) return undefined;
    return best;
  }

  /** A host that serves the model with it loaded, and only lacks a free slot. */
  private busyWarm(host: HostState, query: RouteQuery): boolean {
    if (query.exclude.has(host.id) || !isUsable(host, query.now) || this.load.hasRoom(host)) return false;
    return serves(host, query.model) && (!query.accept || query.accept(host)) && !isCold(host, query.model);
  }

  private score(host: HostState, model: string): number {
    const waiting = host.signals?.waiting ?? 0;
    let score = (this.load.clusterInFlight(host) + waiting) / host.maxConcurrency;
    if (isCold(host, model)) score += COLD_PENALTY;
    if ((host.signals?.kvCacheUsage ?? 0) >= KV_FULL) score += KV_PENALTY;
    return score;
  }

  private leastLoaded(hosts: Iterable<HostState>, query: RouteQuery): HostState | undefined {
    let best: HostState | undefined;
    let bestLoad = Infinity;
    for (const host of hosts) {
      if (!this.eligible(host, query)) continue;
      const load = this.load.clusterInFlight(host) / host.maxConcurrency;
      if (!best || load < bestLoad || (load === bestLoad && tieBreak(host, best, query.model) < 0)) {
        best = host;
        bestLoad = load;
      }
    }
    return best;
  }

  private spread(hosts: Iterable<HostState>, query: RouteQuery): HostState | undefined {
    const free: HostState[] = [];
    for (const host of hosts) if (this.eligible(host, query)) free.push(host);
    if (free.length === 0) return undefined;
    const index =
      this.policy === 'random' ? Math.floor(Math.random() * free.length) : this.rr++ % free.length;
    return free[index];
  }

  private eligible(host: HostState, query: RouteQuery): boolean {
    if (query.exclude.has(host.id) || !isUsable(host, query.now) || !this.load.hasRoom(host)) return false;
    return serves(host, query.model) && (!query.accept || query.accept(host));
  }
}

/** Weight (higher first), model warm, then least recently chosen: the old choice's tie-breaks. */
function tieBreak(a: HostState, b: HostState, model: string): number {
  if (a.weight !== b.weight) return b.weight - a.weight;
  const warm = Number(isWarm(b, model)) - Number(isWarm(a, model));
  if (warm !== 0) return warm;
  return a.lastPickedAt - b.lastPickedAt;
}

/** The engine said the model is not in GPU memory (Ollama /api/ps, or the listing's warm flag). */
export function isCold(host: HostState, model: string): boolean {
  const loaded = host.signals?.loaded;
  if (loaded) return !loaded.some((m) => m.name === model);
  return host.discovered.some((m) => m.name === model && m.warm === false);
}

/**
 * The conversation a multi-turn chat continues: a 32-bit FNV-1a hash of the model, the system
 * messages and the first user message (each cut to KEY_CHARS). Undefined for a first turn (no
 * assistant message yet: nothing is cached for it anywhere) and for text completions.
 */
export function affinityKey(request: CompletionRequest): number | undefined {
  if (request.kind !== 'chat') return undefined;
  let continues = false;
  for (const m of request.messages) if (m.role === 'assistant') continues = true;
  if (!continues) return undefined;
  return conversationKey(request);
}

/** The same hash for any turn, the first included (where a first turn is remembered). */
export function conversationKey(request: CompletionRequest): number | undefined {
  if (request.kind !== 'chat') return undefined;
  let hash = fnv(0x811c9dc5, request.model);
  let user = false;
  for (const m of request.messages) {
    if (m.role === 'system') hash = fnv(fnv(hash, '\u0000s'), m.content);
    else if (m.role === 'user') {
      hash = fnv(fnv(hash, '\u0000u'), m.content);
      user = true;
      break;
    }
  }
  return user ? hash : undefined;
}

function fnv(seed: number, text: string): number {
  let hash = seed;
  const n = Math.min(text.length, KEY_CHARS);
  for (let i = 0; i < n; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
