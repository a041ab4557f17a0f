import type { MigrationInterface, QueryRunner } from 'typeorm';

const SUMS = ['requests', 'errors', 'aborted', 'input_tokens', 'output_tokens', 'credits', 'duration_ms'];

/** Sums of usage_records grouped into the dimensions of usage_hourly, for one transition table. */
const groupedSums = (table: string, sign: '' | '-') => `
  SELECT date_trunc('hour', r.created_at) AS bucket, r.user_id, coalesce(r.key_id::text, '') AS key_id,
         r.model, coalesce(r.host_id, '') AS host_id,
         ${sign}count(*) AS requests,
         ${sign}count(*) FILTER (WHERE r.status = 'error') AS errors,
         ${sign}count(*) FILTER (WHERE r.status IN ('client_closed', 'cancelled')) AS aborted,
         ${sign}sum(r.input_tokens)::bigint AS input_tokens,
         ${sign}sum(r.output_tokens)::bigint AS output_tokens,
         ${sign}sum(r.credits)::bigint AS credits,
         ${sign}sum(r.duration_ms)::bigint AS duration_ms
    FROM ${table} r
   GROUP BY 1, 2, 3, 4, 5`;

/** One row per dimension again (an upsert may touch each row once per statement). */
const regrouped = (source: string) => `
  SELECT bucket, user_id, key_id, model, host_id, ${SUMS.map((c) => `sum(${c})::bigint AS ${c}`).join(', ')}
    FROM (${source}) u GROUP BY 1, 2, 3, 4, 5`;

/**
 * Adds grouped sums into usage_hourly. Rows are upserted in the order of the unique key, so two
 * statements that touch the same buckets lock them in the same order (no deadlock).
 */
const upsert = (source: string) => `
  INSERT INTO usage_hourly AS h (bucket, user_id, key_id, model, host_id, requests, errors, aborted,
                                 input_tokens, output_tokens, credits, duration_ms)
  SELECT * FROM (${source}) s ORDER BY bucket, user_id, key_id, model, host_id
  ON CONFLICT (bucket, user_id, key_id, model, host_id) DO UPDATE SET
    requests = h.requests + EXCLUDED.requests,
    errors = h.errors + EXCLUDED.errors,
    aborted = h.aborted + EXCLUDED.aborted,
    input_tokens = h.input_tokens + EXCLUDED.input_tokens,
    output_tokens = h.output_tokens + EXCLUDED.output_tokens,
    credits = h.credits + EXCLUDED.credits,
    duration_ms = h.duration_ms + EXCLUDED.duration_ms`;

/**
 * usage_hourly: usage_records summed per hour, user, key, model and host, kept up to date by
 * statement-level triggers (one grouped upsert per INSERT statement, however many rows it
 * writes), so usage reports read a few rows per hour instead of scanning every request.
 * A missing key or host is '' in the key (the unique index needs non-null dimensions).
 * Nothing in the platform updates or deletes usage_records today; the UPDATE and DELETE
 * triggers keep the sums equal if an operator ever does.
 */
export class UsageHourly1710000012000 implements MigrationInterface {
  name = 'UsageHourly1710000012000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_hourly (
        bucket timestamptz NOT NULL,
        user_id uuid NOT NULL,
        key_id text NOT NULL,
        model text NOT NULL,
        host_id text NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        errors bigint NOT NULL DEFAULT 0,
        aborted bigint NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        credits bigint NOT NULL DEFAULT 0,
        duration_ms bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (bucket, user_id, key_id, model, host_id)
      )`);
    await q.query(`CREATE INDEX usage_hourly_user_bucket_idx ON usage_hourly (user_id, bucket)`);
    await q.query(`
      CREATE FUNCTION usage_hourly_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${upsert(groupedSums('new_rows', ''))};
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION usage_hourly_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${upsert(regrouped(`${groupedSums('old_rows', '-')} UNION ALL ${groupedSums('new_rows', '')}`))};
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION usage_hourly_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${upsert(groupedSums('old_rows', '-'))};
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER usage_hourly_insert AFTER INSERT ON usage_records
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_on_insert()`);
    await q.query(`
      CREATE TRIGGER usage_hourly_update AFTER UPDATE ON usage_records
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_on_update()`);
    await q.query(`
      CREATE TRIGGER usage_hourly_delete AFTER DELETE ON usage_records
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_on_delete()`);
    // Usage recorded before this migration.
    await q.query(upsert(groupedSums('usage_records', '')));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER usage_hourly_delete ON usage_records`);
    await q.query(`DROP TRIGGER usage_hourly_update ON usage_records`);
    await q.query(`DROP TRIGGER usage_hourly_insert ON usage_records`);
    await q.query(`DROP FUNCTION usage_hourly_on_delete()`);
    await q.query(`DROP FUNCTION usage_hourly_on_update()`);
    await q.query(`DROP FUNCTION usage_hourly_on_insert()`);
    await q.query(`DROP TABLE usage_hourly`);
  }
}
