import { createRedisMock } from 'js-redis-server';
import type { Redis } from 'ioredis';

/**
 * The in-process Redis-compatible server used when REDIS_URL is unset. Wrapped here so it can
 * be replaced: the rest of the app only sees an address and real ioredis clients.
 */
export interface EmbeddedRedis {
  address: { host: string; port: number };
  /** Per-client fixes for commands the embedded server lacks. */
  adapt(client: Redis): void;
  close(): Promise<void>;
}

type BrpoplpushClient = Redis & {
  brpoplpush: (source: string, destination: string, timeout: number) => Promise<string | null>;
  blmove: (src: string, dst: string, from: string, to: string, timeout: number) => Promise<string | null>;
};

export async function startEmbeddedRedis(): Promise<EmbeddedRedis> {
  const server = await createRedisMock({ port: 0 });
  const first = server.addresses()[0];
  if (!first) throw new Error('embedded Redis did not start');
  const address = { host: first.host ?? '127.0.0.1', port: Number(first.port) };
  return {
    address,
    adapt(client: Redis) {
      // Bull pops jobs with BRPOPLPUSH, which js-redis-server implements as BLMOVE only.
      const c = client as BrpoplpushClient;
      c.brpoplpush = (source, destination, timeout) =>
        c.blmove(source, destination, 'RIGHT', 'LEFT', timeout);
    },
    close: () => server.close(),
  };
}
