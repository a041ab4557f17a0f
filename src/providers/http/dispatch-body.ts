import type { Dispatcher } from 'undici';

/** Chunks kept before the upstream socket is paused (a slow client must not grow memory). */
const HIGH_WATER = 32;

/**
 * A response body fed by undici's dispatch callbacks, read as an async iterator: a lighter stand-in
 * for the Readable that `request()` builds (one promise per read of the host's socket instead of
 * the Readable's events and iterator machinery). Chunks that arrived while the reader was busy
 * come out together. Pauses the upstream socket past HIGH_WATER chunks, resumes once read.
 */
export class DispatchBody implements AsyncIterableIterator<Buffer> {
  controller: Dispatcher.DispatchController | undefined;
  private chunks: Buffer[] = [];
  private ended = false;
  private failure: unknown;
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void } | undefined;

  [Symbol.asyncIterator](): this {
    return this;
  }

  push(chunk: Buffer): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ done: false, value: chunk });
      return;
    }
    this.chunks.push(chunk);
    if (this.chunks.length === HIGH_WATER) this.controller?.pause();
  }

  end(): void {
    this.ended = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.chunks.length > 0) {
      const value = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      if (this.chunks.length >= HIGH_WATER) this.controller?.resume();
      this.chunks = [];
      return Promise.resolve({ done: false, value });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.destroy();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Stops reading: aborts the upstream request if its answer is still coming. */
  destroy(): void {
    if (!this.ended && this.failure === undefined) {
      this.controller?.abort(new Error('response body destroyed'));
      this.ended = true;
    }
    this.chunks = [];
  }
}
