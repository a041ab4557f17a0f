import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations';
import type { AppConfig } from '../config/app-config';
import { serializedPGliteDriver } from './serialized-pglite';

export type DatabaseSettings = Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'databasePoolSize' | 'dbMigrate'> &
  Partial<Pick<AppConfig, 'databaseConnectTimeoutMs'>>;

/**
 * TypeORM options: PostgreSQL through `pg` when DATABASE_URL is set, otherwise an embedded
 * PostgreSQL (PGlite) persisted in DATA_DIR/pglite. Same migrations on both; never synchronize.
 */
export function buildDataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    synchronize: false,
    migrations,
    // Read by DatabaseModule, which runs them under an advisory lock (migrate.ts), not initialize().
    migrationsRun: settings.dbMigrate,
    migrationsTransactionMode: 'each' as const,
    logging: ['error' as const],
    // Migrations own the schema; PG 13+ has gen_random_uuid() built in (PGlite ships no extensions).
    installExtensions: false,
    uuidExtension: 'pgcrypto' as const,
  };
  if (settings.databaseUrl) {
    return {
      ...common,
      url: settings.databaseUrl,
      poolSize: settings.databasePoolSize,
      // Also the longest wait for a pooled connection: a request never hangs on a dead database.
      extra: { connectionTimeoutMillis: settings.databaseConnectTimeoutMs ?? 3000 },
    };
  }
  const dir = resolve(settings.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  return {
    ...common,
    driver: serializedPGliteDriver(dir),
    poolSize: 1,
  };
}

/** Where the embedded database lives, for messages. */
export function describeDatabase(settings: Pick<AppConfig, 'databaseUrl' | 'dataDir'>): string {
  if (!settings.databaseUrl) return `embedded PostgreSQL (PGlite) in ${resolve(settings.dataDir, 'pglite')}`;
  try {
    const url = new URL(settings.databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'DATABASE_URL';
  }
}
