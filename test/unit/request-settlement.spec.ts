import type { Principal } from '../../src/auth/principal';
import type { HoldsService } from '../../src/billing/holds.service';
import { SettleTracker } from '../../src/billing/settle-tracker';
import { type RunContext, Settlements } from '../../src/completions/request-settlement';
import type { UsageRecordService } from '../../src/completions/usage-record.service';
import { traceCompletion } from '../../src/observability/tracing';
import type { RateLimitService } from '../../src/ratelimit/rate-limit.service';

/** The settle step with its collaborators recording what they were asked (no database here). */
function harness(options: { settleFails?: boolean; gate?: Promise<void> } = {}) {
  const calls: string[] = [];
  const holds = {
    settle: (requestId: string, usage: { inputTokens: number; outputTokens: number }) => {
      calls.push(`settle ${requestId} ${usage.inputTokens}/${usage.outputTokens}`);
      if (options.gate) return options.gate.then(() => ({ charged: 42n, refunded: 8n }));
      return options.settleFails
        ? Promise.reject(new Error('database gone'))
        : Promise.resolve({ charged: 42n, refunded: 8n });
    },
    recordUsage: (requestId: string) => {
      calls.push(`record ${requestId}`);
      return Promise.resolve();
    },
  } as unknown as HoldsService;
  const rateLimits = {
    recordTokens: (_p: Principal, tokens: number) => {
      calls.push(`tpm ${tokens}`);
      return Promise.resolve();
    },
  } as unknown as RateLimitService;
  const usage = {
    settled: (_s: AbortSignal, _p: Principal, _m: string, _h: unknown, _u: unknown, credits: bigint) => {
      calls.push(`metrics ${credits}`);
    },
  } as unknown as UsageRecordService;
  const tracker = new SettleTracker();
  const settlements = new Settlements(holds, tracker, rateLimits, usage);
  const request = { kind: 'chat' as const, model: 'm', messages: [], maxTokens: 4, stream: false };
  const ctx = (refundOnFailure = true): RunContext => ({
    request,
    principal: { userId: 'u1', keyId: 'k1' } as Principal,
    signal: new AbortController().signal,
    requestId: 'r1',
    refundOnFailure,
    source: 'openai',
    started: performance.now(),
    promptSize: 3,
    trace: traceCompletion(request, 'openai', new AbortController().signal),
  });
  return { calls, settlements, tracker, ctx };
}

const usage = { inputTokens: 3, outputTokens: 5 };

describe('the settle step (request-settlement.ts)', () => {
  it('settles once however many steps close it, and reports what it charged', async () => {
    const { calls, settlements, ctx } = harness();
    const settlement = settlements.open(ctx());
    const first = settlement.close({ host: null, usage, status: 'ok' });
    const second = settlement.close({
      host: null,
      usage: { inputTokens: 9, outputTokens: 9 },
      status: 'error',
    });
    expect(await first).toBe(42n);
    expect(await second).toBe(42n);
    expect(await settlement.charged).toBe(42n);
    expect(calls).toEqual(['settle r1 3/5', 'tpm 8', 'metrics 42']);
  });

  it('a failure with refundOnFailure false records the usage and leaves the hold open', async () => {
    const { calls, settlements, ctx } = harness();
    const charged = await settlements
      .open(ctx(false))
      .close({ host: null, usage, status: 'error', error: 'x' });
    expect(charged).toBe(0n);
    expect(calls).toEqual(['record r1', 'tpm 8', 'metrics 0']);
  });

  it('a success with refundOnFailure false still settles', async () => {
    const { calls, settlements, ctx } = harness();
    expect(await settlements.open(ctx(false)).close({ host: null, usage, status: 'ok' })).toBe(42n);
    expect(calls[0]).toBe('settle r1 3/5');
  });

  it('a settle that fails never rejects: 0 charged, the hold left for the sweep', async () => {
    const { calls, settlements, ctx } = harness({ settleFails: true });
    const settlement = settlements.open(ctx());
    expect(await settlement.close({ host: null, usage, status: 'ok' })).toBe(0n);
    expect(calls).toEqual(['settle r1 3/5', 'tpm 8', 'metrics 0']);
  });

  it('reads of the user wait for the settle still running (the tracker knows it)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { settlements, tracker, ctx } = harness({ gate });
    void settlements.open(ctx()).close({ host: null, usage, status: 'ok' });
    let waited = false;
    const reading = tracker.settled(['u1']).then(() => (waited = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(waited).toBe(false);
    // Another user's reads do not wait for it.
    await tracker.settled(['u2']);
    release();
    await reading;
    expect(waited).toBe(true);
  });
});
