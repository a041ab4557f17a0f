import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Queued completions. The row is the source of truth; Redis holds only the Bull job (job id =
 * task id). `attempts` doubles as the fencing token of the worker that claimed the task, and
 * `lease_expires_at` tells a rerun whether that worker is still alive.
 */
export class Tasks1710000005000 implements MigrationInterface {
  name = 'Tasks1710000005000';

  async up(q: QueryRunner): Promise<void> {
    // key_id is text without a foreign key, as in reservations (the env admin key has no row).
    await q.query(`
      CREATE TABLE tasks (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key_id text,
        model text NOT NULL,
        request jsonb NOT NULL,
        status text NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
        result text,
        error text,
        usage jsonb,
        credits_reserved bigint NOT NULL CHECK (credits_reserved >= 0),
        credits bigint,
        reservation_open boolean NOT NULL DEFAULT true,
        attempts integer NOT NULL DEFAULT 0,
        host_id text,
        host_name text,
        worker text,
        lease_expires_at timestamptz,
        webhook_url text,
        idempotency_key text,
        request_hash text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      )`);
    await q.query(`
      CREATE UNIQUE INDEX tasks_user_idempotency_key ON tasks (user_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
    // Recovery scans unfinished tasks and finished ones still holding a reservation.
    await q.query(`
      CREATE INDEX tasks_unfinished_idx ON tasks (created_at)
      WHERE status IN ('queued', 'processing') OR reservation_open`);
    // The retention sweep deletes finished tasks by age.
    await q.query(`
      CREATE INDEX tasks_finished_idx ON tasks (finished_at)
      WHERE status IN ('completed', 'failed', 'cancelled')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tasks`);
  }
}
