import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { startEmbeddedTestApp } from '../support/test-app';
import { DataSource } from 'typeorm';
import { RedisService } from '../../src/redis/redis.service';

describe('embedded mode (no DATABASE_URL, no REDIS_URL)', () => {
  let app: NestExpressApplication;
  let url: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'le-embedded-'));

  beforeAll(async () => {
    const t = await startEmbeddedTestApp(dataDir);
    app = t.app;
    url = t.url;
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the database in DATA_DIR and Redis in-process', () => {
    expect(existsSync(join(dataDir, 'pglite'))).toBe(true);
    expect(app.get(RedisService).isEmbedded).toBe(true);
  });

  it('serves /health, /health/ready, /docs and /redoc', async () => {
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok' });
    // Ready without a GPU host: the embedded database and Redis are up.
    const readyRes = await fetch(`${url}/health/ready`);
    expect(readyRes.status).toBe(200);
    const ready = (await readyRes.json()) as {
      details: Record<string, { status: string }>;
    };
    expect(ready.details.database?.status).toBe('up');
    expect(ready.details.redis?.status).toBe('up');
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    expect((await fetch(`${url}/redoc`)).status).toBe(200);
  });

  it('the embedded Redis runs Lua scripts and blocking moves as Bull needs', async () => {
    const redis = app.get(RedisService).client;
    await redis.lpush('le-embedded-test:src', 'job');
    const moved = await redis.blmove('le-embedded-test:src', 'le-embedded-test:dst', 'RIGHT', 'LEFT', 1);
    expect(moved).toBe('job');
    expect(await redis.eval("return redis.call('LLEN', KEYS[1])", 1, 'le-embedded-test:dst')).toBe(1);
  });

  it('runs concurrent transactions one at a time on the single embedded connection', async () => {
    const db = app.get(DataSource);
    await db.query('CREATE TABLE tx_probe (id int)');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        db.transaction(async (m) => {
          await m.query('INSERT INTO tx_probe (id) VALUES ($1)', [i]);
          await new Promise((r) => setTimeout(r, 5));
          if (i % 2 === 1) throw new Error('roll back');
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(5);
    const rows = (await db.query('SELECT id FROM tx_probe ORDER BY id')) as { id: number }[];
    expect(rows.map((r) => r.id)).toEqual([0, 2, 4, 6, 8]);
  });
});
