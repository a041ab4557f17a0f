import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { SqlDatabase } from '../../src/database/sql-database';
import { HostsService } from '../../src/hosts/hosts.service';
import { TASKS_QUEUE } from '../../src/queue/queue.constants';
import { TaskJobs } from '../../src/queue/task-jobs';
import { TaskMaintenance } from '../../src/queue/task-maintenance';
import type { Task } from '../../src/queue/task.types';
import { TasksStore } from '../../src/queue/tasks.store';
import { verifyWebhookSignature } from '../../src/queue/webhook-signature';
import { RedisService } from '../../src/redis/redis.service';
import { FakeHost, startFakeOllama } from '../fakes';
import { statementRows } from '../support/billing';
import { addHost, balanceOf, eventually, fundedUser, ledgerSum } from '../support/platform';
import {
  ask,
  cancelTask,
  credits,
  getTask,
  chatsOf,
  ledgerOf,
  QueueCluster,
  submit,
  submitOk,
  waitForStatus,
} from './queue-support';

const QWEN2: [number, number] = [0.017, 0.027];

/** Records the names of the named statements an app sends (they still run) until `stop()`. */
function recordStatements(sql: SqlDatabase): { statements: string[]; stop: () => void } {
  const run = sql.run;
  const statements: string[] = [];
  (sql as { run: typeof run }).run = (name, text, values) => (statements.push(name), run(name, text, values));
  return { statements, stop: () => ((sql as { run: typeof run }).run = run) };
}
/** A new task row for TasksStore.insert (no hold, no job): a chat of `content` on qwen2. */
function newTaskRow(userId: string, content: string, idempotencyKey: string | null) {
  return {
    id: randomUUID(),
    userId,
    keyId: null,
    request: {
      kind: 'chat' as const,
      model: 'qwen2',
      messages: [{ role: 'user' as const, content }],
      maxTokens: 5,
      stream: false,
    },
    creditsReserved: 7n,
    webhookUrl: null,
    idempotencyKey,
    requestHash: idempotencyKey ? 'h' : null,
  };
}
const SECRET = 'queue-test-secret';

