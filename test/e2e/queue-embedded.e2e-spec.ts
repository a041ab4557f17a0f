import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisService } from '../../src/redis/redis.service';
import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, balanceOf, eventually, fundedUser, ledgerSum } from '../support/platform';
import { startEmbeddedTestApp, TestApp } from '../support/test-app';
import { ask, chatsOf, credits, ledgerOf, submitOk, waitForStatus } from './queue-support';

const MISTRAL: [number, number] = [0.012, 0.022];

/** The app as `npm start` runs it with no DATABASE_URL and no REDIS_URL (PGlite + in-process Redis). */
function startEmbedded(dataDir: string): Promise<TestApp> {
  return startEmbeddedTestApp(dataDir, {
    APP_ROLE: 'all',
    REDIS_PREFIX: 'le',
    HOST_CHECK_INTERVAL_MS: '60000',
    QUEUE_BACKOFF_MS: '50',
    QUEUE_MAINTENANCE_INTERVAL_MS: '500',
    SHUTDOWN_GRACE_MS: '0',
  });
}

describe('queued completions in the embedded mode (PGlite + in-process Redis)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'le-queue-embedded-'));
  let t: TestApp;
  let host: FakeHost;
  let user: { userId: string; key: string };

  beforeAll(async () => {
    host = await startFakeOllama({ models: ['mistral'], tokens: 4 });
    t = await startEmbedded(dataDir);
    expect(t.app.get(RedisService).isEmbedded).toBe(true);
    await addHost(t, 'embedded-gpu', host.url, 'ollama');
    user = await fundedUser(t, 5_000_000n);
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a task to completion with the exact result and ledger entries', async () => {
    const content = 'Embedded question';
    const id = await submitOk(t, user.key, ask('mistral', content));
    const done = await waitForStatus(t, user.key, id, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', result: 'tok0 tok1 tok2 tok3 ' });
    const reserved = credits(MISTRAL, [...content].length, 100);
    const cost = credits(MISTRAL, 2, 4);
    expect(await ledgerOf(t, id)).toEqual([
      { kind: 'reserve', amount: -reserved },
      { kind: 'settle', amount: reserved - cost },
    ]);
    expect(await balanceOf(t, user.userId)).toBe(await ledgerSum(t, user.userId));
  });

  it('finishes a task cut off by a restart: the new in-process queue is empty, recovery enqueues it again', async () => {
    host.setMode('hang');
    const id = await submitOk(t, user.key, ask('mistral', 'Across a restart'));
    await waitForStatus(t, user.key, id, ['processing']);
    const chats = chatsOf(host);
    await t.close();

    host.setMode('ok');
    t = await startEmbedded(dataDir);
    const done = await waitForStatus(t, user.key, id, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', result: 'tok0 tok1 tok2 tok3 ' });
    expect(chatsOf(host)).toBe(chats + 1);
    expect((await ledgerOf(t, id)).map((e) => e.kind)).toEqual(['reserve', 'settle']);
    await eventually(async () => (await balanceOf(t, user.userId)) === (await ledgerSum(t, user.userId)));
  });
});
