/** Runs one statement for `items` and returns one result per item, in the same order. */
export type BatchStatement<I, R> = (items: I[]) => Promise<R[]>;

export interface BatcherOptions<I> {
  /** Most items in one statement. */
  maxBatch: number;
  /** Items are sent sorted by this key (stable), so concurrent batches lock rows in one order. */
  sortKey: (item: I) => string;
  /**
   * Wait this long for more items before sending a batch that is not full (0: send at once), when
   * no statement is in flight and after each statement. For writes nobody waits on (settles after
   * the answer went out): fewer, larger batches.
   */
  lingerMs?: number;
  /** Called for every statement sent (retries included) with its number of items: metrics. */
  onBatch?: (items: number) => void;
}

interface Pending<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group batching of one kind of write: when no statement of this kind is in flight, a call is
 * sent at once (same latency as a single statement); while one is in flight, calls queue up and
 * go out together as one statement when it returns. Each caller gets its own result. A whole
 * statement that fails is retried once on a deadlock or serialization failure; a batch that the
 * database refused for another reason is rerun item by item, so one bad item fails only itself.
 */
export class WriteBatcher<I, R> {
  private queue: Pending<I, R>[] = [];
  private busy = false;

  constructor(
    private readonly statement: BatchStatement<I, R>,
    private readonly options: BatcherOptions<I>,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // Callers of the same tick join the first batch; only a lingering batcher waits for a timer.
      if (!this.busy) {
        this.busy = true;
        const linger = this.options.lingerMs ?? 0;
        if (linger > 0) setTimeout(() => void this.drain(), linger);
        else queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    const linger = this.options.lingerMs ?? 0;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      const key = this.options.sortKey;
      // Array.prototype.sort is stable: one user's calls keep their order.
      batch.sort((a, b) => (key(a.item) < key(b.item) ? -1 : key(a.item) > key(b.item) ? 1 : 0));
      await this.send(batch);
      // A lingering batcher also waits before a batch that is not full yet: else a steady trickle
      // (one connection's requests) goes out one or two items per statement, back to back.
      if (linger > 0 && this.queue.length > 0 && this.queue.length < this.options.maxBatch)
        await new Promise((resolve) => setTimeout(resolve, linger));
    }
    this.busy = false;
  }

  private async send(batch: Pending<I, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await this.run(batch.map((p) => p.item));
    } catch (error) {
      // Only a statement the server rejected (rolled back, SQLSTATE set) is safe to rerun.
      if (batch.length > 1 && sqlState(error) !== undefined) {
        for (const p of batch) await this.send([p]);
      } else {
        for (const p of batch) p.reject(error);
      }
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i] as R));
  }

  private async run(items: I[]): Promise<R[]> {
    try {
      return await this.checked(items);
    } catch (error) {
      if (!RETRYABLE.has(sqlState(error) ?? '')) throw error;
      return this.checked(items);
    }
  }

  private async checked(items: I[]): Promise<R[]> {
    this.options.onBatch?.(items.length);
    const results = await this.statement(items);
    if (results.length !== items.length)
      throw new Error(`batch statement returned ${results.length} results for ${items.length} items`);
    return results;
  }
}

/** Deadlock detected, serialization failure: the whole transaction was rolled back. */
const RETRYABLE = new Set(['40P01', '40001']);

/** The SQLSTATE of an error the database returned (not a socket error such as EPIPE); TypeORM wraps pg's in driverError. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === 'string' && /^([0-5][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/.test(code) ? code : undefined;
}
