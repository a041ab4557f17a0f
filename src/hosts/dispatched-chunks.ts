import type { ChunkBatch } from '../completions/completion.types';
import { toUpstreamError, UpstreamError } from '../providers/upstream-error';
import type { AbortLike } from '../common/abort';

/** Hooks the dispatcher gives a running answer. */
export interface ChunkStreamHooks {
  /** The answer broke midway (never called for a client abort). */
  onFailure(error: UpstreamError): void;
  /**
   * Runs exactly once when the stream ends, fails, is returned early or is aborted; `complete`
   * is true when the host's answer was read to its end (nothing upstream is left to cancel).
   */
  onFinish(complete: boolean): void;
}

/**
 * The rest of a host's answer after its first chunk. A hand-written iterator rather than an async
 * generator: `return()` must free the host slot and close the upstream socket even before the
 * first `next()`, which a generator that has not started skips.
 */
export class DispatchedChunks implements AsyncIterableIterator<ChunkBatch> {
  private first: IteratorResult<ChunkBatch> | undefined;
  private finished = false;

  constructor(
    first: IteratorResult<ChunkBatch>,
    private readonly upstream: AsyncIterator<ChunkBatch>,
    private readonly signal: AbortLike,
    private readonly hooks: ChunkStreamHooks,
  ) {
    this.first = first;
    if (first.done) this.finish(true);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ChunkBatch>> {
    if (this.first) {
      const first = this.first;
      this.first = undefined;
      if (!first.done) return first;
    }
    if (this.finished) {
      if (this.signal.aborted) throw new UpstreamError('aborted', 'The request was aborted');
      return { done: true, value: undefined };
    }
    try {
      const result = await this.upstream.next();
      if (result.done) this.finish(true);
      return result;
    } catch (error) {
      const upstream = toUpstreamError(error, this.signal);
      if (upstream.kind !== 'aborted') this.hooks.onFailure(upstream);
      this.finish();
      throw upstream;
    }
  }

  async return(): Promise<IteratorResult<ChunkBatch>> {
    this.first = undefined;
    if (!this.finished) {
      this.finish();
      await this.upstream.return?.().catch(() => undefined);
    }
    return { done: true, value: undefined };
  }

  /** Frees the slot once; the upstream request is aborted by the hook if still open. */
  finish(complete = false): void {
    if (this.finished) return;
    this.finished = true;
    this.hooks.onFinish(complete);
  }
}
