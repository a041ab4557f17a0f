import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import { HoldsService } from '../billing/holds.service';
import { inputCharacters } from '../billing/pricing';
import { PricingService } from '../billing/pricing.service';
import { ApiError } from '../common/api-error';
import { dependencyUnavailable } from '../common/api-exception.filter';
import { unavailableDependency } from '../common/dependency-errors';
import { DispatchCancel, DispatcherService } from '../hosts/dispatcher.service';
import { ModelsService } from '../models/models.service';
import { traceCompletion } from '../observability/tracing';
import { RateLimitService, RateLimitState } from '../ratelimit/rate-limit.service';
import type {
  ChunkBatch,
  CompletionChunk,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  FinishReason,
  Usage,
} from './completion.types';
import { AnswerBuilder, type AnswerChoice } from './answer';
import {
  describe,
  type HostRef,
  RequestSettlement,
  type RunContext,
  Settlements,
} from './request-settlement';
import type { UsageStatus } from './usage-record.service';
import type { AbortLike } from '../common/abort';

export type { HostRef, RunContext } from './request-settlement';

export interface RunOptions {
  /** Billing/usage id; default a new UUID. The queue passes the task id. */
  requestId?: string;
  /** The caller already reserved `requestId` (queued tasks): no rate-limit count, no reservation. */
  reserved?: boolean;
  /** Settle what was used and refund the rest when the request fails (default true). False leaves the reservation open for the caller (queue retries). */
  refundOnFailure?: boolean;
  /** API surface, for the usage record. */
  source?: string;
}

/** How an answer ended, known as soon as its last chunk was read (before the settle). */
export interface RunOutcome {
  requestId: string;
  usage: Usage;
  host: HostRef | null;
  finishReason: FinishReason;
}

export interface RunResult extends RunOutcome {
  text: string;
  /** What the settle charged. */
  credits: bigint;
}

/** A whole answer; the settle may still be running (`settled` resolves to what it charged). */
export interface CompletedRun extends RunOutcome {
  /** Choice 0's text. */
  text: string;
  /** Every choice (one unless the request asked for n > 1), with its tool calls. */
  choices: AnswerChoice[];
  rateLimit?: RateLimitState;
  settled: Promise<bigint>;
}

export interface Prepared {
  credits: bigint;
  rateLimit?: RateLimitState;
}

/**
 * The core of every completion, whatever the API (ARCHITECTURE.md):
 * model usable → rate limit → reserve the upper bound → dispatch with failover → stream →
 * settle actual usage (refund the rest) → one usage record.
 */
@Injectable()
export class CompletionsService {
  constructor(
    private readonly pricing: PricingService,
    private readonly holds: HoldsService,
    private readonly settlements: Settlements,
    private readonly dispatcher: DispatcherService,
    private readonly models: ModelsService,
    private readonly rateLimits: RateLimitService,
  ) {}

  /** Checks the model and the key's limits and prices the request's upper bound. Reserves nothing. */
  async prepare(request: CompletionRequest, principal: Principal): Promise<Prepared> {
    await this.models.assertUsable(request.model, principal);
    this.dispatcher.assertServable(request);
    const rateLimit = await this.rateLimits.admit(principal);
    const credits = this.pricing.estimate(
      request.model,
      billableMessages(request),
      request.maxTokens * (request.n ?? 1),
      request.tools,
    );
    return { credits, rateLimit };
  }

  /**
   * Starts a completion. Resolves once the first output arrived from a host (so API errors can
   * still be sent as proper HTTP errors); the handle then yields the chunks. Nothing is billed
   * when this throws, unless `refundOnFailure` is false.
   */
  async run(
    request: CompletionRequest,
    principal: Principal,
    signal: AbortLike,
    options: RunOptions = {},
  ): Promise<CompletionHandle> {
    const started = performance.now();
    const requestId = options.requestId ?? randomUUID();
    const refundOnFailure = options.refundOnFailure ?? true;
    let rateLimit: RateLimitState | undefined;
    const context: RunContext = {
      request,
      principal,
      signal,
      requestId,
      refundOnFailure,
      source: options.source ?? 'internal',
      started,
      promptSize: promptSize(request),
      trace: traceCompletion(request, options.source ?? 'internal', signal),
    };
    if (!options.reserved) {
      const prepared = await this.prepare(request, principal);
      rateLimit = prepared.rateLimit;
      // Asked before this reserve counts as pending (HoldsService.likelyCovers).
      const optimistic = this.holds.likelyCovers(principal.userId, prepared.credits);
      const reserving = context.trace.reserve(
        this.holds.hold({
          userId: principal.userId,
          keyId: principal.keyId,
          requestId,
          model: request.model,
          credits: prepared.credits,
        }),
      );
      if (optimistic) return this.dispatchWhileReserving(context, reserving, rateLimit);
      await reserving;
    }
    const settlement = this.settlements.open(context);
    try {
      const dispatched = await context.trace.hostCall(this.dispatcher.stream(request, signal));
      return new CompletionHandle(settlement, context, dispatched.host, dispatched.chunks, rateLimit);
    } catch (error) {
      throw failedBeforeOutput(settlement, error);
    }
  }

