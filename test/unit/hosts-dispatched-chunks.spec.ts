import type { ChunkBatch } from '../../src/completions/completion.types';
import { DispatchedChunks } from '../../src/hosts/dispatched-chunks';
import { UpstreamError } from '../../src/providers/upstream-error';

/** An upstream that yields `texts`, then fails with `error` if given; records return(). */
function upstream(texts: string[], error?: Error) {
  const state = { returned: false };
  async function* gen(): AsyncGenerator<ChunkBatch> {
    try {
      for (const text of texts) yield [{ text }];
      if (error) throw error;
      yield [{ finishReason: 'stop' }];
    } finally {
      state.returned = true;
    }
  }
  return { iterator: gen(), state };
}

function hooks() {
  const calls = { finish: 0, failures: [] as UpstreamError[] };
  return {
    calls,
    hooks: {
      onFinish: () => void calls.finish++,
      onFailure: (e: UpstreamError) => void calls.failures.push(e),
    },
  };
}

async function start(texts: string[], signal = new AbortController().signal, error?: Error) {
  const up = upstream(texts, error);
  const h = hooks();
  const first = await up.iterator.next();
  return { chunks: new DispatchedChunks(first, up.iterator, signal, h.hooks), ...up, ...h };
}

describe('DispatchedChunks', () => {
  it('yields the first chunk then the rest, and finishes once', async () => {
    const { chunks, calls } = await start(['a', 'b']);
    const seen: ChunkBatch[] = [];
    for await (const batch of chunks) seen.push(batch);
    expect(seen).toEqual([[{ text: 'a' }], [{ text: 'b' }], [{ finishReason: 'stop' }]]);
    expect(calls.finish).toBe(1);
    expect(await chunks.next()).toEqual({ done: true, value: undefined });
    expect(calls.finish).toBe(1);
  });

  it('return() before any next() still finishes and closes the upstream', async () => {
    const { chunks, calls, state } = await start(['a', 'b']);
    await chunks.return();
    expect(calls.finish).toBe(1);
    expect(state.returned).toBe(true);
  });

  it('a break in for-await finishes it', async () => {
    const { chunks, calls, state } = await start(['a', 'b', 'c']);
    for await (const batch of chunks) if (batch[0]?.text === 'b') break;
    expect(calls.finish).toBe(1);
    expect(state.returned).toBe(true);
  });

  it('an upstream failure is reported, finishes it and is thrown as UpstreamError', async () => {
    const dropped = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const { chunks, calls } = await start(['a'], undefined, dropped);
    expect(await chunks.next()).toEqual({ done: false, value: [{ text: 'a' }] });
    await expect(chunks.next()).rejects.toMatchObject({ kind: 'protocol' });
    expect(calls.failures).toHaveLength(1);
    expect(calls.finish).toBe(1);
  });

  it('after an abort, next() throws "aborted" rather than ending as if complete', async () => {
    const controller = new AbortController();
    const { chunks, calls } = await start(['a', 'b'], controller.signal);
    await chunks.next();
    controller.abort();
    chunks.finish();
    await expect(chunks.next()).rejects.toMatchObject({ kind: 'aborted' });
    expect(calls.failures).toHaveLength(0);
  });

  it('an answer that ended before any chunk finishes at once', async () => {
    const h = hooks();
    const chunks = new DispatchedChunks(
      { done: true, value: undefined },
      upstream([]).iterator,
      new AbortController().signal,
      h.hooks,
    );
    expect(h.calls.finish).toBe(1);
    expect(await chunks.next()).toEqual({ done: true, value: undefined });
  });
});
