import { Abort } from '../../src/common/abort';

describe('Abort (the pipeline signal without EventTarget)', () => {
  it('runs each listener once, in order, and none after it was removed', () => {
    const abort = new Abort();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const c = () => calls.push('c');
    abort.addEventListener('abort', a);
    abort.addEventListener('abort', a, { once: true });
    abort.addEventListener('abort', b);
    abort.addEventListener('abort', c);
    abort.removeEventListener('abort', b);
    abort.removeEventListener('abort', () => undefined);
    expect(abort.aborted).toBe(false);
    expect(abort.reason).toBeUndefined();
    abort.abort();
    abort.abort();
    expect(calls).toEqual(['a', 'c']);
    expect(abort.aborted).toBe(true);
    expect(abort.signal).toBe(abort);
  });

  it('ignores a listener added after the abort, as AbortSignal does', () => {
    const abort = new Abort();
    abort.abort('why');
    let called = false;
    abort.addEventListener('abort', () => (called = true));
    abort.abort('again');
    expect(called).toBe(false);
    expect(abort.reason).toBe('why');
  });

  it("reports an AbortError as the reason when none was given, like Node's AbortController", () => {
    const ours = new Abort();
    const node = new AbortController();
    ours.abort();
    node.abort();
    const reason = ours.reason as DOMException;
    expect(reason).toBeInstanceOf(DOMException);
    expect(reason.name).toBe((node.signal.reason as DOMException).name);
    expect(reason.message).toBe((node.signal.reason as DOMException).message);
    expect(ours.reason).toBe(reason);
  });

  it('still runs the other listeners when one throws, then throws its error to the caller', () => {
    const abort = new Abort();
    const seen: string[] = [];
    abort.addEventListener('abort', () => {
      throw new Error('listener broke');
    });
    abort.addEventListener('abort', () => seen.push('second'));
    expect(() => abort.abort()).toThrow('listener broke');
    expect(seen).toEqual(['second']);
    expect(abort.aborted).toBe(true);
  });
});
