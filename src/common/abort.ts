/**
 * What the request pipeline reads of an AbortSignal: whether it fired, why, and a listener for
 * the moment it does. Node's AbortSignal satisfies it (the health loop's timeouts, the worker's
 * task controllers), and so does `Abort` below.
 */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An abort controller and its signal in one object, without EventTarget. Every HTTP completion
 * makes two (the client's disconnect, and one per host attempt); with Node's AbortController their
 * creation and listener bookkeeping cost ≈ 20 µs of CPU per request, ≈ 6 % of a non-stream request
 * (bench/README.md). Same contract as AbortSignal for what AbortLike names: a listener runs at
 * most once, adding one twice or after the abort does nothing, and `reason` defaults to an
 * AbortError (built when first read: a stack trace costs). A listener that throws does not stop
 * the others; `abort()` throws its error after they ran.
 */
export class Abort implements AbortLike {
  private fired = false;
  private given: unknown;
  private listeners: (() => void)[] | undefined;

  /** The signal side: this object itself (so `controller.signal` reads as with AbortController). */
  get signal(): AbortLike {
    return this;
  }

  get aborted(): boolean {
    return this.fired;
  }

  get reason(): unknown {
    if (this.fired && this.given === undefined)
      this.given = new DOMException('This operation was aborted', 'AbortError');
    return this.given;
  }

  abort(reason?: unknown): void {
    if (this.fired) return;
    this.fired = true;
    this.given = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    let failure: { error: unknown } | undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        failure ??= { error };
      }
    }
    // Every listener ran; the first one's error goes to whoever aborted.
    if (failure) throw failure.error;
  }

  /** Listeners run once whether or not `once` is asked: an Abort fires only once. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.fired) return;
    const listeners = (this.listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }
}
