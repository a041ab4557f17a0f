import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import { HoldsService } from '../billing/holds.service';
import type { CompletionTrace } from '../observability/tracing';
import { SettleTracker } from '../billing/settle-tracker';
import { RateLimitService } from '../ratelimit/rate-limit.service';
import type { CompletionRequest, Usage } from './completion.types';
import { UsageRecordService, UsageStatus } from './usage-record.service';
import type { AbortLike } from '../common/abort';

export interface HostRef {
  id: string;
  name: string;
}

/** One request as the pipeline carries it from admission to settle. */
export interface RunContext {
  request: CompletionRequest;
  principal: Principal;
  /** Aborted when the client went away (or a queued task was cancelled). */
  signal: AbortLike;
  requestId: string;
  /** A failure refunds the hold; false leaves it open for the caller (queue retries). */
  refundOnFailure: boolean;
  source: string;
  started: number;
  /** Seed 000's input-token measure: characters of the user messages (or the prompt). */
  promptSize: number;
  /** The request's trace (the shared no-op while tracing is off). */
  trace: CompletionTrace;
}

/** How a request ended: what its settle needs to know. */
export interface RequestEnd {
  /** The host that served it (null: failed before one answered). */
  host: HostRef | null;
  /** What it is charged for (pricing.ts chargeFor turns it into credits). */
  usage: Usage;
  status: UsageStatus;
  error?: unknown;
  ttftMs?: number | null;
  /** Usage record's operation; default the request's kind. */
  operation?: 'chat' | 'completion' | 'embedding';
}

/**
 * The settle step of the pipeline: opens one RequestSettlement per admitted request, which the
 * request's last step closes.
 */
@Injectable()
export class Settlements {
  private readonly logger = new Logger(Settlements.name);

  constructor(
    private readonly holds: HoldsService,
    private readonly tracker: SettleTracker,
    private readonly rateLimits: RateLimitService,
    private readonly usage: UsageRecordService,
  ) {}

  open(ctx: RunContext): RequestSettlement {
    return new RequestSettlement((end) => this.settle(ctx, end));
  }

  /**
   * Settles the hold (or, for a failure with refundOnFailure false, leaves it open and records
   * the usage uncharged), counts the tokens against the key's tpm and reports metrics and the
   * log line. The answer need not wait: the tracker makes the user's reads and shutdown wait.
   */
  private settle(ctx: RunContext, end: RequestEnd): Promise<bigint> {
    const settling = this.write(ctx, end);
    this.tracker.track(ctx.principal.userId, settling);
    return settling;
  }

  private async write(ctx: RunContext, end: RequestEnd): Promise<bigint> {
    let charged = 0n;
    ctx.trace.settleStarted();
    const ttftMs = end.ttftMs ?? null;
    const keepOpen = end.status === 'error' && !ctx.refundOnFailure;
    try {
      const record = {
        userId: ctx.principal.userId,
        keyId: ctx.principal.keyId || null,
        model: ctx.request.model,
        host: end.host,
        surface: ctx.source,
        operation: end.operation ?? ctx.request.kind,
        durationMs: performance.now() - ctx.started,
        ttftMs,
        status: end.status,
        error: end.error === undefined ? undefined : describe(end.error),
      };
      // The settle writes the usage record in its own transaction; a hold kept open is recorded uncharged.
      const settledOrRecorded = keepOpen
        ? this.holds.recordUsage(ctx.requestId, end.usage, record)
        : this.holds.settle(ctx.requestId, end.usage, record).then((settled) => {
            charged = settled.charged;
          });
      await Promise.all([
        settledOrRecorded,
        this.rateLimits.recordTokens(ctx.principal, end.usage.inputTokens + end.usage.outputTokens),
      ]);
    } catch (e) {
      // The reservation stays open and the sweep settles it; the client's answer is not lost.
      this.logger.error(`finishing ${ctx.requestId} failed: ${describe(e)}`);
    }
    // Tokens and credits by model on /metrics, and the request's log line.
    this.usage.settled(ctx.signal, ctx.principal, ctx.request.model, end.host, end.usage, charged, ttftMs);
    ctx.trace.settled(end.host, end.usage, charged, end.status, end.error);
    return charged;
  }
}

/** The settle of one request: closed once, by whichever step ends the request. */
export class RequestSettlement {
  /** The credits charged, once the settle ran (0 after a failure: the hold was refunded). Never rejects. */
  readonly charged: Promise<bigint>;
  private resolve!: (credits: bigint) => void;
  private closed = false;

  constructor(private readonly settle: (end: RequestEnd) => Promise<bigint>) {
    this.charged = new Promise<bigint>((resolve) => (this.resolve = resolve));
  }

  /** Settles for how the request ended; later calls change nothing. */
  close(end: RequestEnd): Promise<bigint> {
    if (!this.closed) {
      this.closed = true;
      void this.settle(end).then(this.resolve);
    }
    return this.charged;
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
