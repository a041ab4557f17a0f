import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Seed 000's rate table: cents per token, exact decimals. */
const SEED_RATES: [model: string, input: string, output: string][] = [
  ['llama3.1', '0.01', '0.02'],
  ['llama3', '0.015', '0.025'],
  ['llama2', '0.02', '0.03'],
  ['mistral', '0.012', '0.022'],
  ['qwen', '0.018', '0.028'],
  ['gemma2', '0.016', '0.026'],
  ['llama3.2', '0.014', '0.024'],
  ['qwen2', '0.017', '0.027'],
  ['zephyr', '0.019', '0.029'],
  ['gemma', '0.013', '0.023'],
  ['llava', '0.015', '0.025'],
  ['mistral-nemo', '0.011', '0.021'],
  ['phi3', '0.02', '0.03'],
  ['wizardlm2', '0.018', '0.028'],
  ['orca-mini', '0.019', '0.029'],
  ['codellama', '0.017', '0.027'],
  ['llama2-uncensored', '0.015', '0.025'],
  ['owl_t-lite', '0.014', '0.024'],
];

/**
 * Billing: per-model rates, one balance per user, an append-only credit ledger and the open
 * reservations of in-flight requests. Invariant: accounts.credits = sum(credit_ledger.amount).
 */
export class Billing1710000002000 implements MigrationInterface {
  name = 'Billing1710000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rates (
        model text PRIMARY KEY,
        input_rate numeric NOT NULL CHECK (input_rate >= 0),
        output_rate numeric NOT NULL CHECK (output_rate >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    for (const [model, input, output] of SEED_RATES) {
      await q.query(
        `INSERT INTO rates (model, input_rate, output_rate) VALUES ($1, $2::numeric, $3::numeric)`,
        [model, input, output],
      );
    }
    await q.query(`
      CREATE TABLE accounts (
        user_id uuid PRIMARY KEY REFERENCES users (id),
        credits bigint NOT NULL DEFAULT 0 CHECK (credits >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Sign of each kind: a reserve holds credits, settle returns the unused part of a hold,
    // refund returns a whole hold, topup adds, adjustment is an admin correction either way.
    await q.query(`
      CREATE TABLE credit_ledger (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id),
        amount bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('topup', 'reserve', 'settle', 'refund', 'adjustment')),
        request_id text,
        reference text,
        idempotency_key text,
        request_hash text,
        balance_after bigint NOT NULL CHECK (balance_after >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (
          (kind = 'topup' AND amount > 0) OR (kind = 'reserve' AND amount <= 0)
          OR (kind IN ('settle', 'refund') AND amount >= 0) OR kind = 'adjustment'
        )
      )`);
    // Newest-first pagination per user; the idempotency key is unique per user.
    await q.query(`CREATE INDEX credit_ledger_user_id_idx ON credit_ledger (user_id, id DESC)`);
    await q.query(`
      CREATE UNIQUE INDEX credit_ledger_idempotency_key ON credit_ledger (user_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
    await q.query(`
      CREATE FUNCTION credit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'credit_ledger is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await q.query(`
      CREATE TRIGGER credit_ledger_no_update_delete BEFORE UPDATE OR DELETE ON credit_ledger
      FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only()`);
    await q.query(`
      CREATE TRIGGER credit_ledger_no_truncate BEFORE TRUNCATE ON credit_ledger
      FOR EACH STATEMENT EXECUTE FUNCTION credit_ledger_append_only()`);
    // key_id is text without a foreign key: keys may be deleted, and the env admin key has no row.
    await q.query(`
      CREATE TABLE reservations (
        request_id text PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id),
        key_id text,
        model text NOT NULL,
        amount bigint NOT NULL CHECK (amount >= 0),
        input_rate numeric NOT NULL,
        output_rate numeric NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'settled', 'refunded')),
        charged bigint,
        input_tokens integer,
        output_tokens integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- When the sweep may refund it if still open (a crashed process); NULL = never swept.
        expires_at timestamptz,
        closed_at timestamptz
      )`);
    // The sweep looks only at open reservations that can expire, oldest deadline first.
    await q.query(`
      CREATE INDEX reservations_expiry_idx ON reservations (expires_at)
      WHERE status = 'open' AND expires_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE reservations`);
    await q.query(`DROP TABLE credit_ledger`);
    await q.query(`DROP FUNCTION credit_ledger_append_only()`);
    await q.query(`DROP TABLE accounts`);
    await q.query(`DROP TABLE rates`);
  }
}
