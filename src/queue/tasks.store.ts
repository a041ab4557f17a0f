import { Injectable } from '@nestjs/common';
import { openHoldJoin } from '../billing/billing.sql';
import type { Hold } from '../billing/pricing';
import { holdOfRow, type OpenHoldRow } from '../billing/reservations.repository';
import type { CompletionRequest } from '../completions/completion.types';
import { SqlDatabase } from '../database/sql-database';
import { WriteBatcher } from '../database/write-batcher';
import { QueueMetrics } from './queue-metrics';
import type { Task, TaskStatus, TaskUsage } from './task.types';

interface TaskRecord {
  id: string;
  user_id: string;
  key_id: string | null;
  model: string;
  request: CompletionRequest;
  status: TaskStatus;
  result: string | null;
  error: string | null;
  usage: TaskUsage | null;
  credits_reserved: string;
  credits: string | null;
  reservation_open: boolean;
  attempts: number;
  host_name: string | null;
  webhook_url: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
}

/** Every column but the request and the result, which a completion does not read back. */
const LEAN_COLUMNS = `id, user_id, key_id, model, status, error, usage,
  credits_reserved::text AS credits_reserved, credits::text AS credits, reservation_open, attempts,
  host_name, webhook_url, idempotency_key, request_hash, created_at, started_at, finished_at`;
const COLUMNS = `request, result, ${LEAN_COLUMNS}`;

export interface NewTask {
  id: string;
  userId: string;
  keyId: string | null;
  request: CompletionRequest;
  creditsReserved: bigint;
  webhookUrl: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/** A claimed task, with its reservation's hold read in the same statement (undefined: none open). */
export interface ClaimedTask {
  task: Task;
  hold: Hold | undefined;
}

/** Most tasks in one INSERT. */
const MAX_INSERT_BATCH = 256;
/** Most claims or completions in one statement (a worker runs QUEUE_CONCURRENCY tasks at once). */
const MAX_WORKER_BATCH = 64;
const CLAIM_HOLD = openHoldJoin('t.id::text');

/**
 * New tasks from arrays of equal length; a row whose (user, idempotency key) is taken — by an
 * earlier task or one earlier in the same batch — is skipped. Ids are uuids, so `id::text` is the
 * id as the caller wrote it (lowercase).
 */
const INSERT_TASKS = {
  statement: 'le_tasks_insert',
  text: `WITH i AS (
      INSERT INTO tasks (id, user_id, key_id, model, request, credits_reserved, webhook_url,
                         idempotency_key, request_hash)
      SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[],
                           $7::text[], $8::text[], $9::text[])
      ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id, created_at)
    SELECT id::text AS id, created_at FROM i`,
};

/**
 * Arrays of equal length: task id, worker, lease (ms). Claims each task that is queued, or
 * processing under a lease that ran out, and reads its reservation's open hold in the same statement.
 */
const CLAIM_TASKS = {
  statement: 'le_tasks_claim_set',
  text: `WITH c AS (
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[]) AS c(id, worker, lease_ms)),
    u AS (
      UPDATE tasks t SET status = 'processing', attempts = t.attempts + 1, worker = c.worker,
        lease_expires_at = now() + c.lease_ms * interval '1 millisecond',
        started_at = COALESCE(t.started_at, now())
      FROM c WHERE t.id = c.id
        AND (t.status = 'queued' OR (t.status = 'processing' AND t.lease_expires_at < now()))
      RETURNING t.*)
    SELECT t.*, ${CLAIM_HOLD.columns} FROM (SELECT ${COLUMNS} FROM u) t ${CLAIM_HOLD.join}`,
};

/**
 * Arrays of equal length: id, fence, result, usage, credits, host id, host name. Each row is
 * written only while its task is processing (or cancelled) under that fence.
 */
const COMPLETE_TASKS = {
  statement: 'le_tasks_complete_set',
  text: `WITH v AS (
      SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::bigint[], $6::text[], $7::text[])
        AS v(id, fence, result, usage, credits, host_id, host_name)),
    u AS (
      UPDATE tasks t SET status = CASE WHEN t.status = 'processing' THEN 'completed' ELSE t.status END,
        result = v.result, usage = v.usage, credits = v.credits, host_id = v.host_id, host_name = v.host_name,
        reservation_open = false, lease_expires_at = NULL, finished_at = COALESCE(t.finished_at, now())
      FROM v WHERE t.id = v.id AND t.attempts = v.fence AND t.status IN ('processing', 'cancelled')
      RETURNING t.*)
    SELECT ${LEAN_COLUMNS} FROM u`,
};

interface ClaimRow {
  id: string;
  worker: string;
  leaseMs: number;
}

interface CompleteRow {
  id: string;
  fence: number;
  request: CompletionRequest;
  outcome: TaskOutcome;
}

/**
 * One result per item, in order: the row with the item's id, given to the first item that asks
 * for it. A second claim (or completion) of the same task in one batch gets null, as it would
 * from its own statement run after the first.
 */
function takeOnce<I extends { id: string }, R extends { id: string }, T>(
  items: I[],
  rows: R[],
  convert: (row: R, item: I) => T,
): (T | null)[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return items.map((item) => {
    const row = byId.get(item.id);
    if (!row) return null;
    byId.delete(item.id);
    return convert(row, item);
  });
}

export interface TaskOutcome {
  result: string;
  usage: TaskUsage;
  credits: bigint;
  hostId: string | null;
  hostName: string | null;
}

/**
 * SQL on the `tasks` table. Every status change is conditional on the status it leaves (and, for
 * a worker, on its fencing token `attempts`), so two runs of one job can't both process or bill.
 * Data-modifying statements are wrapped in CTEs so TypeORM returns plain rows.
 */
@Injectable()
export class TasksStore {
  private readonly inserts = new WriteBatcher<NewTask, Date | null>((tasks) => this.insertBatch(tasks), {
    maxBatch: MAX_INSERT_BATCH,
    sortKey: (t) => t.userId,
    onBatch: (n) => this.metrics.batch('insert', n),
  });
  private readonly claims = new WriteBatcher<ClaimRow, ClaimedTask | null>((c) => this.claimBatch(c), {
    maxBatch: MAX_WORKER_BATCH,
    sortKey: (c) => c.id,
    onBatch: (n) => this.metrics.batch('claim', n),
  });
  private readonly completions = new WriteBatcher<CompleteRow, Task | null>((r) => this.completeBatch(r), {
    maxBatch: MAX_WORKER_BATCH,
    sortKey: (r) => r.id,
    onBatch: (n) => this.metrics.batch('complete', n),
  });

