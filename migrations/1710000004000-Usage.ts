import type { MigrationInterface, QueryRunner } from 'typeorm';

/** One row per completion/embedding request, for reporting (who, what, where, how much, how fast). */
export class Usage1710000004000 implements MigrationInterface {
  name = 'Usage1710000004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_records (
        id bigserial PRIMARY KEY,
        request_id text NOT NULL,
        user_id uuid NOT NULL,
        key_id uuid,
        model text NOT NULL,
        host_id text,
        host_name text,
        surface text NOT NULL,
        operation text NOT NULL,
        input_tokens integer NOT NULL DEFAULT 0,
        output_tokens integer NOT NULL DEFAULT 0,
        credits bigint NOT NULL DEFAULT 0,
        duration_ms integer NOT NULL,
        ttft_ms integer,
        status text NOT NULL,
        error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX usage_records_user_created_idx ON usage_records (user_id, created_at DESC)`);
    await q.query(`CREATE INDEX usage_records_request_idx ON usage_records (request_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_records`);
  }
}
