import pg from 'pg';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export default async function globalTeardown() {
  const name = process.env.LE_TEST_DATABASE_NAME;
  if (!name || process.env.LE_KEEP_TEST_DB) return;
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}