  constructor(
    private readonly sql: SqlDatabase,
    private readonly metrics: QueueMetrics,
  ) {}

  /**
   * Inserts a task; with an idempotency key already used by the user, returns that task instead.
   * Concurrent submits go out as one INSERT (WriteBatcher): one round trip for many tasks.
   */
  async insert(t: NewTask): Promise<{ task: Task; inserted: boolean }> {
    const createdAt = await this.inserts.submit(t);
    if (createdAt) return { task: newTask(t, createdAt), inserted: true };
    const existing = t.idempotencyKey ? await this.findByIdempotencyKey(t.userId, t.idempotencyKey) : null;
    if (!existing) throw new Error(`task insert conflicted but no task holds key for user ${t.userId}`);
    return { task: existing, inserted: false };
  }

  /** One INSERT for a batch of new tasks: each one's created_at, or null where its idempotency key was taken. */
  private async insertBatch(tasks: NewTask[]): Promise<(Date | null)[]> {
    const rows = (await this.sql.run(INSERT_TASKS.statement, INSERT_TASKS.text, [
      tasks.map((t) => t.id),
      tasks.map((t) => t.userId),
      tasks.map((t) => t.keyId),
      tasks.map((t) => t.request.model),
      tasks.map((t) => JSON.stringify(t.request)),
      tasks.map((t) => t.creditsReserved.toString()),
      tasks.map((t) => t.webhookUrl),
      tasks.map((t) => t.idempotencyKey),
      tasks.map((t) => t.requestHash),
    ])) as { id: string; created_at: Date | string }[];
    const created = new Map(rows.map((r) => [r.id, toDate(r.created_at)]));
    return tasks.map((t) => created.get(t.id) ?? null);
  }

  async findByIdempotencyKey(userId: string, key: string): Promise<Task | null> {
    const rows = await this.rows(
      'by_key',
      `SELECT ${COLUMNS} FROM tasks WHERE user_id = $1 AND idempotency_key = $2`,
      [userId, key],
    );
    return rows[0] ?? null;
  }

  async find(id: string): Promise<Task | null> {
    return (await this.rows('find', `SELECT ${COLUMNS} FROM tasks WHERE id = $1`, [id]))[0] ?? null;
  }

