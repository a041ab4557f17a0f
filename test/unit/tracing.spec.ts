import { traceCompletion, tracingEnabled } from '../../src/observability/tracing';

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('every request gets the same frozen no-op trace, which hands back what it is given', () => {
    const signal = new AbortController().signal;
    const a = traceCompletion({ model: 'm', kind: 'chat', maxTokens: 4 }, 'openai', signal);
    const b = traceCompletion({ model: 'other' }, 'native', signal, 'embeddings');
    expect(tracingEnabled()).toBe(false);
    // One shared object: nothing is allocated per request.
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.traceId).toBeUndefined();
    const holding = Promise.resolve('held');
    const dispatching = Promise.resolve({ host: { id: 'h', name: 'gpu' } });
    expect(a.reserve(holding)).toBe(holding);
    expect(a.hostCall(dispatching)).toBe(dispatching);
    expect(a.firstToken()).toBeUndefined();
    expect(a.settled(null, { inputTokens: 1, outputTokens: 2 }, 3n, 'ok')).toBeUndefined();
  });
});
