import { ApiError } from '../../src/common/api-error';
import { parseQueuedCompletion } from '../../src/queue/queued-request';
import type { Task } from '../../src/queue/task.types';
import { toStatusBody } from '../../src/queue/task-view';

const body = (extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'user', content: 'Hi' }],
  model: 'llama3.1',
  max_tokens: 10,
  ...extra,
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ApiError ? e.code : 'not-an-api-error';
  }
  return undefined;
}

describe('parseQueuedCompletion', () => {
  it('parses seed 000 bodies like the synchronous API, never streamed', () => {
    const q = parseQueuedCompletion(body({ stream: true }));
    expect(q.request).toMatchObject({ model: 'llama3.1', maxTokens: 10, temperature: 0.7, stream: false });
    expect(q.webhookUrl).toBeNull();
  });

  it('turns output_format "json" into a JSON response format', () => {
    expect(parseQueuedCompletion(body({ output_format: 'json' })).request.responseFormat).toEqual({
      type: 'json_object',
    });
    expect(parseQueuedCompletion(body({ output_format: 'default' })).request.responseFormat).toBeUndefined();
  });

  it('gives seed 000 errors: missing fields vs invalid request', () => {
    expect(codeOf(() => parseQueuedCompletion({ model: 'llama3.1', max_tokens: 10 }))).toBe('missing_fields');
    expect(codeOf(() => parseQueuedCompletion(body({ max_tokens: 'x' })))).toBe('invalid_request');
    expect(codeOf(() => parseQueuedCompletion(body({ output_format: 'xml' })))).toBe('invalid_request');
    expect(codeOf(() => parseQueuedCompletion(body({ webhook_url: 42 })))).toBe('invalid_request');
    expect(codeOf(() => parseQueuedCompletion('nope'))).toBe('invalid_request');
  });

  it('hashes the request so a retry matches and a different request does not', () => {
    const a = parseQueuedCompletion(body({ webhook_url: 'https://example.com/h' }));
    expect(parseQueuedCompletion(body({ webhook_url: 'https://example.com/h' })).hash()).toBe(a.hash());
    expect(parseQueuedCompletion(body({ webhook_url: 'https://example.com/other' })).hash()).not.toBe(
      a.hash(),
    );
    expect(parseQueuedCompletion(body({ max_tokens: 11 })).hash()).not.toBe(
      parseQueuedCompletion(body()).hash(),
    );
    // Worked out once per parsed request, and a 64-digit SHA-256.
    expect(a.hash()).toBe(a.hash());
    expect(a.hash()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('toStatusBody', () => {
  const base: Task = {
    id: '6f1c1a52-8a0b-4a49-9c55-0c3d1f1e2a10',
    userId: 'u',
    keyId: 'k',
    model: 'llama3.1',
    request: parseQueuedCompletion(body()).request,
    status: 'queued',
    result: null,
    error: null,
    usage: null,
    creditsReserved: 2000n,
    credits: null,
    reservationOpen: true,
    attempts: 0,
    hostName: null,
    webhookUrl: null,
    idempotencyKey: null,
    requestHash: null,
    createdAt: new Date('2026-01-01T00:00:00Z'),
    startedAt: null,
    finishedAt: null,
  };

  it('shows a queued task without result, error or usage', () => {
    expect(toStatusBody(base)).toEqual({
      success: true,
      task_id: base.id,
      status: 'queued',
      created_at: '2026-01-01T00:00:00.000Z',
      started_at: null,
      finished_at: null,
    });
  });

  it('shows the result, usage and credits of a completed task', () => {
    const done = toStatusBody({
      ...base,
      status: 'completed',
      result: 'Hello',
      usage: { input_tokens: 1, output_tokens: 2 },
      credits: 500n,
      startedAt: new Date('2026-01-01T00:00:01Z'),
      finishedAt: new Date('2026-01-01T00:00:02Z'),
    });
    expect(done).toMatchObject({
      status: 'completed',
      result: 'Hello',
      usage: { input_tokens: 1, output_tokens: 2 },
    });
    expect(done.credits).toBe(500);
    expect(done.finished_at).toBe('2026-01-01T00:00:02.000Z');
  });

  it('shows the error of a failed task and never a result', () => {
    const failed = toStatusBody({
      ...base,
      status: 'failed',
      error: 'Max attempts reached - no available hosts',
    });
    expect(failed).toMatchObject({ status: 'failed', error: 'Max attempts reached - no available hosts' });
    expect(failed).not.toHaveProperty('result');
    // A cancelled task's late answer is not shown as its result.
    expect(toStatusBody({ ...base, status: 'cancelled', result: 'late' })).not.toHaveProperty('result');
  });
});
