import { Injectable, Logger } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import type {
  ChunkBatch,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
} from '../completions/completion.types';
import { AppConfig } from '../config/app-config';
import { TrafficMetrics } from '../metrics/traffic-metrics';
import type { ProviderKind } from '../providers/provider.types';
import { ProvidersService } from '../providers/providers.service';
import { toUpstreamError, UpstreamError } from '../providers/upstream-error';
import { ClusterSlots } from './cluster-slots';
import { DispatchedChunks } from './dispatched-chunks';
import { redactKey } from './host-rules';
import { HostWaitQueue } from './host-wait-queue';
import { HostLease, HostsService } from './hosts.service';
import { affinityKey, conversationKey } from './routing-policy';
import { Abort, type AbortLike } from '../common/abort';

export interface HostRef {
  id: string;
  name: string;
}

export interface DispatchedStream {
  host: HostRef;
  /** The first batch of chunks, then the rest; a break midway throws UpstreamError. */
  chunks: AsyncIterable<ChunkBatch>;
}

/**
 * Stops a dispatch from outside without aborting the caller's signal (a reserve that failed while
 * the host was already asked): the attempt in flight is aborted and no other host is tried.
 */
export class DispatchCancel {
  private cancelled = false;
  private current: Abort | undefined;

  get isCancelled(): boolean {
    return this.cancelled;
  }

  cancel(): void {
    this.cancelled = true;
    this.current?.abort();
  }

  /** The dispatcher's attempt now running (undefined when it ended). */
  attach(attempt: Abort | undefined): void {
    this.current = attempt;
  }
}

/** Parameters only some protocols serve: the rest of requests skip the capability look-up. */
function needsCapability(request: CompletionRequest): boolean {
  return (request.n ?? 1) > 1 || request.logprobs === true;
}

/**
 * How long a request may wait for a host that has its model loaded before the model is loaded on
 * another one (a load takes seconds and evicts another model there).
 */
const COLD_WAIT_MS = 1000;

/** Host statuses that mean "the request itself is wrong": no other host would take it either. */
const REJECTED = new Set([400, 413, 422]);

/** Where a request should go: its model, and for affinity the conversation it continues. */
interface Route {
  model: string;
  /** Looked up: set for multi-turn chats under ROUTING_POLICY=affinity. */
  affinity?: number;
  /** Remembered once served: any chat's conversation key under affinity. */
  conversation?: number;
}

/**
 * Sends a request to a GPU host: picks one (ROUTING_POLICY, slots counted across replicas), and
 * before the first chunk fails over on connection errors, timeouts, 5xx, 429 and 503 to up to
 * MAX_ATTEMPTS distinct hosts. When every host of the model is full the request waits in the
 * model's bounded queue (HostWaitQueue). Once output flowed nothing is re-sent. Aborting `signal`
 * closes the upstream socket at once.
 */
@Injectable()
export class DispatcherService {
  private readonly logger = new Logger(DispatcherService.name);

  constructor(
    private readonly hosts: HostsService,
    private readonly providers: ProvidersService,
    private readonly config: AppConfig,
    private readonly metrics: TrafficMetrics,
    private readonly queue: HostWaitQueue,
    private readonly slots: ClusterSlots,
  ) {
    hosts.onSlotReleased(() => queue.wakeOldest());
  }

  /**
   * Refuses, before anything is reserved, a request that only some protocols can serve (n > 1,
   * logprobs) when no usable host of those protocols serves its model but others do.
   */
  assertServable(request: CompletionRequest): void {
    if (!needsCapability(request)) return;
    const { kinds, refused } = this.providers.capable(request);
    if (refused === undefined) return;
    const serving = this.hosts.providersServing(request.model);
    if (serving.size > 0 && ![...serving].some((k) => kinds.has(k))) {
      throw new ApiError(
        'invalid_request',
        `Invalid '${refused}': not supported by the hosts that serve the model '${request.model}'`,
        refused,
      );
    }
  }

  /** Resolves once the first chunk arrived (or the answer ended cleanly without output). */
  async stream(
    request: CompletionRequest,
    signal: AbortLike,
    cancel?: DispatchCancel,
  ): Promise<DispatchedStream> {
    const providers = needsCapability(request) ? this.providers.capable(request).kinds : undefined;
    const route: Route = { model: request.model };
    if (this.config.routingPolicy === 'affinity') {
      route.conversation = conversationKey(request);
      route.affinity = route.conversation === undefined ? undefined : affinityKey(request);
    }
    return this.withFailover(route, signal, cancel, providers, async (lease, upstream) => {
      const adapter = this.providers.get(lease.host.provider);
      const target = this.hosts.target(lease.host);
      const sent = performance.now();
      const answer =
        request.kind === 'completion'
          ? adapter.complete(target, request, upstream.signal)
          : adapter.chat(target, request, upstream.signal);
      const iterator = answer[Symbol.asyncIterator]();
      const first = await iterator.next();
      this.metrics.upstreamLatency(lease.host.name, performance.now() - sent);
      const stop = () => chunks.finish();
      const chunks = new DispatchedChunks(first, iterator, signal, {
        onFailure: (error) => this.hosts.reportFailure(lease.host, error, request.model),
        onFinish: (complete) => {
          signal.removeEventListener('abort', stop);
          lease.release();
          // Only when something is still open: the host's socket is closed, not returned to the pool.
          if (!complete) upstream.abort();
        },
      });
      // A caller that aborts without iterating further still frees the slot and closes the socket.
      if (signal.aborted) chunks.finish();
      else if (!first.done) signal.addEventListener('abort', stop, { once: true });
      return { host: { id: lease.host.id, name: lease.host.name }, chunks };
    });
  }

