import { WriteBatcher } from '../../src/database/write-batcher';

/** A statement that records each batch and answers when released. */
function fakeStatement(fail: (items: string[]) => Error | undefined = () => undefined) {
  const batches: string[][] = [];
  const statement = async (items: string[]): Promise<string[]> => {
    batches.push([...items]);
    await new Promise((r) => setTimeout(r, 5));
    const error = fail(items);
    if (error) throw error;
    return items.map((i) => `done:${i}`);
  };
  return { batches, statement };
}

/** A statement that records each batch; the first one answers only when released. */
function gatedStatement() {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const batches: string[][] = [];
  const statement = async (items: string[]): Promise<string[]> => {
    batches.push([...items]);
    if (batches.length === 1) await gate;
    return items.map((i) => `done:${i}`);
  };
  return { batches, statement, release: () => release() };
}

function sqlError(code: string): Error {
  return Object.assign(new Error(`sql ${code}`), { code });
}

describe('WriteBatcher', () => {
  it('sends the first calls of a tick together and queues the rest behind the statement in flight', async () => {
    const { batches, statement } = fakeStatement();
    const sent: number[] = [];
    const batcher = new WriteBatcher(statement, {
      maxBatch: 100,
      sortKey: (s: string) => s.slice(0, 1),
      onBatch: (n) => sent.push(n),
    });
    const first = [batcher.submit('b1'), batcher.submit('a1')];
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 1));
    const later = ['b2', 'a2', 'b3', 'a3'].map((i) => batcher.submit(i));
    expect(await Promise.all([...first, ...later])).toEqual(
      ['b1', 'a1', 'b2', 'a2', 'b3', 'a3'].map((i) => `done:${i}`),
    );
    // Sorted by key, stable within one key.
    expect(batches).toEqual([
      ['a1', 'b1'],
      ['a2', 'a3', 'b2', 'b3'],
    ]);
    expect(sent).toEqual([2, 4]);
  });

  it('with lingerMs, calls of the next milliseconds join the first statement', async () => {
    const { batches, statement } = fakeStatement();
    const batcher = new WriteBatcher(statement, { maxBatch: 100, sortKey: () => '', lingerMs: 30 });
    const first = batcher.submit('1');
    await new Promise((r) => setTimeout(r, 5));
    const second = batcher.submit('2');
    expect(batches).toEqual([]);
    expect(await Promise.all([first, second])).toEqual(['done:1', 'done:2']);
    expect(batches).toEqual([['1', '2']]);
  });

  it('with lingerMs, calls that queued behind a statement wait again for company instead of going out at once', async () => {
    const { batches, statement, release } = gatedStatement();
    const batcher = new WriteBatcher(statement, { maxBatch: 100, sortKey: () => '', lingerMs: 40 });
    const first = batcher.submit('1');
    while (batches.length === 0) await new Promise((r) => setTimeout(r, 2));
    const second = batcher.submit('2');
    release();
    await first;
    // Arrives after the first statement returned, within the linger: shares the second statement.
    const third = batcher.submit('3');
    expect(await Promise.all([second, third])).toEqual(['done:2', 'done:3']);
    expect(batches).toEqual([['1'], ['2', '3']]);
  });

  it('without lingerMs, calls queued behind a statement go out as soon as it returns', async () => {
    const { batches, statement, release } = gatedStatement();
    const batcher = new WriteBatcher(statement, { maxBatch: 100, sortKey: () => '' });
    const first = batcher.submit('1');
    await new Promise((r) => setTimeout(r, 2));
    const second = batcher.submit('2');
    release();
    await first;
    await new Promise((r) => setTimeout(r, 2));
    const third = batcher.submit('3');
    await Promise.all([second, third]);
    expect(batches).toEqual([['1'], ['2'], ['3']]);
  });

  it('splits a queue longer than maxBatch', async () => {
    const { batches, statement } = fakeStatement();
    const batcher = new WriteBatcher(statement, { maxBatch: 3, sortKey: () => '' });
    const results = await Promise.all(['1', '2', '3', '4', '5', '6', '7'].map((i) => batcher.submit(i)));
    expect(results).toHaveLength(7);
    expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
  });

  it('retries a whole batch once on a deadlock', async () => {
    let deadlocks = 1;
    const { batches, statement } = fakeStatement(() => (deadlocks-- > 0 ? sqlError('40P01') : undefined));
    const batcher = new WriteBatcher(statement, { maxBatch: 10, sortKey: () => '' });
    expect(await Promise.all([batcher.submit('x'), batcher.submit('y')])).toEqual(['done:x', 'done:y']);
    expect(batches).toEqual([
      ['x', 'y'],
      ['x', 'y'],
    ]);
  });

  it('reruns a batch the database refused item by item: only the bad item fails', async () => {
    const { batches, statement } = fakeStatement((items) =>
      items.includes('bad') ? sqlError('22P02') : undefined,
    );
    const batcher = new WriteBatcher(statement, { maxBatch: 10, sortKey: () => '' });
    const outcomes = await Promise.allSettled(['ok1', 'bad', 'ok2'].map((i) => batcher.submit(i)));
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'done:ok1',
      'sql 22P02',
      'done:ok2',
    ]);
    expect(batches).toEqual([['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']]);
  });

  it('does not rerun a batch that failed without a database answer (it may have committed)', async () => {
    const { batches, statement } = fakeStatement(() => Object.assign(new Error('gone'), { code: 'EPIPE' }));
    const batcher = new WriteBatcher(statement, { maxBatch: 10, sortKey: () => '' });
    const outcomes = await Promise.allSettled([batcher.submit('a'), batcher.submit('b')]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(batches).toEqual([['a', 'b']]);
  });
});
