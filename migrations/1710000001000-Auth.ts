import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Users and their API keys (only a sha256 of each secret is stored). */
export class Auth1710000001000 implements MigrationInterface {
  name = 'Auth1710000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        email text,
        role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL`);
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        public_id text NOT NULL UNIQUE,
        secret_hash text NOT NULL,
        name text,
        ip_whitelist text[] NOT NULL DEFAULT '{}',
        models text[] NOT NULL DEFAULT '{}',
        rpm integer CHECK (rpm IS NULL OR rpm > 0),
        tpm integer CHECK (tpm IS NULL OR tpm > 0),
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX api_keys_user_id_idx ON api_keys (user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE users`);
  }
}
