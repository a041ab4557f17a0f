import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Redis, RedisOptions } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { EmbeddedRedis, startEmbeddedRedis } from './embedded-redis';

export type RedisClientType = 'client' | 'subscriber' | 'bclient';

/**
 * Redis for the queue and shared counters. REDIS_URL when set; otherwise an embedded
 * Redis-compatible server in this process (js-redis-server), so the same Bull code path runs.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  private readonly clients = new Set<Redis>();
  private embedded: EmbeddedRedis | undefined;
  private target: string | { host: string; port: number } | undefined;
  private shared: Redis | undefined;
  private closing = false;

  constructor(private readonly config: AppConfig) {}

  /** Starts the embedded server when needed. Called once by the module's factory. */
  async init(): Promise<void> {
    if (this.config.redisUrl) {
      this.target = this.config.redisUrl;
    } else {
      this.embedded = await startEmbeddedRedis();
      this.target = this.embedded.address;
      this.logger.log(`Embedded Redis-compatible server on ${this.embedded.address.port} (no REDIS_URL)`);
    }
    this.shared = this.create('client');
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  /** Key prefix for everything this deployment stores in Redis. */
  get prefix(): string {
    return this.config.redisPrefix;
  }

  /** The shared command client (counters, rate limits). */
  get client(): Redis {
    if (!this.shared) throw new Error('RedisService used before init()');
    return this.shared;
  }

  /** A new connection; Bull asks for one per role. Closed on shutdown. */
  create(type: RedisClientType = 'client', extra: RedisOptions = {}): Redis {
    if (!this.target) throw new Error('RedisService used before init()');
    const options: RedisOptions = {
      // Bull requires these for its subscriber / blocking clients.
      maxRetriesPerRequest: type === 'client' ? 3 : null,
      enableReadyCheck: type === 'client',
      lazyConnect: false,
      ...extra,
    };
    const client =
      typeof this.target === 'string'
        ? new Redis(this.target, options)
        : new Redis({ ...this.target, ...options });
    client.on('error', (err: Error) => this.logger.warn(`Redis ${type}: ${err.message}`));
    if (options.enableAutoPipelining) flushBeforeQuit(client);
    if (this.embedded) this.embedded.adapt(client);
    // Tracked until shutdown even after an 'end': Bull reconnects the same client object.
    this.clients.add(client);
    // Bull opens some clients lazily, even while closing: never let one outlive the app.
    if (this.closing) setImmediate(() => client.status !== 'end' && client.disconnect());
    return client;
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    const open = [...this.clients].filter((c) => c.status !== 'end');
    this.clients.clear();
    await Promise.all(
      open.map(async (c) => {
        try {
          await c.quit();
        } catch {
          if (c.status !== 'end') c.disconnect();
        }
      }),
    );
    if (this.embedded) await this.embedded.close();
  }
}

/**
 * An auto-pipelined command is written on the next setImmediate, QUIT at once: without this, a
 * command issued just before quit() (Bull closing a queue, or this service at shutdown) would go
 * out after the QUIT and fail with "Connection is closed." Commands issued before quit() go first.
 */
function flushBeforeQuit(client: Redis): void {
  const quit = client.quit.bind(client);
  client.quit = ((callback?: Parameters<Redis['quit']>[0]) =>
    new Promise<void>((resolve) => setImmediate(resolve)).then(() => quit(callback))) as Redis['quit'];
}
