import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { HostsService } from '../../src/hosts/hosts.service';
import { TASKS_QUEUE } from '../../src/queue/queue.constants';
import { RedisService } from '../../src/redis/redis.service';
import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, balanceOf, eventually, fundedUser, ledgerSum } from '../support/platform';
import { ask, chatsOf, credits, ledgerOf, QueueCluster, submitOk, waitForStatus } from './queue-support';

const GEMMA2: [number, number] = [0.016, 0.026];

async function taskRow(cluster: QueueCluster, id: string) {
  const rows = (await cluster.api.dataSource.query(
    `SELECT status, attempts, worker FROM tasks WHERE id = $1`,
    [id],
  )) as { status: string; attempts: number; worker: string | null }[];
  return rows[0]!;
}

describe('queue workers: a worker dying mid-job', () => {
  // Short Bull locks so the stall check reruns a dead worker's job within a few seconds; not so
  // short that a live worker on a busy machine could miss a renewal and look stalled itself.
  const cluster = new QueueCluster({
    QUEUE_LOCK_DURATION_MS: '2500',
    QUEUE_STALLED_INTERVAL_MS: '500',
    SHUTDOWN_GRACE_MS: '0',
  });
  let host: FakeHost;
  let hostId: string;
  let user: { userId: string; key: string };

  beforeAll(async () => {
    await cluster.start(0);
    host = await startFakeOllama({ models: ['gemma2'], tokens: 5 });
    hostId = await addHost(cluster.api, `qw-${cluster.prefix}`, host.url, 'ollama');
    user = await fundedUser(cluster.api, 10_000_000n);
  });
  afterAll(async () => {
    await cluster.api?.app.get(HostsService).remove(hostId);
    await cluster.close();
    await host?.close();
  });

  it('reruns the job on another worker when the first is closed without completing: completed once, billed once', async () => {
    await cluster.closeWorkers();
    const first = await cluster.addWorker();
    host.setMode('hang');
    const content = 'Survive the crash';
    const id = await submitOk(cluster.api, user.key, ask('gemma2', content));
    await waitForStatus(cluster.api, user.key, id, ['processing']);
    await eventually(async () => chatsOf(host) === 1);

    await cluster.closeWorker(first);
    host.setMode('ok');
    await cluster.addWorker();
    const done = await waitForStatus(cluster.api, user.key, id, ['completed', 'failed']);

    expect(done).toMatchObject({ status: 'completed', result: 'tok0 tok1 tok2 tok3 tok4 ' });
    expect(chatsOf(host)).toBe(2);
    expect((await taskRow(cluster, id)).attempts).toBe(2);
    const reserved = credits(GEMMA2, [...content].length, 100);
    const cost = credits(GEMMA2, 3, 5);
    expect(await ledgerOf(cluster.api, id)).toEqual([
      { kind: 'reserve', amount: -reserved },
      { kind: 'settle', amount: reserved - cost },
    ]);
    expect(await balanceOf(cluster.api, user.userId)).toBe(await ledgerSum(cluster.api, user.userId));
  });

  it("reruns a job through Bull's stall check when its worker lost Redis mid-job: completed once, billed once", async () => {
    await cluster.closeWorkers();
    const first = await cluster.addWorker();
    host.setMode('hang');
    const before = chatsOf(host);
    const id = await submitOk(cluster.api, user.key, ask('gemma2', 'Lost my connection'));
    await waitForStatus(cluster.api, user.key, id, ['processing']);
    // 'processing' is written before the worker's request reaches the host: had it arrived after
    // the mode below went back to 'ok', the first worker would have finished the task itself.
    await eventually(async () => chatsOf(host) === before + 1);
    const chats = chatsOf(host);
    // The worker can no longer renew its Bull lock nor report on the job.
    const cutOff = first.app.get<Queue>(getQueueToken(TASKS_QUEUE)) as Queue & { bclient: Queue['client'] };
    cutOff.client.disconnect();
    cutOff.bclient.disconnect();
    // For good: Bull's close() reconnects its blocking client, which would let the stopping
    // worker report the job as failed, and the rerun would then come as a new job.
    cutOff.client.connect = cutOff.bclient.connect = () => Promise.resolve();
    host.setMode('ok');
    // Stopped, it gives the task back in PostgreSQL, but its Bull job stays active under a lock
    // nobody renews. Only then a second worker starts: its stall check must rerun the job (had it
    // started first, it could take the job while the first still leased the task, and the rerun
    // would come through a new job instead).
    await cluster.closeWorker(first);
    await cluster.addWorker();
    const done = await waitForStatus(cluster.api, user.key, id, ['completed', 'failed']);

    expect(done).toMatchObject({ status: 'completed', result: 'tok0 tok1 tok2 tok3 tok4 ' });
    const redis = cluster.api.app.get(RedisService).client;
    expect(await redis.hget(`${cluster.prefix}:bull:${TASKS_QUEUE}:${id}`, 'stalledCounter')).toBe('1');
    expect(chatsOf(host)).toBe(chats + 1);
    expect((await taskRow(cluster, id)).attempts).toBe(2);
    expect((await ledgerOf(cluster.api, id)).map((e) => e.kind)).toEqual(['reserve', 'settle']);
    expect(await balanceOf(cluster.api, user.userId)).toBe(await ledgerSum(cluster.api, user.userId));
  });

  it('leaves a task to the worker holding its lease, and takes it over once that lease runs out', async () => {
    await cluster.closeWorkers();
    const id = await submitOk(cluster.api, user.key, ask('gemma2', 'Orphaned'));
    // As a worker killed outright (no chance to give the task back) leaves it: still leased.
    await cluster.api.dataSource.query(
      `UPDATE tasks SET status = 'processing', attempts = 1, worker = 'dead',
         lease_expires_at = now() + interval '1 hour' WHERE id = $1`,
      [id],
    );
    const chats = chatsOf(host);
    await cluster.addWorker();
    const queue = cluster.api.app.get<Queue>(getQueueToken(TASKS_QUEUE));
    await eventually(async () => (await (await queue.getJob(id))?.isActive()) === true);
    // The job runs, but the lease holder is presumed alive: nothing is called, nothing changes.
    expect(await taskRow(cluster, id)).toMatchObject({ status: 'processing', attempts: 1, worker: 'dead' });
    expect(chatsOf(host)).toBe(chats);

    await cluster.api.dataSource.query(`UPDATE tasks SET lease_expires_at = now() WHERE id = $1`, [id]);
    await eventually(async () => (await taskRow(cluster, id)).status === 'completed', 20000);
    const row = await taskRow(cluster, id);
    expect(row.attempts).toBe(2);
    expect(row.worker).not.toBe('dead');
    expect(chatsOf(host)).toBe(chats + 1);
    expect((await ledgerOf(cluster.api, id)).map((e) => e.kind)).toEqual(['reserve', 'settle']);
  });
});