  /**
   * The reserve and the upstream request at once (HoldsService.likelyCovers said the balance
   * covers it): one database round trip less before the first token. Nothing reaches the client
   * before the reserve succeeded; if it fails after all (spending through another replica), the
   * upstream request is cancelled (its host slot freed, its socket closed) and the reserve's error
   * (402) is the answer, with nothing charged.
   */
  private async dispatchWhileReserving(
    context: RunContext,
    reserving: Promise<void>,
    rateLimit: RateLimitState | undefined,
  ): Promise<CompletionHandle> {
    const cancel = new DispatchCancel();
    const dispatching = context.trace.hostCall(
      this.dispatcher.stream(context.request, context.signal, cancel),
    );
    // It may fail (client gone, no host) while the reserve is still running: handled below.
    dispatching.catch(() => undefined);
    try {
      await reserving;
    } catch (error) {
      cancel.cancel();
      dispatching.then(
        (d) => void d.chunks[Symbol.asyncIterator]().return?.(),
        () => undefined,
      );
      throw error;
    }
    const settlement = this.settlements.open(context);
    try {
      const dispatched = await dispatching;
      return new CompletionHandle(settlement, context, dispatched.host, dispatched.chunks, rateLimit);
    } catch (error) {
      throw failedBeforeOutput(settlement, error);
    }
  }

  /** A whole non-streamed completion. On failure nothing was delivered, so nothing is charged. */
  async complete(
    request: CompletionRequest,
    principal: Principal,
    signal: AbortLike,
    options: RunOptions = {},
  ): Promise<CompletedRun> {
    const handle = await this.run(request, principal, signal, options);
    handle.chargeOnlyIfComplete = true;
    const answer = new AnswerBuilder();
    for await (const batch of handle.batches()) for (const chunk of batch) answer.add(chunk);
    const outcome = await handle.finished;
    const choices = answer.result();
    const text = choices[0]!.text;
    return { ...outcome, text, choices, rateLimit: handle.rateLimit, settled: handle.settled };
  }

  /** Embeddings: priced as input characters, no output tokens. */
  async embed(
    request: EmbeddingRequest,
    principal: Principal,
    signal: AbortLike,
    source = 'openai',
  ): Promise<EmbeddingResult & { requestId: string; rateLimit?: RateLimitState }> {
    const started = performance.now();
    await this.models.assertUsable(request.model, principal);
    const rateLimit = await this.rateLimits.admit(principal);
    const messages = request.input.map((content) => ({ role: 'user', content }));
    const credits = this.pricing.estimate(request.model, messages, 0);
    const requestId = randomUUID();
    await this.holds.hold({
      userId: principal.userId,
      keyId: principal.keyId,
      requestId,
      model: request.model,
      credits,
    });
    const context: RunContext = {
      request: { kind: 'chat', model: request.model, messages: [], maxTokens: 0, stream: false },
      principal,
      signal,
      requestId,
      refundOnFailure: true,
      source,
      started,
      promptSize: messages.reduce((n, m) => n + [...m.content].length, 0),
      trace: traceCompletion(request, source, signal, 'embeddings'),
    };
    const settlement = this.settlements.open(context);
    try {
      const result = await context.trace.hostCall(this.dispatcher.embed(request, signal));
      const usage = { inputTokens: result.usage.inputTokens, outputTokens: 0 };
      void settlement.close({ host: result.host, usage, status: 'ok', operation: 'embedding' });
      return { embeddings: result.embeddings, usage: result.usage, requestId, rateLimit };
    } catch (error) {
      throw failedBeforeOutput(settlement, error, 'embedding');
    }
  }
}

/**
 * The chunks of one running completion. Iterate it once; when iteration ends (finished, failed,
 * or stopped early because the client left) the reservation is settled for what was delivered.
 */
