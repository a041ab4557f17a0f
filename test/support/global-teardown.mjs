import pg from 'pg';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Drops the run's template database and every suite's copy of it (suite-database.ts). */
export default async function globalTeardown() {
  const name = process.env.LE_TEST_TEMPLATE_DATABASE;
  if (!name || process.env.LE_KEEP_TEST_DB) return;
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  const copies = await client.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${name}\\_s%`]);
  for (const { datname } of copies.rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}