describe('queue workers: 500 tasks from 5 users on two workers', () => {
  const cluster = new QueueCluster({ QUEUE_CONCURRENCY: '16' });
  const hosts: FakeHost[] = [];
  const hostIds: string[] = [];

  beforeAll(async () => {
    await cluster.start(0);
    for (let i = 0; i < 2; i++) {
      const host = await startFakeOllama({ models: ['llama3.2'], tokens: 3 });
      hosts.push(host);
      hostIds.push(await addHost(cluster.api, `qw-load-${i}-${cluster.prefix}`, host.url, 'ollama'));
    }
    await cluster.addWorker();
    await cluster.addWorker();
  });
  afterAll(async () => {
    const service = cluster.api?.app.get(HostsService);
    for (const id of hostIds) await service?.remove(id);
    await cluster.close();
    for (const h of hosts) await h.close();
  });

  it('completes every task exactly once and every balance equals its ledger', async () => {
    const users: { userId: string; key: string }[] = [];
    for (let i = 0; i < 5; i++) users.push(await fundedUser(cluster.api, 100_000_000n));
    const jobs = Array.from({ length: 500 }, (_, i) => ({
      user: users[i % 5]!,
      content: `Question number ${i}`,
    }));
    const ids: string[] = [];
    for (let i = 0; i < jobs.length; i += 25) {
      const batch = jobs.slice(i, i + 25);
      ids.push(
        ...(await Promise.all(
          batch.map((j) => submitOk(cluster.api, j.user.key, ask('llama3.2', j.content))),
        )),
      );
    }
    expect(new Set(ids).size).toBe(500);

    const count = async (sql: string): Promise<number> =>
      ((await cluster.api.dataSource.query(sql, [ids])) as { n: number }[])[0]!.n;
    await eventually(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND status = 'completed'`)) ===
        500,
      50000,
    );

    // No task ran twice: one backend call, one claim and one reserve + one settle each.
    expect(hosts.reduce((n, h) => n + chatsOf(h), 0)).toBe(500);
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND attempts <> 1`)).toBe(0);
    expect(
      await count(
        `SELECT count(*)::int AS n FROM credit_ledger WHERE request_id = ANY($1::text[]) AND kind = 'reserve'`,
      ),
    ).toBe(500);
    expect(
      await count(
        `SELECT count(*)::int AS n FROM credit_ledger WHERE request_id = ANY($1::text[]) AND kind = 'settle'`,
      ),
    ).toBe(500);
    // Both workers took part.
    expect(await count(`SELECT count(DISTINCT worker)::int AS n FROM tasks WHERE id = ANY($1)`)).toBe(2);

    for (const u of users) {
      const balance = await balanceOf(cluster.api, u.userId);
      expect(balance).toBe(await ledgerSum(cluster.api, u.userId));
      const charged = (await cluster.api.dataSource.query(
        `SELECT COALESCE(SUM(credits), 0)::text AS sum FROM tasks WHERE user_id = $1`,
        [u.userId],
      )) as { sum: string }[];
      expect(100_000_000n - balance).toBe(BigInt(charged[0]!.sum));
    }
  });
});
