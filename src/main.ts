import 'reflect-metadata';
import cluster from 'node:cluster';
import pino from 'pino';
import { clusterSize, runPrimary } from './cluster';
import { loadEnv } from './config/config.module';
import { describeStartupError } from './startup-error';

async function main(): Promise<void> {
  const env = loadEnv();
  if (env.APP_ROLE === 'migrate') return migrateAndExit(env);
  const processes = clusterSize(env);
  if (processes > 1 && cluster.isPrimary) {
    runPrimary(processes, pino({ level: env.LOG_LEVEL as string }));
    return;
  }
  // Loaded here, not above: a cluster primary serves nothing and needs none of the app in memory.
  const { serve } = await import('./serve.js');
  await serve();
}

/** APP_ROLE=migrate (a Kubernetes Job, an init container): run the migrations, print them, exit. */
async function migrateAndExit(env: Record<string, unknown>): Promise<void> {
  const { migrateDatabase } = await import('./database/migrate.js');
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
