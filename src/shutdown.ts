import type { Server } from 'node:http';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { ShutdownState } from './health/shutdown-state';

export interface ShutdownTimings {
  /** After SIGTERM the server keeps accepting this long while /health/ready answers 503. */
  drainMs: number;
  /** Hard-exit deadline, counted from the signal (below the pod's terminationGracePeriodSeconds). */
  graceMs: number;
}

/** Time kept at the end of the grace period for app.close() (settles, database, Redis). */
const CLOSE_RESERVE_MS = 5000;

/**
 * Graceful stop. SIGTERM (an orchestrator): readiness turns unready and new connections are still
 * accepted for `drainMs`, so load balancers that have not yet seen the pod leave can still reach
 * it; then the server stops accepting, in-flight requests (streams included) run until the cut
 * point, what is left is cut, and the app closes (database, Redis, embedded servers). SIGINT (a
 * terminal) skips the drain delay. The process exits by `graceMs` after the signal whatever
 * happens. Nest's own app.close() closes providers before the HTTP server, so HTTP goes first.
 */
export function installGracefulShutdown(
  app: INestApplication,
  timings: ShutdownTimings,
  logger: LoggerService,
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const drainMs = signal === 'SIGTERM' ? timings.drainMs : 0;
    const started = Date.now();
    // The cut leaves room for app.close() before the hard exit, but never falls before the drain ends.
    const cutAt = Math.max(drainMs, timings.graceMs - Math.min(CLOSE_RESERVE_MS, timings.graceMs / 4));
    logger.log(
      `${signal} received: unready, accepting for ${drainMs} ms, in-flight requests until ${cutAt} ms, exit by ${timings.graceMs} ms`,
      'Shutdown',
    );
    const hardExit = setTimeout(() => process.exit(1), timings.graceMs);
    hardExit.unref();
    app.get(ShutdownState).beginDrain();
    try {
      if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
      await drainHttp(app.getHttpServer() as Server, Math.max(0, cutAt - (Date.now() - started)));
      await app.close();
      logger.log('stopped', 'Shutdown');
      process.exit(0);
    } catch (error) {
      logger.error(`shutdown failed: ${(error as Error).message}`, undefined, 'Shutdown');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

export async function drainHttp(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections become idle as their responses end; close them as they do.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const cut = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
