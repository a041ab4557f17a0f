import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The GPU host registry: configuration set by admins plus the last health state seen by a check. */
export class Hosts1710000003000 implements MigrationInterface {
  name = 'Hosts1710000003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hosts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE,
        base_url text NOT NULL UNIQUE,
        provider text NOT NULL CHECK (provider IN ('ollama', 'openai')),
        api_key text,
        enabled boolean NOT NULL DEFAULT true,
        draining boolean NOT NULL DEFAULT false,
        weight integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
        max_concurrency integer NOT NULL DEFAULT 16 CHECK (max_concurrency > 0),
        labels jsonb NOT NULL DEFAULT '{}',
        models text[] NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'unknown' CHECK (status IN ('healthy', 'unhealthy', 'cooldown', 'unknown')),
        consecutive_failures integer NOT NULL DEFAULT 0,
        cooldown_until timestamptz,
        last_check_at timestamptz,
        last_error text,
        discovered_models jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE hosts`);
  }
}
