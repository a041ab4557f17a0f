// Creates this run's template database, migrated once; every e2e file gets its own copy of it
// (suite-database.ts), so no suite meets the hosts, users or keys another suite left behind.
// global-teardown.mjs drops the template and every copy.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import pg from 'pg';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export default async function globalSetup() {
  const name = `le_test_${process.pid}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  // `npm test` builds first (pretest); run alone without a build, the copies start empty and
  // each suite's first app migrates its own copy at boot, as a new deployment does.
  if (existsSync('dist/src/cli.js')) {
    const migrated = spawnSync(process.execPath, ['dist/src/cli.js', 'migrate'], {
      env: { ...process.env, DATABASE_URL: url.toString(), LOG_LEVEL: 'warn' },
      encoding: 'utf8',
    });
    if (migrated.status !== 0) throw new Error(`migrating the test template failed:\n${migrated.stderr}`);
  }
  process.env.LE_TEST_ADMIN_URL = ADMIN_URL;
  process.env.LE_TEST_TEMPLATE_DATABASE = name;
  process.env.LE_TEST_DATABASE_URL = url.toString();
  process.env.LE_TEST_DATABASE_NAME = name;
  process.env.LE_TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}
