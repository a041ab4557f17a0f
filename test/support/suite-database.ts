// Runs before every e2e file (jest setupFilesAfterEnv): the file gets its own database, a copy of
// the run's migrated template (global-setup.mjs). Jest gives each file its own process.env, so
// LE_TEST_DATABASE_URL names this file's copy for its test apps and the processes it spawns.
// global-teardown.mjs drops the copies at the end of the run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

beforeAll(async () => {
  const template = process.env.LE_TEST_TEMPLATE_DATABASE;
  const adminUrl = process.env.LE_TEST_ADMIN_URL;
  if (!template || !adminUrl) return;
  const name = `${template}_s${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  process.env.LE_TEST_DATABASE_URL = url.toString();
  process.env.LE_TEST_DATABASE_NAME = name;
});
