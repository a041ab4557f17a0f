import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.factory';
import { billingOf } from './billing';
import { isolatedEmbeddedEnv } from '../../src/config/isolated-env';

export interface TestApp {
  app: NestExpressApplication;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Redis key prefix unique to this app (Bull queues, counters). */
  redisPrefix: string;
  /** The app's DataSource; its `query` first waits for settles still running after their answers. */
  dataSource: DataSource;
  close(): Promise<void>;
}

/** Listens on a free loopback port and wraps the app as a TestApp. */
async function listen(app: NestExpressApplication, redisPrefix: string): Promise<TestApp> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    redisPrefix,
    dataSource: settledReads(app),
    close: () => app.close(),
  };
}

/**
 * The app as `npm start` runs it with no DATABASE_URL and no REDIS_URL: embedded PostgreSQL
 * (PGlite) in `dataDir`, in-process Redis. `env` overrides any setting.
 */
export async function startEmbeddedTestApp(
  dataDir: string,
  env: Record<string, string | undefined> = {},
): Promise<TestApp> {
  const app = await createApp({ ignoreEnvFile: true, env: { ...isolatedEmbeddedEnv(dataDir), ...env } });
  return listen(app, env.REDIS_PREFIX ?? 'le');
}

/**
 * Boots the real application on this test file's own PostgreSQL database (suite-database.ts) and
 * the real Redis, listening on a free loopback port. `env` overrides any setting.
 */
export async function startTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const databaseUrl = process.env.LE_TEST_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('LE_TEST_DATABASE_URL is unset: run e2e tests through jest (global-setup)');
  const redisPrefix = `le-test-${randomBytes(4).toString('hex')}`;
  const app = await createApp({
    ignoreEnvFile: true,
    env: {
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_PREFIX: redisPrefix,
      LOG_LEVEL: process.env.LE_TEST_LOG_LEVEL ?? 'silent',
      HOSTS: '',
      ADMIN_API_KEY: undefined,
      TRUST_PROXY: '',
      ...env,
    },
  });
  return listen(app, redisPrefix);
}

/**
 * Answers go out before their settle finishes (the API's own reads wait for it, see
 * SettleTracker); raw SQL in tests waits the same way, so it sees the settled books.
 */
function settledReads(app: NestExpressApplication): DataSource {
  const dataSource = app.get(DataSource);
  const billing = billingOf(app);
  const query = async (...args: Parameters<DataSource['query']>) => {
    await billing.settled();
    return dataSource.query(...args);
  };
  return new Proxy(dataSource, {
    get: (target, prop) => (prop === 'query' ? query : Reflect.get(target, prop, target)),
  });
}