  async embed(request: EmbeddingRequest, signal: AbortLike): Promise<EmbeddingResult & { host: HostRef }> {
    return this.withFailover(
      { model: request.model },
      signal,
      undefined,
      undefined,
      async (lease, upstream) => {
        const adapter = this.providers.get(lease.host.provider);
        const sent = performance.now();
        const result = await adapter.embed(this.hosts.target(lease.host), request, upstream.signal);
        this.metrics.upstreamLatency(lease.host.name, performance.now() - sent);
        // On failure withFailover releases the lease and aborts; the answer was read in full here.
        lease.release();
        return { ...result, host: { id: lease.host.id, name: lease.host.name } };
      },
    );
  }

  /**
   * Runs `attempt` on the best free host, then on others (never the same one twice) while it fails
   * retryably, up to MAX_ATTEMPTS. On failure `attempt` must leave nothing open; this method
   * releases the lease and aborts the upstream controller for it.
   */
  private async withFailover<T>(
    route: Route,
    signal: AbortLike,
    cancel: DispatchCancel | undefined,
    providers: ReadonlySet<ProviderKind> | undefined,
    attempt: (lease: HostLease, upstream: Abort) => Promise<T>,
  ): Promise<T> {
    const { model } = route;
    const tried = new Set<string>();
    while (tried.size < this.config.maxAttempts) {
      if (signal.aborted || cancel?.isCancelled)
        throw new UpstreamError('aborted', 'The request was aborted');
      const lease = await this.acquire(route, tried, providers, signal);
      if (!lease) break;
      tried.add(lease.host.id);
      const upstream = new Abort();
      const forward = () => upstream.abort();
      signal.addEventListener('abort', forward, { once: true });
      cancel?.attach(upstream);
      try {
        const result = await attempt(lease, upstream);
        this.hosts.reportSuccess(lease.host);
        this.hosts.served(lease.host, model, route.conversation);
        return result;
      } catch (caught) {
        lease.release();
        upstream.abort();
        const error = cancel?.isCancelled
          ? new UpstreamError('aborted', 'The request was cancelled')
          : toUpstreamError(caught, signal);
        if (error.kind === 'aborted') throw error;
        this.hosts.reportFailure(lease.host, error, model);
        const message = redactKey(error.message, lease.host.apiKey);
        this.logger.warn(`Host ${lease.host.name} failed before output (${error.kind}): ${message}`);
        if (error.kind === 'status' && REJECTED.has(error.status ?? 0))
          throw new ApiError('invalid_request', `The inference host rejected the request: ${message}`);
        if (!error.retryable) throw new UpstreamError(error.kind, message, error.status);
      } finally {
        signal.removeEventListener('abort', forward);
        cancel?.attach(undefined);
      }
    }
    throw new ApiError('no_available_hosts');
  }

  /** A slot on the best free host; when every host of the model is full, a wait in its queue. */
  private async acquire(
    route: Route,
    tried: ReadonlySet<string>,
    providers: ReadonlySet<ProviderKind> | undefined,
    signal: AbortLike,
  ): Promise<HostLease | undefined> {
    if (route.affinity !== undefined && tried.size === 0) await this.hosts.recallConversation(route.affinity);
    // Affinity waits (up to COLD_WAIT_MS) for a host with the model loaded rather than load it elsewhere.
    const waitWarm = this.config.routingPolicy === 'affinity' && this.queue.enabled && tried.size === 0;
    const started = performance.now();
    const take = () =>
      this.hosts.acquire(
        route.model,
        tried,
        providers,
        route.affinity,
        !waitWarm || performance.now() - started >= Math.min(COLD_WAIT_MS, this.config.hostWaitMs / 2),
      );
    const lease = await take();
    if (lease || !this.queue.enabled || !this.hosts.servedBusy(route.model, tried, providers)) return lease;
    return this.queue.wait(route.model, Math.min(this.slots.tickMs, COLD_WAIT_MS), signal, take);
  }
}
