import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `billing_reserve_set` / `billing_settle_set` (and their `_async` twins): the batched reserve and
 * settle of migration 1710000006000 with the same signatures and the same per-row rules, written
 * set-based: the batch's accounts are locked once (in user order, so concurrent batches cannot
 * deadlock), the per-row decisions run over in-memory balances, and each table is written by one
 * statement. The row-by-row functions update a user's account row once per request: a batch of
 * 64 requests of one user walks up to 64 row versions, ≈ 80–95 µs (reserve) and ≈ 100–125 µs
 * (settle) of PostgreSQL time per row against ≈ 25–40 here. For a single row the row-by-row
 * function is cheaper (fewer statements), so the caller uses it for batches of one
 * (src/billing/billing-batches.ts). Generic plans: re-planning these statements for each call's
 * arrays would cost more than running them. Index lookups and nested loops only: a plan cached by
 * a connection opened while the tables were small would otherwise scan them whole forever (seen:
 * a 32-row reserve batch going from 1.5 ms to 16.6 ms as reservations grew to 12,800 rows).
 */
export class SetBasedBillingBatches1710000010000 implements MigrationInterface {
  name = 'SetBasedBillingBatches1710000010000';

  async up(q: QueryRunner): Promise<void> {
    // reason: 'conflict' (request id already reserved, also earlier in this batch) or
    // 'insufficient_credits' (no change). A short balance is reported before a duplicate id.
    await q.query(`
      CREATE FUNCTION billing_reserve_set(
  p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
  p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]) RETURNS TABLE (idx integer, ok boolean, reason text, balance bigint)
      LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
      SET enable_hashjoin = off SET enable_mergejoin = off AS $$
      DECLARE
        n integer := coalesce(array_length(p_request_ids, 1), 0);
        v_users uuid[];
        v_start bigint[];
        v_bal bigint[];
        v_taken text[];
        v_ok boolean[] := array_fill(false, ARRAY[n]);
        v_reason text[] := array_fill(NULL::text, ARRAY[n]);
        v_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        j integer;
        cur bigint;
      BEGIN
        IF n = 0 THEN RETURN; END IF;
        SELECT coalesce(array_agg(l.user_id ORDER BY l.user_id), '{}'),
               coalesce(array_agg(l.credits ORDER BY l.user_id), '{}')
          INTO v_users, v_bal
          FROM (SELECT a.user_id, a.credits FROM accounts a
                WHERE a.user_id = ANY (p_user_ids) ORDER BY a.user_id FOR UPDATE) l;
        v_start := v_bal;
        v_taken := ARRAY(SELECT r.request_id FROM reservations r WHERE r.request_id = ANY (p_request_ids));
        FOR i IN 1 .. n LOOP
          j := array_position(v_users, p_user_ids[i]);
          cur := CASE WHEN j IS NULL THEN NULL ELSE v_bal[j] END;
          IF p_request_ids[i] = ANY (v_taken) THEN
            v_reason[i] := CASE WHEN cur >= p_credits[i] THEN 'conflict' ELSE 'insufficient_credits' END;
          ELSIF cur IS NULL OR cur < p_credits[i] THEN
            v_reason[i] := 'insufficient_credits';
          ELSE
            v_bal[j] := cur - p_credits[i];
            v_ok[i] := true;
            v_after[i] := v_bal[j];
            v_taken := v_taken || p_request_ids[i];
          END IF;
        END LOOP;
        UPDATE accounts a SET credits = u.credits, updated_at = now()
        FROM unnest(v_users, v_bal, v_start) AS u(user_id, credits, start)
        WHERE a.user_id = u.user_id AND u.credits <> u.start;
        INSERT INTO reservations (request_id, user_id, key_id, model, amount, input_rate, output_rate, expires_at)
        SELECT p_request_ids[i], p_user_ids[i], p_key_ids[i], p_models[i], p_credits[i], p_input_rates[i],
               p_output_rates[i], now() + p_hold_ms[i] * interval '1 millisecond'
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE v_ok[i] ORDER BY i;
        INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
        SELECT p_user_ids[i], -p_credits[i], 'reserve', p_request_ids[i], v_after[i]
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE v_ok[i] ORDER BY i;
        RETURN QUERY
          SELECT i, v_ok[i], v_reason[i], v_after[i] FROM generate_subscripts(p_request_ids, 1) AS i ORDER BY i;
      END
      $$`);
    // amount/charged are NULL for a reservation that was not open (nothing changed; a repeated id
    // in the batch settles once, at its first place). A row with p_with_usage also gets its
    // usage_records row, credits = what this settle charged (0 if none).
    await q.query(`
      CREATE FUNCTION billing_settle_set(
  p_request_ids text[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
  p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
  p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
  p_statuses text[], p_errors text[]) RETURNS TABLE (idx integer, amount bigint, charged bigint)
      LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
      SET enable_hashjoin = off SET enable_mergejoin = off AS $$
      DECLARE
        n integer := coalesce(array_length(p_request_ids, 1), 0);
        s_idx integer[];
        s_user uuid[];
        s_amount bigint[];
        s_charged bigint[];
        v_users uuid[];
        v_start bigint[];
        v_bal bigint[];
        v_amount bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        v_charged bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        v_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        j integer;
      BEGIN
        IF n = 0 THEN RETURN; END IF;
        WITH firsts AS (
          SELECT DISTINCT ON (t.request_id) t.request_id, t.input_tokens, t.output_tokens, t.i
          FROM unnest(p_request_ids, p_input_tokens, p_output_tokens) WITH ORDINALITY
            AS t(request_id, input_tokens, output_tokens, i)
          ORDER BY t.request_id, t.i
        ), settled AS (
          UPDATE reservations r
          SET status = 'settled', closed_at = now(), input_tokens = f.input_tokens,
              output_tokens = f.output_tokens,
              charged = LEAST(r.amount, CEIL((f.input_tokens::numeric * r.input_rate
                                              + f.output_tokens::numeric * r.output_rate) * 10000)::bigint)
          FROM firsts f
          WHERE r.request_id = f.request_id AND r.status = 'open'
          RETURNING f.i::integer AS i, r.user_id, r.amount, r.charged
        )
        SELECT array_agg(s.i ORDER BY s.i), array_agg(s.user_id ORDER BY s.i),
               array_agg(s.amount ORDER BY s.i), array_agg(s.charged ORDER BY s.i)
          INTO s_idx, s_user, s_amount, s_charged
          FROM settled s;
        IF s_idx IS NOT NULL THEN
          SELECT coalesce(array_agg(l.user_id ORDER BY l.user_id), '{}'),
                 coalesce(array_agg(l.credits ORDER BY l.user_id), '{}')
            INTO v_users, v_bal
            FROM (SELECT a.user_id, a.credits FROM accounts a
                  WHERE a.user_id = ANY (s_user) ORDER BY a.user_id FOR UPDATE) l;
          v_start := v_bal;
          FOR k IN 1 .. array_length(s_idx, 1) LOOP
            j := array_position(v_users, s_user[k]);
            IF j IS NOT NULL THEN
              v_bal[j] := v_bal[j] + (s_amount[k] - s_charged[k]);
              v_amount[s_idx[k]] := s_amount[k];
              v_charged[s_idx[k]] := s_charged[k];
              v_after[s_idx[k]] := v_bal[j];
            END IF;
          END LOOP;
          UPDATE accounts a SET credits = u.credits, updated_at = now()
          FROM unnest(v_users, v_bal, v_start) AS u(user_id, credits, start)
          WHERE a.user_id = u.user_id AND u.credits <> u.start;
          INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
          SELECT s_user[k], s_amount[k] - s_charged[k], 'settle', p_request_ids[s_idx[k]], v_after[s_idx[k]]
          FROM generate_subscripts(s_idx, 1) AS k WHERE v_after[s_idx[k]] IS NOT NULL ORDER BY k;
        END IF;
        INSERT INTO usage_records (request_id, user_id, key_id, model, host_id, host_name, surface, operation,
          input_tokens, output_tokens, credits, duration_ms, ttft_ms, status, error)
        SELECT p_request_ids[i], p_user_ids[i], p_key_ids[i], p_models[i], p_host_ids[i], p_host_names[i],
          p_surfaces[i], p_operations[i], p_input_tokens[i], p_output_tokens[i], coalesce(v_charged[i], 0),
          p_duration_ms[i], p_ttft_ms[i], p_statuses[i], p_errors[i]
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE p_with_usage[i] ORDER BY i;
        RETURN QUERY
          SELECT i, v_amount[i], v_charged[i] FROM generate_subscripts(p_request_ids, 1) AS i ORDER BY i;
      END
      $$`);
    // As migration 1710000009000: the same call in a transaction that commits without the flush.
    await q.query(`
    CREATE FUNCTION billing_reserve_set_async(
  p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
  p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]) RETURNS TABLE (idx integer, ok boolean, reason text, balance bigint)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM billing_reserve_set(p_request_ids, p_user_ids, p_key_ids, p_models, p_credits, p_input_rates, p_output_rates, p_hold_ms);
    END
    $$`);
    await q.query(`
    CREATE FUNCTION billing_settle_set_async(
  p_request_ids text[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
  p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
  p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
  p_statuses text[], p_errors text[]) RETURNS TABLE (idx integer, amount bigint, charged bigint)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM billing_settle_set(p_request_ids, p_input_tokens, p_output_tokens, p_with_usage, p_user_ids, p_key_ids, p_models, p_host_ids, p_host_names, p_surfaces, p_operations, p_duration_ms, p_ttft_ms, p_statuses, p_errors);
    END
    $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of [
      'billing_settle_set_async',
      'billing_reserve_set_async',
      'billing_settle_set',
      'billing_reserve_set',
    ])
      await q.query(`DROP FUNCTION ${name}`);
  }
}
