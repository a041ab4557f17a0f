import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Batched reserve and settle: one statement (one transaction, one commit) for many requests.
 * Each function walks its rows in the order given with exactly the per-row rules of RESERVE_SQL
 * and SETTLE_SQL (src/billing/billing.sql.ts); a row that cannot proceed changes nothing and
 * reports why, without failing the others. The caller sorts rows by user so that concurrent
 * batches lock accounts in one order.
 */
export class BillingBatch1710000006000 implements MigrationInterface {
  name = 'BillingBatch1710000006000';

  async up(q: QueryRunner): Promise<void> {
    // reason: 'conflict' (request id already reserved) or 'insufficient_credits' (no change).
    await q.query(`
      CREATE FUNCTION billing_reserve_batch(
        p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
        p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]
      ) RETURNS TABLE (idx integer, ok boolean, reason text, balance bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_balance bigint;
      BEGIN
        FOR i IN 1 .. coalesce(array_length(p_request_ids, 1), 0) LOOP
          idx := i;
          balance := NULL;
          IF EXISTS (SELECT 1 FROM reservations r WHERE r.request_id = p_request_ids[i]) THEN
            -- As RESERVE_SQL: a short balance is reported before the duplicate id.
            ok := false;
            reason := CASE WHEN EXISTS (
                SELECT 1 FROM accounts a WHERE a.user_id = p_user_ids[i] AND a.credits >= p_credits[i]
              ) THEN 'conflict' ELSE 'insufficient_credits' END;
            RETURN NEXT;
            CONTINUE;
          END IF;
          UPDATE accounts a SET credits = a.credits - p_credits[i], updated_at = now()
          WHERE a.user_id = p_user_ids[i] AND a.credits >= p_credits[i]
          RETURNING a.credits INTO v_balance;
          IF NOT FOUND THEN
            ok := false;
            reason := 'insufficient_credits';
            RETURN NEXT;
            CONTINUE;
          END IF;
          INSERT INTO reservations (request_id, user_id, key_id, model, amount, input_rate, output_rate, expires_at)
          VALUES (p_request_ids[i], p_user_ids[i], p_key_ids[i], p_models[i], p_credits[i], p_input_rates[i],
                  p_output_rates[i], now() + p_hold_ms[i] * interval '1 millisecond');
          INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
          VALUES (p_user_ids[i], -p_credits[i], 'reserve', p_request_ids[i], v_balance);
          ok := true;
          reason := NULL;
          balance := v_balance;
          RETURN NEXT;
        END LOOP;
      END
      $$`);
    // amount/charged are NULL for a reservation that was not open (nothing changed). A row with
    // p_with_usage also gets its usage_records row, credits = what this settle charged (0 if none).
    await q.query(`
      CREATE FUNCTION billing_settle_batch(
        p_request_ids text[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
        p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
        p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
        p_statuses text[], p_errors text[]
      ) RETURNS TABLE (idx integer, amount bigint, charged bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_user uuid;
        v_amount bigint;
        v_charged bigint;
        v_balance bigint;
      BEGIN
        FOR i IN 1 .. coalesce(array_length(p_request_ids, 1), 0) LOOP
          idx := i;
          amount := NULL;
          charged := NULL;
          UPDATE reservations r
          SET status = 'settled', closed_at = now(), input_tokens = p_input_tokens[i],
              output_tokens = p_output_tokens[i],
              charged = LEAST(r.amount, CEIL((p_input_tokens[i]::numeric * r.input_rate
                                              + p_output_tokens[i]::numeric * r.output_rate) * 10000)::bigint)
          WHERE r.request_id = p_request_ids[i] AND r.status = 'open'
          RETURNING r.user_id, r.amount, r.charged INTO v_user, v_amount, v_charged;
          IF FOUND THEN
            UPDATE accounts a SET credits = a.credits + (v_amount - v_charged), updated_at = now()
            WHERE a.user_id = v_user
            RETURNING a.credits INTO v_balance;
            IF FOUND THEN
              INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
              VALUES (v_user, v_amount - v_charged, 'settle', p_request_ids[i], v_balance);
              amount := v_amount;
              charged := v_charged;
            END IF;
          END IF;
          IF p_with_usage[i] THEN
            INSERT INTO usage_records (request_id, user_id, key_id, model, host_id, host_name, surface, operation,
              input_tokens, output_tokens, credits, duration_ms, ttft_ms, status, error)
            VALUES (p_request_ids[i], p_user_ids[i], p_key_ids[i], p_models[i], p_host_ids[i], p_host_names[i],
              p_surfaces[i], p_operations[i], p_input_tokens[i], p_output_tokens[i], coalesce(charged, 0),
              p_duration_ms[i], p_ttft_ms[i], p_statuses[i], p_errors[i]);
          END IF;
          RETURN NEXT;
        END LOOP;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION billing_settle_batch`);
    await q.query(`DROP FUNCTION billing_reserve_batch`);
  }
}
