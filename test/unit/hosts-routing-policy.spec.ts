import type { CompletionRequest } from '../../src/completions/completion.types';
import type { HostState } from '../../src/hosts/host.types';
import { hostState } from '../support/host-state';
import { affinityKey, conversationKey, HostRouter, isCold, LoadView } from '../../src/hosts/routing-policy';

const NOW = 1_000_000;

const host = (id: string, over: Partial<HostState> = {}): HostState => hostState(id, over, true);

/** Load as another replica adds it: `others` per host id. */
function view(others: Record<string, number> = {}): LoadView {
  return {
    clusterInFlight: (h) => h.inFlight + (others[h.id] ?? 0),
    hasRoom: (h) => h.inFlight + (others[h.id] ?? 0) < h.maxConcurrency,
  };
}

const chat = (messages: CompletionRequest['messages'], model = 'm'): CompletionRequest => ({
  kind: 'chat',
  model,
  messages,
  maxTokens: 10,
  stream: false,
});
const turn1 = chat([
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Plan a trip to Lyon' },
]);
const turn2 = chat([
  ...turn1.messages,
  { role: 'assistant', content: 'Day 1: …' },
  { role: 'user', content: 'And day 2?' },
]);

const choose = (router: HostRouter, hosts: HostState[], affinity?: number) =>
  router.choose(hosts, { model: 'm', exclude: new Set(), now: NOW, affinity })?.id;

describe('conversation keys', () => {
  it('every turn of a conversation has the same key; the lookup is made for continuations only', () => {
    expect(conversationKey(turn2)).toBe(conversationKey(turn1));
    expect(affinityKey(turn1)).toBeUndefined();
    expect(affinityKey(turn2)).toBe(conversationKey(turn1));
    const other = chat([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Plan a trip to Nice' },
    ]);
    expect(conversationKey(other)).not.toBe(conversationKey(turn1));
    expect(conversationKey({ ...turn1, model: 'other' })).not.toBe(conversationKey(turn1));
    expect(conversationKey({ ...turn1, kind: 'completion', prompt: 'x' })).toBeUndefined();
  });
});

describe('HostRouter (ROUTING_POLICY)', () => {
  it('affinity: the least queued work across replicas, the engine queue included', () => {
    const router = new HostRouter('affinity', view({ a: 2 }));
    const a = host('a', { inFlight: 0 });
    const b = host('b', { inFlight: 1 });
    // a runs 2 from another replica: b (1) is less loaded.
    expect(choose(router, [a, b])).toBe('b');
    // b's engine reports 3 waiting requests (others' traffic): a now has less queued work.
    b.signals = { source: 'vllm-metrics', readAt: '', waiting: 3 };
    expect(choose(router, [a, b])).toBe('a');
  });

  it('affinity: a host with the model loaded beats an idler one without it', () => {
    const router = new HostRouter('affinity', view());
    const cold = host('cold', {
      signals: { source: 'ollama-ps', readAt: '', loaded: [{ name: 'x', expiresAt: null, sizeVram: null }] },
    });
    const warm = host('warm', { inFlight: 3 });
    expect(isCold(cold, 'm')).toBe(true);
    expect(isCold(warm, 'm')).toBe(false);
    expect(choose(router, [cold, warm])).toBe('warm');
    // Full, the warm host is skipped: the cold one still serves.
    warm.inFlight = 4;
    expect(choose(router, [cold, warm])).toBe('cold');
  });

  it("affinity: the second turn goes to the first turn's host while within the imbalance bound", () => {
    const router = new HostRouter('affinity', view());
    const a = host('a');
    const b = host('b', { weight: 2 });
    expect(choose(router, [a, b], affinityKey(turn1))).toBe('b');
    router.served(conversationKey(turn1), a.id, NOW); // say the first turn went to a
    expect(choose(router, [a, b], affinityKey(turn2))).toBe('a');
    a.inFlight = 2; // 0.5 above b: still within the bound
    expect(choose(router, [a, b], affinityKey(turn2))).toBe('a');
    a.inFlight = 3; // 0.75 above: beyond it
    expect(choose(router, [a, b], affinityKey(turn2))).toBe('b');
    a.inFlight = 1;
    b.inFlight = 4; // b full: a, whatever its load
    expect(choose(router, [a, b], affinityKey(turn2))).toBe('a');
  });

  it('least-loaded: the old order (load, weight, warm, least recently chosen) on cluster counts', () => {
    const router = new HostRouter('least-loaded', view({ a: 3 }));
    const a = host('a', { weight: 5 });
    const b = host('b', { inFlight: 1 });
    expect(choose(router, [a, b])).toBe('b');
    const c = host('c', { inFlight: 1, weight: 3 });
    expect(choose(router, [a, b, c])).toBe('c');
  });

  it('round-robin and random spread over free hosts only', () => {
    const rr = new HostRouter('round-robin', view());
    const hosts = [host('a'), host('b'), host('c', { inFlight: 4 })];
    expect([1, 2, 3, 4].map(() => choose(rr, hosts))).toEqual(['a', 'b', 'a', 'b']);
    const random = new HostRouter('random', view());
    const seen = new Set(Array.from({ length: 50 }, () => choose(random, hosts)));
    expect(seen).toEqual(new Set(['a', 'b']));
  });
});

describe('HostRouter: waiting for a loaded model', () => {
  it('affinity: with coldOk false a cold host is not chosen while a warm one is only full', () => {
    const router = new HostRouter('affinity', view());
    const warm = host('warm', { inFlight: 4 });
    const cold = host('cold', {
      signals: { source: 'ollama-ps', readAt: '', loaded: [{ name: 'x', expiresAt: null, sizeVram: null }] },
    });
    const query = { model: 'm', exclude: new Set<string>(), now: NOW };
    expect(router.choose([warm, cold], { ...query, coldOk: false })).toBeUndefined();
    expect(router.choose([warm, cold], { ...query, coldOk: true })?.id).toBe('cold');
    // No host has it loaded: loading somewhere is the only way.
    warm.discovered = [{ name: 'm', warm: false }];
    expect(router.choose([warm, cold], { ...query, coldOk: false })?.id).toBe('cold');
  });
});
