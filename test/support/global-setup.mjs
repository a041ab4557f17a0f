// Creates a fresh PostgreSQL database for this test run; global-teardown.mjs drops it.
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
  process.env.LE_TEST_DATABASE_URL = url.toString();
  process.env.LE_TEST_DATABASE_NAME = name;
  process.env.LE_TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}
