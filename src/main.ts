import 'reflect-metadata';
import { createApp } from './app.factory';
import { AppConfig } from './config/app-config';
import { AppLogger } from './logging/app-logger';
import { describeStartupError } from './startup-error';
import { installGracefulShutdown } from './shutdown';

async function main(): Promise<void> {
  const app = await createApp();
  const config = app.get(AppConfig);
  const logger = app.get(AppLogger);
  installGracefulShutdown(app, config.shutdownGraceMs, logger);
  await app.listen(config.port, config.host);
  logger.log(`LlmEndpoint (${config.role}) listening on http://${config.host}:${config.port}`, 'Main');
}

main().catch((error: unknown) => {
  process.stderr.write(`${describeStartupError(error)}\n`);
  process.exit(1);
});
