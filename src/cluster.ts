import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ConfigError } from './config/env.schema';

/**
 * WEB_CONCURRENCY > 1: that many API processes share PORT through `node:cluster` (the primary
 * accepts and hands connections out round-robin). Every process is a full app; they share state
 * through PostgreSQL and Redis as replicas do, so the embedded database and Redis, which live
 * inside one process, cannot be used, and only the roles that serve the API may run several.
 */
export function clusterSize(env: Record<string, unknown>): number {
  const size = Number(env.WEB_CONCURRENCY ?? 1);
  if (size <= 1) return 1;
  const role = String(env.APP_ROLE);
  if (role !== 'api' && role !== 'all')
    throw new ConfigError(
      `Invalid configuration: WEB_CONCURRENCY: several processes serve APP_ROLE=api or all, not ${role}`,
    );
  if (!env.DATABASE_URL || !env.REDIS_URL)
    throw new ConfigError(
      'Invalid configuration: WEB_CONCURRENCY: several processes need DATABASE_URL and REDIS_URL (the embedded database and Redis live inside one process)',
    );
  return size;
}

/**
 * The primary: forks `size` app processes and serves nothing itself. A process that fails before
 * all are listening stops the start (exit 1, as a single process would); one that dies later is
 * replaced. SIGTERM or SIGINT is passed on as SIGTERM (each process drains as in shutdown.ts) and
 * the primary exits when all have, 0 if all stopped cleanly.
 */
export function runPrimary(size: number, logger: Logger): void {
  let listening = 0;
  let stopping = false;
  let failed = false;
  const alive = new Set<Worker>();
  const fork = () => {
    const worker = cluster.fork();
    alive.add(worker);
    worker.once('listening', () => {
      listening++;
      if (listening === size) logger.info({ context: 'Cluster', processes: size }, 'all processes listening');
    });
    worker.once('exit', (code, signal) => onExit(worker, code, signal));
  };
  const onExit = (worker: Worker, code: number | null, signal: string | null) => {
    alive.delete(worker);
    if (code !== 0) failed = true;
    if (stopping) {
      if (alive.size === 0) process.exit(failed ? 1 : 0);
      return;
    }
    if (listening < size) {
      logger.error(
        { context: 'Cluster', pid: worker.process.pid, code, signal },
        'a process failed to start',
      );
      stop();
      return;
    }
    listening--;
    logger.warn(
      { context: 'Cluster', pid: worker.process.pid, code, signal },
      'a process died, replacing it',
    );
    fork();
  };
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (alive.size === 0) process.exit(failed ? 1 : 0);
    for (const worker of alive) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < size; i++) fork();
}
