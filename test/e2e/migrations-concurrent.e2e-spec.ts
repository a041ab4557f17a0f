import pg from 'pg';
import { migrations } from '../../migrations';
import { freshDatabase } from '../support/databases';
import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';

async function appliedMigrations(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const rows = (await c.query('SELECT name FROM migrations ORDER BY id')).rows as { name: string }[];
    return rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

const expected = migrations.map((m) => m.name);

describe('migrations under a PostgreSQL advisory lock', () => {
  it('two app replicas started together on one empty database both come up', async () => {
    const db = await freshDatabase('migrate');
    const ports = [randomPort(), randomPort() + 1];
    const apps = ports.map((port) =>
      spawnBuilt('dist/src/main.js', [], {
        DATABASE_URL: db.url,
        REDIS_URL: process.env.LE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_PREFIX: `le-test-migrate-${port}`,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SHUTDOWN_DRAIN_MS: '0',
      }),
    );
    try {
      for (const port of ports) await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 45000);
      for (const app of apps) expect(app.child.exitCode).toBeNull();
      expect(apps.map((a) => a.err())).toEqual(['', '']);
      // Each migration ran exactly once.
      expect(await appliedMigrations(db.url)).toEqual(expected);
      for (const app of apps) app.child.kill('SIGTERM');
      for (const app of apps) expect((await app.exit)[0]).toBe(0);
    } finally {
      for (const app of apps) if (app.child.exitCode === null) app.child.kill('SIGKILL');
      await db.drop();
    }
  });

  it('APP_ROLE=migrate runs the migrations and exits; a second run finds nothing pending', async () => {
    const db = await freshDatabase('migrate');
    try {
      const env = { DATABASE_URL: db.url, APP_ROLE: 'migrate', LOG_LEVEL: 'info' };
      const first = spawnBuilt('dist/src/main.js', [], env);
      const second = spawnBuilt('dist/src/main.js', [], env);
      expect((await first.exit)[0]).toBe(0);
      expect((await second.exit)[0]).toBe(0);
      const applied = [first, second].map(
        (p) => (JSON.parse(p.out().trim()) as { applied: string[] }).applied,
      );
      // Started together: one applied everything, the other waited for the lock and found nothing.
      expect(applied.map((a) => a.length).sort((a, b) => a - b)).toEqual([0, expected.length]);
      expect(await appliedMigrations(db.url)).toEqual(expected);
      const again = spawnBuilt('dist/src/main.js', [], env);
      expect((await again.exit)[0]).toBe(0);
      expect((JSON.parse(again.out().trim()) as { applied: string[] }).applied).toEqual([]);
    } finally {
      await db.drop();
    }
  });
});