export class CompletionHandle implements AsyncIterable<CompletionChunk> {
  private iterated = false;
  /** Non-streamed answers: a failure means nothing reached the client, so charge nothing. */
  chargeOnlyIfComplete = false;
  /** How the answer ended, once iteration is over; the settle may still be running. */
  readonly finished: Promise<RunOutcome>;
  /** Credits the settle charged, once it ran (0 after a failure: the hold was refunded). */
  readonly settled: Promise<bigint>;
  private resolveFinished!: (r: RunOutcome) => void;
  private rejectFinished!: (e: unknown) => void;

  constructor(
    private readonly settlement: RequestSettlement,
    private readonly ctx: RunContext,
    readonly host: HostRef,
    private readonly chunks: AsyncIterable<ChunkBatch>,
    readonly rateLimit: RateLimitState | undefined,
  ) {
    this.finished = new Promise<RunOutcome>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    this.settled = settlement.charged;
    // Also awaited by callers that only iterate; never an unhandled rejection.
    this.finished.catch(() => undefined);
  }

  get requestId(): string {
    return this.ctx.requestId;
  }

  /** The chunks one by one. */
  [Symbol.asyncIterator](): AsyncGenerator<CompletionChunk> {
    return this.consume(false) as AsyncGenerator<CompletionChunk>;
  }

  /**
   * The chunks as the host's reads delivered them: one array per read (streamers write a whole
   * array before they look at the socket again, so all of it counts as delivered).
   */
  batches(): AsyncGenerator<ChunkBatch> {
    return this.consume(true) as AsyncGenerator<ChunkBatch>;
  }

  private async *consume(asBatches: boolean): AsyncGenerator<CompletionChunk | ChunkBatch> {
    if (this.iterated) throw new Error('A completion handle is iterated once');
    this.iterated = true;
    let delivered = 0;
    let reported: Usage | undefined;
    let finishReason: FinishReason | undefined;
    let failure: unknown;
    let ttftMs: number | null = null;
    const take = (chunk: CompletionChunk) => {
      if (chunk.usage) reported = chunk.usage;
      if (chunk.finishReason) finishReason = chunk.finishReason;
      if (chunk.text || chunk.toolCalls) {
        if (ttftMs === null) {
          ttftMs = performance.now() - this.ctx.started;
          this.ctx.trace.firstToken();
        }
        delivered++;
      }
    };
    try {
      for await (const batch of this.chunks) {
        if (asBatches) {
          for (const chunk of batch) take(chunk);
          yield batch;
        } else {
          for (const chunk of batch) {
            take(chunk);
            yield chunk;
          }
        }
      }
    } catch (error) {
      // The upstream call was stopped because the client left: not a failure, bill what was sent.
      if (this.ctx.signal.aborted) return;
      failure = error;
      throw asApiError(error);
    } finally {
      const complete = failure === undefined && finishReason !== undefined;
      const stoppedEarly = failure === undefined && finishReason === undefined;
      const status: UsageStatus = failure !== undefined ? 'error' : stoppedEarly ? 'client_closed' : 'ok';
      this.ctx.trace.hostCallEnded(failure);
      const usage: Usage =
        complete && reported
          ? reported
          : this.chargeOnlyIfComplete && !complete
            ? { inputTokens: 0, outputTokens: 0 }
            : { inputTokens: reported?.inputTokens ?? this.ctx.promptSize, outputTokens: delivered };
      // Not awaited: the caller answers while the settle runs (SettleTracker tracks it).
      void this.settlement.close({ host: this.host, usage, status, error: failure, ttftMs });
      if (failure === undefined) {
        this.resolveFinished({
          requestId: this.ctx.requestId,
          usage,
          host: this.host,
          finishReason: finishReason ?? 'stop',
        });
      } else {
        this.rejectFinished(asApiError(failure));
      }
    }
  }
}

/** The messages the input estimate reads (pricing.ts inputCharacters): a prompt counts as a user message. */
function billableMessages(request: CompletionRequest): { role: string; content: string }[] {
  if (request.kind === 'completion') return [{ role: 'user', content: request.prompt ?? '' }];
  return request.messages;
}

function promptSize(request: CompletionRequest): number {
  return inputCharacters(billableMessages(request), request.tools);
}

/** A request that failed before any output: its hold is refunded, its usage recorded. */
function failedBeforeOutput(
  settlement: RequestSettlement,
  error: unknown,
  operation?: 'embedding',
): ApiError {
  void settlement.close({
    host: null,
    usage: { inputTokens: 0, outputTokens: 0 },
    status: 'error',
    error,
    operation,
  });
  return asApiError(error);
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const dependency = unavailableDependency(error);
  if (dependency) return dependencyUnavailable(dependency);
  return new ApiError('upstream_error', `The inference host failed: ${describe(error)}`);
}
