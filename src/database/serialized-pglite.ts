import { PGliteDriver } from 'typeorm-pglite';
import { PGlitePool } from 'typeorm-pglite/dist/pglite-pool';

type ConnectCallback = Parameters<PGlitePool['connect']>[0];
type Release = (error?: unknown) => void;

/**
 * PGlite is one connection. typeorm-pglite hands that same connection to every query runner at
 * once, so two concurrent transactions would interleave their statements inside one BEGIN.
 * This pool lends the connection to one query runner at a time (FIFO), like a pg pool of size 1.
 */
class SerializedPGlitePool extends PGlitePool {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  override connect(callback: ConnectCallback): Promise<void> {
    return this.acquire().then(() =>
      super.connect((error, connection, done) => {
        let released = false;
        const release: Release = (e) => {
          if (released) return;
          released = true;
          (done as Release)(e);
          this.handOver();
        };
        if (error) release(error);
        callback(error, connection, release);
      }),
    );
  }

  private acquire(): Promise<void> {
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private handOver(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}

/** The TypeORM `driver` option for an embedded PGlite database in `dataDir`. */
export function serializedPGliteDriver(dataDir: string): unknown {
  // Registers PGlite's options (data dir, boolean serializer) with the shared instance.
  new PGliteDriver({ dataDir });
  return class {
    static Pool = SerializedPGlitePool;
  };
}
