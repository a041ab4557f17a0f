import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stored Responses (POST /v1/responses with store, the default): the response as answered, the
 * conversation it ends (for previous_response_id), and its output items (for item_reference).
 * A user's own only; removed after TASK_RETENTION_HOURS like finished tasks.
 */
export class Responses1710000013000 implements MigrationInterface {
  name = 'Responses1710000013000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE responses (
        id text PRIMARY KEY,
        user_id uuid NOT NULL,
        model text NOT NULL,
        body jsonb NOT NULL,
        conversation jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX responses_created ON responses (created_at)`);
    await q.query(`
      CREATE TABLE response_items (
        id text PRIMARY KEY,
        response_id text NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        message jsonb NOT NULL
      )`);
    await q.query(`CREATE INDEX response_items_response ON response_items (response_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE response_items`);
    await q.query(`DROP TABLE responses`);
  }
}
