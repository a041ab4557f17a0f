import 'reflect-metadata';
import pino from 'pino';
import { createApp } from './app.factory';
import { AppConfig } from './config/app-config';
import { loadEnv } from './config/config.module';
import { migrateDatabase } from './database/migrate';
import { AppLogger } from './logging/app-logger';
import { describeStartupError } from './startup-error';
import { installGracefulShutdown } from './shutdown';

async function main(): Promise<void> {
  const env = loadEnv();
  if (env.APP_ROLE === 'migrate') return migrateAndExit(env);
  const app = await createApp();
  const config = app.get(AppConfig);
  const logger = app.get(AppLogger);
  installGracefulShutdown(app, { drainMs: config.shutdownDrainMs, graceMs: config.shutdownGraceMs }, logger);
  await app.listen(config.port, config.host);
  logger.log(`LlmEndpoint (${config.role}) listening on http://${config.host}:${config.port}`, 'Main');
}

/** APP_ROLE=migrate (a Kubernetes Job, an init container): run the migrations, print them, exit. */
async function migrateAndExit(env: Record<string, unknown>): Promise<void> {
  const ran = await migrateDatabase({
    databaseUrl: (env.DATABASE_URL as string) || undefined,
    dataDir: env.DATA_DIR as string,
  });
  pino({ level: env.LOG_LEVEL as string }).info({ context: 'Migrate', applied: ran }, 'migrations done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${describeStartupError(error)}\n`);
  process.exit(1);
});
