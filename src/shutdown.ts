import type { Server } from 'node:http';
import type { INestApplication, LoggerService } from '@nestjs/common';

/**
 * Graceful stop on SIGTERM/SIGINT: stop accepting, let in-flight requests finish for up to
 * `graceMs`, then cut what is left, then close the app (database, Redis, embedded servers).
 * Nest's own app.close() closes providers before the HTTP server, so the HTTP side goes first here.
 */
export function installGracefulShutdown(app: INestApplication, graceMs: number, logger: LoggerService): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining in-flight requests (grace ${graceMs} ms)`, 'Shutdown');
    const hardExit = setTimeout(() => process.exit(1), graceMs + 10000);
    hardExit.unref();
    try {
      await drainHttp(app.getHttpServer() as Server, graceMs);
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
