import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `…_async` twins of the batched reserve and settle: the same function, in a transaction whose
 * commit does not wait for the WAL flush (`synchronous_commit = off` for that transaction only;
 * BILLING_SYNCHRONOUS_COMMIT=false, the default). A PostgreSQL or OS crash can lose the last
 * ~0.6 s of such commits, each one whole: the books stay balanced; a lost reserve means an
 * uncharged request, a lost settle leaves the hold open for the sweep to refund. Nobody is
 * charged twice or too much. Top-ups, refunds and admin writes always wait for the flush.
 */
export class AsyncBillingCommits1710000009000 implements MigrationInterface {
  name = 'AsyncBillingCommits1710000009000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE FUNCTION billing_reserve_batch_async(
  p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
  p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]) RETURNS TABLE (idx integer, ok boolean, reason text, balance bigint)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM billing_reserve_batch(p_request_ids, p_user_ids, p_key_ids, p_models, p_credits, p_input_rates, p_output_rates, p_hold_ms);
    END
    $$`);
    await q.query(`
    CREATE FUNCTION billing_settle_batch_async(
  p_request_ids text[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
  p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
  p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
  p_statuses text[], p_errors text[]) RETURNS TABLE (idx integer, amount bigint, charged bigint)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM billing_settle_batch(p_request_ids, p_input_tokens, p_output_tokens, p_with_usage, p_user_ids, p_key_ids, p_models, p_host_ids, p_host_names, p_surfaces, p_operations, p_duration_ms, p_ttft_ms, p_statuses, p_errors);
    END
    $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION billing_settle_batch_async`);
    await q.query(`DROP FUNCTION billing_reserve_batch_async`);
  }
}