describe('queued completions (/api/v1/qcompletions) on PostgreSQL + Redis', () => {
  const cluster = new QueueCluster({
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    QUEUE_ATTEMPTS: '2',
  });
  let good: FakeHost;
  let broken: FakeHost[];
  const hostIds: string[] = [];
  let alice: { userId: string; key: string };
  let bob: { userId: string; key: string };

  beforeAll(async () => {
    // Only the API replica at first: tasks stay queued until a test starts a worker.
    await cluster.start(0);
    good = await startFakeOllama({ models: ['qwen2'], tokens: 5, tokenDelayMs: 150 });
    broken = [await startFakeOllama({ models: ['zephyr'] }), await startFakeOllama({ models: ['zephyr'] })];
    hostIds.push(await addHost(cluster.api, `q-good-${cluster.prefix}`, good.url, 'ollama'));
    for (const [i, b] of broken.entries())
      hostIds.push(await addHost(cluster.api, `q-broken-${i}-${cluster.prefix}`, b.url, 'ollama'));
    // Healthy when registered, failing every completion afterwards.
    broken[0]!.setMode('error503');
    broken[1]!.setMode('error500');
    alice = await fundedUser(cluster.api, 10_000_000n);
    bob = await fundedUser(cluster.api, 10_000_000n);
  });
  afterAll(async () => {
    const hosts = cluster.api?.app.get(HostsService);
    for (const id of hostIds) await hosts?.remove(id);
    await cluster.close();
    for (const h of [good, ...(broken ?? [])]) await h?.close();
  });

  const worker = async () => cluster.workers[0] ?? (await cluster.addWorker());

  it('runs queued → processing → completed with the exact result and ledger entries', async () => {
    const content = 'How does quantum computing work?';
    const before = await balanceOf(cluster.api, alice.userId);
    const res = await submit(cluster.api, alice.key, ask('qwen2', content, { temperature: 0.7 }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      task_id: expect.any(String),
      message: 'Request queued successfully',
    });
    const id = res.body.task_id as string;

    // Reserved at submit, before any worker exists; the API replica does not consume.
    const reserved = credits(QWEN2, [...content].length, 100);
    expect(before - (await balanceOf(cluster.api, alice.userId))).toBe(reserved);
    const queued = (await getTask(cluster.api, alice.key, id)).body;
    expect(queued).toMatchObject({ success: true, status: 'queued', started_at: null, finished_at: null });
    expect(queued).not.toHaveProperty('result');
    expect(chatsOf(good)).toBe(0);

    await worker();
    await waitForStatus(cluster.api, alice.key, id, ['processing', 'completed']);
    const done = await waitForStatus(cluster.api, alice.key, id, ['completed', 'failed']);
    expect(done).toMatchObject({
      success: true,
      task_id: id,
      status: 'completed',
      result: 'tok0 tok1 tok2 tok3 tok4 ',
      usage: { input_tokens: 5, output_tokens: 5 },
    });
    const cost = credits(QWEN2, 5, 5);
    expect(BigInt(done.credits as number)).toBe(cost);
    const created = Date.parse(done.created_at as string);
    const started = Date.parse(done.started_at as string);
    const finished = Date.parse(done.finished_at as string);
    expect(created).toBeLessThanOrEqual(started);
    expect(started).toBeLessThanOrEqual(finished);

    expect(await ledgerOf(cluster.api, id)).toEqual([
      { kind: 'reserve', amount: -reserved },
      { kind: 'settle', amount: reserved - cost },
    ]);
    expect(before - (await balanceOf(cluster.api, alice.userId))).toBe(cost);
    expect(await balanceOf(cluster.api, alice.userId)).toBe(await ledgerSum(cluster.api, alice.userId));
    expect(chatsOf(good)).toBe(1);
  });

  it('reads the hold with the claim: the settle makes no read of its own and charges exactly', async () => {
    const { statements, stop } = recordStatements((await worker()).app.get(SqlDatabase));
    try {
      const content = 'Hold on';
      const id = await submitOk(cluster.api, alice.key, ask('qwen2', content));
      const done = await waitForStatus(cluster.api, alice.key, id, ['completed', 'failed']);
      const usage = done.usage as { input_tokens: number; output_tokens: number };
      const cost = credits(QWEN2, usage.input_tokens, usage.output_tokens);
      expect(BigInt(done.credits as number)).toBe(cost);
      const reserved = credits(QWEN2, [...content].length, 100);
      expect(await ledgerOf(cluster.api, id)).toEqual([
        { kind: 'reserve', amount: -reserved },
        { kind: 'settle', amount: reserved - cost },
      ]);
    } finally {
      stop();
    }
    expect(statements).toContain('le_tasks_claim_set');
    expect(statements).toContain('le_tasks_complete_set');
    expect(statements).not.toContain('le_reservations_open_hold');
  });

  it('asks the backend for JSON with output_format "json"', async () => {
    await worker();
    const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Give JSON', { output_format: 'json' }));
    await waitForStatus(cluster.api, alice.key, id, ['completed']);
    const chat = good.requests.filter((r) => r.path === '/api/chat').at(-1);
    expect((chat?.body as { format?: unknown }).format).toBe('json');
  });

  it('fails on every host → failed with a message and a full refund', async () => {
    await worker();
    const before = await balanceOf(cluster.api, alice.userId);
    const id = await submitOk(cluster.api, alice.key, ask('zephyr', 'Nobody can answer this'));
    const done = await waitForStatus(cluster.api, alice.key, id, ['failed', 'completed']);
    expect(done).toMatchObject({ status: 'failed', error: 'Max attempts reached - no available hosts' });
    expect(done).not.toHaveProperty('result');
    expect(await balanceOf(cluster.api, alice.userId)).toBe(before);
    const ledger = await ledgerOf(cluster.api, id);
    expect(ledger.map((e) => e.kind)).toEqual(['reserve', 'refund']);
    expect(ledger[0]!.amount + ledger[1]!.amount).toBe(0n);
    // QUEUE_ATTEMPTS=2: tried again after the first round failed (the hosts may be cooling down by then).
    expect(broken.reduce((n, b) => n + chatsOf(b), 0)).toBeGreaterThanOrEqual(2);
  });

  it('refuses what the synchronous API refuses, with the same errors, and changes nothing', async () => {
    const before = await balanceOf(cluster.api, alice.userId);
    expect(await submit(cluster.api, alice.key, '{oops')).toEqual({
      status: 400,
      body: { success: false, message: 'Invalid request' },
    });
    expect(await submit(cluster.api, alice.key, { model: 'qwen2', max_tokens: 5 })).toEqual({
      status: 400,
      body: { success: false, message: 'messages, model, max_tokens, and temperature are required' },
    });
    expect(await submit(cluster.api, alice.key, ask('qwen2', 'x', { output_format: 'yaml' }))).toEqual({
      status: 400,
      body: { success: false, message: 'Invalid request' },
    });
    expect(await submit(cluster.api, alice.key, ask('no-such-model', 'x'))).toEqual({
      status: 400,
      body: { success: false, message: 'Model pricing not found' },
    });
    const poor = await fundedUser(cluster.api, 10n);
    expect(await submit(cluster.api, poor.key, ask('qwen2', 'x'))).toEqual({
      status: 402,
      body: { success: false, message: 'Insufficient credits' },
    });
    expect(await balanceOf(cluster.api, alice.userId)).toBe(before);
    const rows = (await cluster.api.dataSource.query(
      `SELECT count(*)::int AS n FROM tasks WHERE user_id = $1`,
      [poor.userId],
    )) as { n: number }[];
    expect(rows[0]!.n).toBe(0);
  });

  it('cancels a queued task with a refund; a second cancel changes nothing', async () => {
    await cluster.closeWorkers();
    const before = await balanceOf(cluster.api, alice.userId);
    const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Cancel me'));
    expect(await balanceOf(cluster.api, alice.userId)).toBeLessThan(before);

    const first = await cancelTask(cluster.api, alice.key, id);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ success: true, status: 'cancelled', message: 'Task cancelled' });
    expect(await balanceOf(cluster.api, alice.userId)).toBe(before);
    const ledger = await ledgerOf(cluster.api, id);
    expect(ledger.map((e) => e.kind)).toEqual(['reserve', 'refund']);

    const second = await cancelTask(cluster.api, alice.key, id);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ status: 'cancelled' });
    expect(await ledgerOf(cluster.api, id)).toEqual(ledger);
    expect(await balanceOf(cluster.api, alice.userId)).toBe(before);

    // A worker started now never runs it.
    const chats = chatsOf(good);
    await worker();
    const other = await submitOk(cluster.api, alice.key, ask('qwen2', 'After the cancel'));
    await waitForStatus(cluster.api, alice.key, other, ['completed']);
    expect(chatsOf(good)).toBe(chats + 1);
    expect((await getTask(cluster.api, alice.key, id)).body.status).toBe('cancelled');
  });

  it('cancels a processing task by aborting its upstream call, refunding what it held', async () => {
    await worker();
    good.setMode('hang');
    try {
      const before = await balanceOf(cluster.api, alice.userId);
      const chats = chatsOf(good);
      const closedBefore = good.clientClosed;
      const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'This will hang'));
      await waitForStatus(cluster.api, alice.key, id, ['processing']);
      await eventually(async () => chatsOf(good) === chats + 1);

      // Cancelled through the API replica; the worker (another app) hears it over Redis.
      const res = await cancelTask(cluster.api, alice.key, id);
      expect(res.body).toMatchObject({ status: 'cancelled' });
      await eventually(async () => good.clientClosed > closedBefore);
      await eventually(async () => (await balanceOf(cluster.api, alice.userId)) === before);
      expect((await ledgerOf(cluster.api, id)).map((e) => e.kind)).toEqual(['reserve', 'refund']);
      expect((await getTask(cluster.api, alice.key, id)).body.status).toBe('cancelled');
    } finally {
      good.setMode('ok');
    }
  });

  it("refuses to show or cancel another user's task: 404 Task not found, like a missing or malformed id", async () => {
    await cluster.closeWorkers();
    const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Private'));
    const notFound = { status: 404, body: { success: false, message: 'Task not found' } };
    expect(await getTask(cluster.api, bob.key, id)).toEqual(notFound);
    expect(await cancelTask(cluster.api, bob.key, id)).toEqual(notFound);
    expect(await getTask(cluster.api, alice.key, '00000000-0000-4000-8000-000000000000')).toEqual(notFound);
    expect(await getTask(cluster.api, alice.key, 'not-a-uuid')).toEqual(notFound);
    expect(await cancelTask(cluster.api, alice.key, "1' OR '1'='1")).toEqual(notFound);
    expect((await getTask(cluster.api, alice.key, id)).body.status).toBe('queued');
    await cancelTask(cluster.api, alice.key, id);
  });

  it('returns the same task for a retried submit with the same Idempotency-Key', async () => {
    await cluster.closeWorkers();
    const before = await balanceOf(cluster.api, alice.userId);
    const body = ask('qwen2', 'Only once');
    const headers = { 'Idempotency-Key': `retry-${cluster.prefix}` };
    const [a, b] = await Promise.all([
      submit(cluster.api, alice.key, body, headers),
      submit(cluster.api, alice.key, body, headers),
    ]);
    const c = await submit(cluster.api, alice.key, body, headers);
    expect(a.status).toBe(200);
    expect(b.body.task_id).toBe(a.body.task_id);
    expect(c.body.task_id).toBe(a.body.task_id);
    expect(before - (await balanceOf(cluster.api, alice.userId))).toBe(
      credits(QWEN2, [...'Only once'].length, 100),
    );
    const other = await submit(cluster.api, alice.key, ask('qwen2', 'Something else'), headers);
    expect(other.status).toBe(422);
    // Another user's key space is separate.
    const bobs = await submit(cluster.api, bob.key, body, headers);
    expect(bobs.status).toBe(200);
    expect(bobs.body.task_id).not.toBe(a.body.task_id);
    await cancelTask(cluster.api, alice.key, a.body.task_id as string);
    await cancelTask(cluster.api, bob.key, bobs.body.task_id as string);
  });

  it('re-enqueues queued tasks after the queue keys vanished from Redis, and completes them', async () => {
    await cluster.closeWorkers();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submitOk(cluster.api, alice.key, ask('qwen2', `Lost ${i}`)));
    const redis = cluster.api.app.get(RedisService).client;
    const keys = await redis.keys(`${cluster.prefix}:bull:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    expect(await redis.keys(`${cluster.prefix}:bull:*`)).toEqual([]);

    await worker();
    for (const id of ids) await waitForStatus(cluster.api, alice.key, id, ['completed']);
    for (const id of ids)
      expect((await ledgerOf(cluster.api, id)).map((e) => e.kind)).toEqual(['reserve', 'settle']);
  });

  it('POSTs the signed status body to webhook_url, retrying until the receiver accepts', async () => {
    await worker();
    const received: { body: string; signature: string | undefined }[] = [];
    const receiver = await listen((req, body) => {
      received.push({ body, signature: req.headers['x-llmendpoint-signature'] as string | undefined });
      return received.length === 1 ? 500 : 200;
    });
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Call me back', { webhook_url: url }));
      await waitForStatus(cluster.api, alice.key, id, ['completed']);
      await eventually(async () => received.length === 2);
      for (const r of received) {
        expect(verifyWebhookSignature(r.body, SECRET, r.signature)).toBe(true);
        expect(JSON.parse(r.body)).toEqual((await getTask(cluster.api, alice.key, id)).body);
      }
      expect(JSON.parse(received[0]!.body)).toMatchObject({ task_id: id, status: 'completed' });
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it('tells the webhook about a cancel too', async () => {
    await worker();
    const received: string[] = [];
    const receiver = await listen((_req, body) => {
      received.push(body);
      return 204;
    });
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      await cluster.closeWorkers();
      const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Never mind', { webhook_url: url }));
      await cancelTask(cluster.api, alice.key, id);
      // Deliveries are made by workers; the API replica only queued it.
      await worker();
      await eventually(async () => received.length === 1);
      expect(JSON.parse(received[0]!)).toMatchObject({ success: true, task_id: id, status: 'cancelled' });
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it('finishes a refund that a crash interrupted (task cancelled, hold still open)', async () => {
    await cluster.closeWorkers();
    const before = await balanceOf(cluster.api, alice.userId);
    const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Crash between cancel and refund'));
    await cluster.api.dataSource.query(
      `UPDATE tasks SET status = 'cancelled', finished_at = now() WHERE id = $1`,
      [id],
    );
    expect(await balanceOf(cluster.api, alice.userId)).toBeLessThan(before);
    expect(await cluster.api.app.get(TaskMaintenance).refundOrphans()).toBeGreaterThanOrEqual(1);
    expect(await balanceOf(cluster.api, alice.userId)).toBe(before);
    expect((await ledgerOf(cluster.api, id)).map((e) => e.kind)).toEqual(['reserve', 'refund']);
    // Done once: a second pass finds nothing owed for it.
    await cluster.api.app.get(TaskMaintenance).refundOrphans();
    expect((await ledgerOf(cluster.api, id)).map((e) => e.kind)).toEqual(['reserve', 'refund']);
  });

  it('writes the tasks of concurrent submits with one INSERT; one key used twice in it still makes one task', async () => {
    await cluster.closeWorkers();
    const store = cluster.api.app.get(TasksStore);
    const { statements, stop } = recordStatements(cluster.api.app.get(SqlDatabase));
    const key = `batch-${cluster.prefix}`;
    const task = (content: string, idempotencyKey: string | null) =>
      newTaskRow(alice.userId, content, idempotencyKey);
    const batch = [task('a', null), task('b', key), task('c', null), task('d', key), task('e', null)];
    let stored: Awaited<ReturnType<TasksStore['insert']>>[];
    try {
      stored = await Promise.all(batch.map((t) => store.insert(t)));
    } finally {
      stop();
    }
    expect(statements.filter((n) => n === 'le_tasks_insert')).toHaveLength(1);
    expect(stored.map((s) => s.inserted)).toEqual([true, true, true, false, true]);
    // The second use of the key gets the first task, as read back from the table.
    expect(stored[3]!.task.id).toBe(batch[1]!.id);
    for (const [i, s] of stored.entries()) {
      if (!s.inserted) continue;
      const row = await store.find(batch[i]!.id);
      expect(row).toEqual({ ...s.task, request: batch[i]!.request });
      expect(row).toMatchObject({
        status: 'queued',
        attempts: 0,
        creditsReserved: 7n,
        reservationOpen: true,
      });
    }
    // No hold, no job: not tasks anybody should run.
    for (const s of stored) if (s.inserted) await store.abandon(s.task.id, 'test');
  });

  it("claims and completes a worker's concurrent tasks with one statement each, each under its own fence", async () => {
    await cluster.closeWorkers();
    const store = cluster.api.app.get(TasksStore);
    const tasks = ['a', 'b', 'c'].map((content) => newTaskRow(alice.userId, content, null));
    for (const t of tasks) await store.insert(t);
    const [a, b, c] = tasks.map((t) => t.id) as [string, string, string];
    const rowsOf = async () => {
      const rows = await statementRows(cluster.api.app, 'le_queue_statement_rows');
      const none = { count: 0, sum: 0 };
      return { claim: rows.claim ?? none, complete: rows.complete ?? none };
    };
    const rowsBefore = await rowsOf();
    const { statements, stop } = recordStatements(cluster.api.app.get(SqlDatabase));
    let claimed: Awaited<ReturnType<TasksStore['claim']>>[];
    let completed: Awaited<ReturnType<TasksStore['complete']>>[];
    const outcome = (result: string) => ({
      result,
      usage: { input_tokens: 1, output_tokens: 2 },
      credits: 3n,
      hostId: null,
      hostName: 'h',
    });
    try {
      // b twice in one batch (Bull handing one job over twice): only one of the two gets it.
      claimed = await Promise.all([a, b, c, b].map((id) => store.claim(id, 'w-test', 60_000)));
      // c completes under a fence it does not hold (another run's): nothing is written for it.
      const [ta, tb, tc] = claimed.slice(0, 3).map((x) => x!.task) as [Task, Task, Task];
      completed = await Promise.all([
        store.complete(ta, outcome('A')),
        store.complete(tb, outcome('B')),
        store.complete({ ...tc, attempts: 2 }, outcome('C')),
      ]);
    } finally {
      stop();
    }
    expect(statements.filter((n) => n === 'le_tasks_claim_set')).toHaveLength(1);
    expect(statements.filter((n) => n === 'le_tasks_complete_set')).toHaveLength(1);
    // How well it batches is on /metrics: one claim statement for 4 claims, one completion for 3.
    const rows = await rowsOf();
    expect(rows.claim.count - rowsBefore.claim.count).toBe(1);
    expect(rows.claim.sum - rowsBefore.claim.sum).toBe(4);
    expect(rows.complete.count - rowsBefore.complete.count).toBe(1);
    expect(rows.complete.sum - rowsBefore.complete.sum).toBe(3);
    expect(claimed.map((x) => x?.task.id ?? null)).toEqual([a, b, c, null]);
    expect(claimed.map((x) => x?.task.status)).toEqual(['processing', 'processing', 'processing', undefined]);
    expect(claimed.map((x) => x?.task.attempts)).toEqual([1, 1, 1, undefined]);
    expect(claimed[0]!.hold).toBeUndefined(); // these tasks hold nothing
    expect(completed.map((t) => t?.id ?? null)).toEqual([a, b, null]);
    expect(completed[1]).toMatchObject({
      status: 'completed',
      result: 'B',
      credits: 3n,
      reservationOpen: false,
    });
    // Not read back, yet the same as the stored row.
    expect(completed[1]).toEqual(await store.find(b));
    expect(await store.find(a)).toMatchObject({
      status: 'completed',
      result: 'A',
      usage: { input_tokens: 1, output_tokens: 2 },
    });
    expect(await store.find(c)).toMatchObject({ status: 'processing', result: null, attempts: 1 });
    // A second claim of a live lease gets nothing; the task stays with its worker.
    expect(await store.claim(c, 'w-other', 60_000)).toBeNull();
    expect(await store.fail(c, 1, 'test')).toMatchObject({ status: 'failed' });
  });

  it("sends a worker's Redis commands of one tick in one write, and before a QUIT that follows them", async () => {
    const queue = cluster.api.app.get<Queue>(getQueueToken(TASKS_QUEUE), { strict: false });
    const client = queue.client as Queue['client'] & { autoPipelineQueueSize: number };
    const keys = [1, 2, 3].map((i) => queue.toKey(`pipelined-${i}`));
    const replies = Promise.all(keys.map((k) => client.exists(k)));
    // Queued for one write at the end of the tick, not written one by one.
    expect(client.autoPipelineQueueSize).toBe(3);
    expect(await replies).toEqual([0, 0, 0]);
    expect(client.autoPipelineQueueSize).toBe(0);
    // A command issued just before quit() still goes out before the QUIT (not "Connection is closed.").
    const own = cluster.api.app.get(RedisService).create('client', { enableAutoPipelining: true });
    await new Promise((resolve) => own.once('ready', resolve));
    const last = own.exists(keys[0]!);
    await own.quit();
    expect(await last).toBe(0);
  });

  it("adds the jobs of concurrent submits with one MULTI, each with the queue's job options", async () => {
    const queue = cluster.api.app.get<Queue>(getQueueToken(TASKS_QUEUE), { strict: false });
    const jobs = cluster.api.app.get(TaskJobs);
    const addBulk = queue.addBulk.bind(queue);
    const calls: number[] = [];
    queue.addBulk = (list) => (calls.push(list.length), addBulk(list));
    const ids = Array.from({ length: 6 }, () => randomUUID());
    try {
      await Promise.all(ids.map((id) => jobs.enqueue(id)));
    } finally {
      queue.addBulk = addBulk;
    }
    expect(calls).toEqual([6]);
    for (const id of ids) {
      const job = await queue.getJob(id);
      expect(job?.data).toEqual({ taskId: id });
      expect(job?.opts).toMatchObject({
        jobId: id,
        attempts: 2,
        backoff: { type: 'exponential', delay: 50 },
      });
      await jobs.discard(id);
    }
  });

  it('exports queue depth and task events on /metrics', async () => {
    const text = await (await fetch(`${cluster.api.url}/metrics`)).text();
    expect(text).toMatch(/le_queue_jobs\{queue="tasks",state="waiting"\} \d+/);
    expect(text).toMatch(/le_queue_task_events_total\{event="submitted"\} [1-9]/);
  });

  it('deletes finished tasks after TASK_RETENTION_HOURS', async () => {
    await cluster.closeWorkers();
    const id = await submitOk(cluster.api, alice.key, ask('qwen2', 'Old news'));
    await cancelTask(cluster.api, alice.key, id);
    await cluster.api.dataSource.query(
      `UPDATE tasks SET finished_at = now() - interval '25 hours' WHERE id = $1`,
      [id],
    );
    const fresh = await submitOk(cluster.api, alice.key, ask('qwen2', 'New news'));
    await cancelTask(cluster.api, alice.key, fresh);
    expect(await cluster.api.app.get(TaskMaintenance).sweep()).toBeGreaterThanOrEqual(1);
    expect((await getTask(cluster.api, alice.key, id)).status).toBe(404);
    expect((await getTask(cluster.api, alice.key, fresh)).body.status).toBe('cancelled');
  });
});

describe('webhook_url without WEBHOOK_ALLOW_PRIVATE', () => {
  // Explicit: @nestjs/config copies an earlier app's settings into process.env.
  const cluster = new QueueCluster({ WEBHOOK_ALLOW_PRIVATE: 'false' });
  let user: { userId: string; key: string };

  beforeAll(async () => {
    await cluster.start(0);
    user = await fundedUser(cluster.api, 1_000_000n);
  });
  afterAll(() => cluster.close());

  it.each([
    'http://127.0.0.1:9/hook',
    'http://localhost/hook',
    'http://10.0.0.8/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest',
    'ftp://example.com/hook',
    'not a url',
  ])('refuses %s with 400 before reserving anything', async (url) => {
    const before = await balanceOf(cluster.api, user.userId);
    const res = await submit(cluster.api, user.key, ask('qwen2', 'x', { webhook_url: url }));
    expect(res).toEqual({ status: 400, body: { success: false, message: 'Invalid request' } });
    expect(await balanceOf(cluster.api, user.userId)).toBe(before);
  });
});

function listen(answer: (req: IncomingMessage, body: string) => number): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.statusCode = answer(req, body);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