  /** The task if it belongs to the user; another user's task is indistinguishable from none. */
  async findForUser(id: string, userId: string): Promise<Task | null> {
    return (
      (
        await this.rows('find_for_user', `SELECT ${COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2`, [
          id,
          userId,
        ])
      )[0] ?? null
    );
  }

  /**
   * Takes a task for processing: a queued one, or one whose previous worker stopped renewing its
   * lease (killed). Returns the task with its new fencing token, or null if someone else has it.
   * The worker's concurrent claims go out as one statement (WriteBatcher).
   */
  claim(id: string, worker: string, leaseMs: number): Promise<ClaimedTask | null> {
    return this.claims.submit({ id: id.toLowerCase(), worker, leaseMs });
  }

  private async claimBatch(claims: ClaimRow[]): Promise<(ClaimedTask | null)[]> {
    const records = (await this.sql.run(CLAIM_TASKS.statement, CLAIM_TASKS.text, [
      claims.map((c) => c.id),
      claims.map((c) => c.worker),
      claims.map((c) => c.leaseMs),
    ])) as (TaskRecord & OpenHoldRow)[];
    return takeOnce(claims, records, (r) => ({ task: toTask(r), hold: holdOfRow(r) }));
  }

  /** Extends the lease; false when the task was cancelled or taken over (the worker must stop). */
  async renewLease(id: string, fence: number, leaseMs: number): Promise<boolean> {
    const rows = await this.sql.run(
      'le_tasks_renew',
      `WITH u AS (
         UPDATE tasks SET lease_expires_at = now() + $3::int * interval '1 millisecond'
         WHERE id = $1 AND attempts = $2 AND status = 'processing' RETURNING id)
       SELECT id FROM u`,
      [id, fence, leaseMs],
    );
    return rows.length > 0;
  }

  /** Gives a task back to the queue (retry after a host failure, or this worker shutting down). */
  async release(id: string, fence: number): Promise<boolean> {
    const rows = await this.sql.run(
      'le_tasks_release',
      `WITH u AS (
         UPDATE tasks SET status = 'queued', lease_expires_at = NULL, worker = NULL
         WHERE id = $1 AND attempts = $2 AND status = 'processing' RETURNING id)
       SELECT id FROM u`,
      [id, fence],
    );
    return rows.length > 0;
  }

  /**
   * Records a successful run (the reservation is settled by then). A task cancelled while the
   * answer was on its way stays cancelled but shows what was charged. The worker's concurrent
   * completions go out as one statement (WriteBatcher). `task` is the claimed task (its id, its
   * fence `attempts`, its request: the row is not read back for the request or the result).
   */
  complete(task: Pick<Task, 'id' | 'attempts' | 'request'>, outcome: TaskOutcome): Promise<Task | null> {
    return this.completions.submit({
      id: task.id.toLowerCase(),
      fence: task.attempts,
      request: task.request,
      outcome,
    });
  }

  private async completeBatch(rows: CompleteRow[]): Promise<(Task | null)[]> {
    const records = (await this.sql.run(COMPLETE_TASKS.statement, COMPLETE_TASKS.text, [
      rows.map((r) => r.id),
      rows.map((r) => r.fence),
      rows.map((r) => r.outcome.result),
      rows.map((r) => JSON.stringify(r.outcome.usage)),
      rows.map((r) => r.outcome.credits.toString()),
      rows.map((r) => r.outcome.hostId),
      rows.map((r) => r.outcome.hostName),
    ])) as Omit<TaskRecord, 'request' | 'result'>[];
    return takeOnce(rows, records, (record, row) =>
      toTask({ ...record, request: row.request, result: row.outcome.result }),
    );
  }

  /** Final failure; the caller refunds and then closes the reservation. */
  async fail(id: string, fence: number, error: string): Promise<Task | null> {
    const rows = await this.rows(
      'fail',
      `WITH u AS (
         UPDATE tasks SET status = 'failed', error = $3, lease_expires_at = NULL, finished_at = now()
         WHERE id = $1 AND attempts = $2 AND status = 'processing' RETURNING *)
       SELECT ${COLUMNS} FROM u`,
      [id, fence, error],
    );
    return rows[0] ?? null;
  }

