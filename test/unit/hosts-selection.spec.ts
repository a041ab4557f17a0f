import {
  applyCheckFailure,
  applyCheckSuccess,
  applyLiveFailure,
  applyLiveSuccess,
  isUsable,
  redactKey,
  servedModels,
} from '../../src/hosts/host-rules';
import { pickHost } from '../../src/hosts/host-selection';
import type { HostState } from '../../src/hosts/host.types';
import { hostState } from '../support/host-state';
import { normalizeBaseUrl, parseHostsEnv } from '../../src/hosts/hosts-env';
import { UpstreamError } from '../../src/providers/upstream-error';

const NOW = 1_000_000;

const host = (id: string, over: Partial<HostState> = {}): HostState => hostState(id, over);

const pick = (hosts: HostState[], exclude: string[] = [], model = 'm') =>
  pickHost(hosts, model, new Set(exclude), NOW)?.id;

describe('pickHost', () => {
  it('chooses the lowest in-flight / capacity, not the lowest in-flight', () => {
    const big = host('big', { maxConcurrency: 10, inFlight: 3 });
    const small = host('small', { maxConcurrency: 2, inFlight: 1 });
    expect(pick([small, big])).toBe('big');
  });

  it('prefers higher weight, then a warm model, then the least recently chosen', () => {
    expect(pick([host('a'), host('b', { weight: 5 })])).toBe('b');
    expect(pick([host('a'), host('b', { discovered: [{ name: 'm', warm: true }] })])).toBe('b');
    expect(pick([host('a', { lastPickedAt: 20 }), host('b', { lastPickedAt: 10 })])).toBe('b');
  });

  it('skips full, disabled, draining, unhealthy, excluded hosts and those without the model', () => {
    const candidates = [
      host('full', { inFlight: 4 }),
      host('off', { enabled: false }),
      host('drain', { draining: true }),
      host('sick', { status: 'unhealthy' }),
      host('tried'),
      host('other', { discovered: [{ name: 'x' }] }),
    ];
    expect(pick(candidates, ['tried'])).toBeUndefined();
    expect(pick([...candidates, host('ok')], ['tried'])).toBe('ok');
  });

  it('uses "unknown" hosts and hosts whose cooldown has expired, not those still cooling down', () => {
    expect(pick([host('new', { status: 'unknown' })])).toBe('new');
    expect(pick([host('cool', { status: 'cooldown', cooldownUntil: NOW + 1 })])).toBeUndefined();
    expect(pick([host('cool', { status: 'cooldown', cooldownUntil: NOW })])).toBe('cool');
  });

  it('configured models replace the discovered ones', () => {
    const h = host('a', { models: ['only'], discovered: [{ name: 'm' }] });
    expect(servedModels(h)).toEqual(['only']);
    expect(pick([h], [], 'm')).toBeUndefined();
    expect(pick([h], [], 'only')).toBe('a');
  });
});

describe('host health rules', () => {
  it('a healthy host turns unhealthy only after the threshold of failed checks; success heals it', () => {
    const h = host('a');
    applyCheckFailure(h, 'boom', 3, NOW);
    applyCheckFailure(h, 'boom', 3, NOW);
    expect(h.status).toBe('healthy');
    applyCheckFailure(h, 'boom', 3, NOW);
    expect(h.status).toBe('unhealthy');
    expect(isUsable(h, NOW)).toBe(false);
    applyCheckSuccess(h, [{ name: 'n', warm: true }], NOW);
    expect(h).toMatchObject({
      status: 'healthy',
      consecutiveFailures: 0,
      discovered: [{ name: 'n', warm: true }],
    });
  });

  it('a never-checked host is unhealthy at its first failed check', () => {
    const h = host('a', { status: 'unknown' });
    applyCheckFailure(h, 'refused', 3, NOW);
    expect(h.status).toBe('unhealthy');
  });

  it('live traffic: connect error -> unhealthy at once; 429/503 -> cooldown; 404 drops the model', () => {
    const limits = { threshold: 3, cooldownMs: 500 };
    const a = host('a');
    applyLiveFailure(a, new UpstreamError('connect', 'ECONNREFUSED'), 'm', limits, NOW);
    expect(a.status).toBe('unhealthy');

    const b = host('b');
    applyLiveFailure(b, new UpstreamError('status', 'HTTP 503', 503), 'm', limits, NOW);
    expect(b).toMatchObject({ status: 'cooldown', cooldownUntil: NOW + 500 });
    applyCheckSuccess(b, b.discovered, NOW + 100);
    expect(b.status).toBe('cooldown');
    applyLiveSuccess(b, NOW + 500);
    expect(b.status).toBe('healthy');

    const c = host('c');
    applyLiveFailure(c, new UpstreamError('status', 'HTTP 404', 404), 'm', limits, NOW);
    expect(c.discovered).toEqual([]);
    expect(c.status).toBe('healthy');

    const d = host('d');
    for (let i = 0; i < 3; i++)
      applyLiveFailure(d, new UpstreamError('status', 'HTTP 500', 500), 'm', limits, NOW);
    expect(d.status).toBe('unhealthy');
  });

  it('redacts a host key from messages', () => {
    expect(redactKey('Incorrect API key provided: sk-secret-1.', 'sk-secret-1')).toBe(
      'Incorrect API key provided: [redacted].',
    );
    expect(redactKey('no key here', null)).toBe('no key here');
  });
});

describe('HOSTS bootstrap parsing', () => {
  it('reads provider=url pairs and normalizes the urls', () => {
    expect(parseHostsEnv('ollama=http://127.0.0.1:11434/, openai=http://10.0.0.5:8000/v1')).toEqual([
      { provider: 'ollama', baseUrl: 'http://127.0.0.1:11434' },
      { provider: 'openai', baseUrl: 'http://10.0.0.5:8000/v1' },
    ]);
    expect(parseHostsEnv('')).toEqual([]);
  });

  it('rejects unknown providers and non-http urls', () => {
    expect(() => parseHostsEnv('vllm=http://x:1')).toThrow(/ollama=<url> or openai=<url>/);
    expect(() => normalizeBaseUrl('ftp://x')).toThrow(/http/);
    expect(() => normalizeBaseUrl('http://user:secret@gpu:8000')).toThrow(/api_key/);
    expect(() => parseHostsEnv('ollama')).toThrow();
  });
});
