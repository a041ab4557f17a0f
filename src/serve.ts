import { createApp } from './app.factory';
import { AppConfig } from './config/app-config';
import { AppLogger } from './logging/app-logger';
import { installGracefulShutdown } from './shutdown';

/** One API (or worker) process: the app, listening, with graceful shutdown (main.ts starts it). */
export async function serve(): Promise<void> {
  const app = await createApp();
  const config = app.get(AppConfig);
  const logger = app.get(AppLogger);
  installGracefulShutdown(app, { drainMs: config.shutdownDrainMs, graceMs: config.shutdownGraceMs }, logger);
  await app.listen(config.port, config.host);
  logger.log(`LlmEndpoint (${config.role}) listening on http://${config.host}:${config.port}`, 'Main');
}