  /**
   * Cancels a queued or processing task of the user. Returns the status it left, or null when
   * there was nothing to cancel. The lease is kept: a live worker still owns the refund.
   */
  async cancel(id: string, userId: string): Promise<{ previous: TaskStatus; task: Task } | null> {
    const rows = await this.sql.query(
      `WITH p AS (SELECT id, status FROM tasks WHERE id = $1 AND user_id = $2 FOR UPDATE),
       u AS (
         UPDATE tasks t SET status = 'cancelled', finished_at = now()
         FROM p WHERE t.id = p.id AND p.status IN ('queued', 'processing')
         RETURNING t.id, p.status AS previous)
       SELECT previous FROM u`,
      [id, userId],
    );
    const previous = (rows as { previous: TaskStatus }[])[0]?.previous;
    if (!previous) return null;
    const task = await this.find(id);
    return task ? { previous, task } : null;
  }

  /**
   * A queued task whose job could not be added: cancelled with its idempotency key cleared, so a
   * retried submit makes a new task. True when it was still queued.
   */
  async abandon(id: string, error: string): Promise<boolean> {
    const rows = (await this.sql.query(
      `WITH u AS (
         UPDATE tasks SET status = 'cancelled', error = $2, idempotency_key = NULL, request_hash = NULL,
                finished_at = now()
          WHERE id = $1 AND status = 'queued' RETURNING id)
       SELECT id FROM u`,
      [id, error],
    )) as unknown[];
    return rows.length > 0;
  }

  /** Marks the reservation settled or refunded, so recovery stops looking at the task. */
  async closeReservation(id: string): Promise<void> {
    await this.sql.query(`UPDATE tasks SET reservation_open = false WHERE id = $1`, [id]);
  }

  /** Tasks that should have a Bull job: queued ones, and processing ones whose worker died. */
  async idsNeedingJob(olderThanMs: number, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.sql.query(
      `SELECT id FROM tasks
       WHERE (status = 'queued' OR (status = 'processing' AND lease_expires_at < now()))
         AND created_at < now() - $1::int * interval '1 millisecond'
       ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Failed or cancelled tasks whose reservation nobody alive will refund (crash in between). */
  async idsOwingRefund(limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.sql.query(
      `SELECT id FROM tasks
       WHERE reservation_open AND status IN ('failed', 'cancelled')
         AND (lease_expires_at IS NULL OR lease_expires_at < now())
       ORDER BY created_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** Which of these ids are tasks (the rest are holds whose task was never inserted). */
  async existing(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: { id: string }[] = await this.sql.query(
      `SELECT id::text AS id FROM tasks WHERE id::text = ANY($1)`,
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Deletes finished tasks older than the retention; returns how many went. */
  async deleteFinishedBefore(hours: number, limit: number): Promise<number> {
    const rows = await this.sql.query(
      `WITH d AS (
         DELETE FROM tasks WHERE id IN (
           SELECT id FROM tasks
           WHERE status IN ('completed', 'failed', 'cancelled') AND NOT reservation_open
             AND finished_at < now() - $1::float8 * interval '1 hour'
           LIMIT $2)
         RETURNING id)
       SELECT id FROM d`,
      [hours, limit],
    );
    return rows.length;
  }

  /** A hot statement by a unique key: named, so each connection parses and plans it once. */
  private async rows(name: string, sql: string, params: unknown[]): Promise<Task[]> {
    const records = (await this.sql.run(`le_tasks_${name}`, sql, params)) as TaskRecord[];
    return records.map(toTask);
  }
}

function toTask(r: TaskRecord): Task {
  return {
    id: r.id,
    userId: r.user_id,
    keyId: r.key_id,
    model: r.model,
    request: r.request,
    status: r.status,
    result: r.result,
    error: r.error,
    usage: r.usage,
    creditsReserved: BigInt(r.credits_reserved),
    credits: r.credits === null ? null : BigInt(r.credits),
    reservationOpen: r.reservation_open,
    attempts: r.attempts,
    hostName: r.host_name,
    webhookUrl: r.webhook_url,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    createdAt: toDate(r.created_at),
    startedAt: r.started_at === null ? null : toDate(r.started_at),
    finishedAt: r.finished_at === null ? null : toDate(r.finished_at),
  };
}

/** A task as its INSERT wrote it (the column defaults), without reading it back. */
function newTask(t: NewTask, createdAt: Date): Task {
  return {
    id: t.id,
    userId: t.userId,
    keyId: t.keyId,
    model: t.request.model,
    request: t.request,
    status: 'queued',
    result: null,
    error: null,
    usage: null,
    creditsReserved: t.creditsReserved,
    credits: null,
    reservationOpen: true,
    attempts: 0,
    hostName: null,
    webhookUrl: t.webhookUrl,
    idempotencyKey: t.idempotencyKey,
    requestHash: t.requestHash,
    createdAt,
    startedAt: null,
    finishedAt: null,
  };
}

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}
