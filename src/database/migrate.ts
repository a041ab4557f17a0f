import { DataSource, MigrationExecutor } from 'typeorm';
import { PGliteInstance } from 'typeorm-pglite/dist/pglite-instance';
import type { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source';

/**
 * Key of the PostgreSQL advisory lock migrations run under: a fixed bigint ("LlmEndpo" in ASCII).
 * Two replicas starting together on an empty database: the second waits here for the first to
 * finish, then finds nothing pending.
 */
export const MIGRATION_LOCK_KEY = '5506896589339521135';

/**
 * Runs pending migrations (each in its own transaction) on one connection that holds the
 * advisory lock for the whole run. Embedded PGlite is one process and one connection: no lock.
 */
export async function runMigrationsLocked(dataSource: DataSource, embedded: boolean): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    if (!embedded) await runner.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      const ran = await executor.executePendingMigrations();
      return ran.map((m) => m.name);
    } finally {
      if (!embedded) await runner.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}

/**
 * Opens a small data source on DATABASE_URL (or the embedded database), runs the pending
 * migrations under the lock and closes it. The CLI's `migrate` and APP_ROLE=migrate use it.
 */
export async function migrateDatabase(
  settings: Pick<AppConfig, 'databaseUrl' | 'dataDir'>,
): Promise<string[]> {
  const dataSource = new DataSource(
    buildDataSourceOptions({ ...settings, databasePoolSize: 2, dbMigrate: false }),
  );
  await dataSource.initialize();
  try {
    return await runMigrationsLocked(dataSource, !settings.databaseUrl);
  } finally {
    await dataSource.destroy();
    if (!settings.databaseUrl) await PGliteInstance.close();
  }
}
