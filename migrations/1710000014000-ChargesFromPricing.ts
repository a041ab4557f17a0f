import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The charge gets one home: src/billing/pricing.ts (chargeFor) decides what a request is charged,
 * and the settle functions write that figure instead of computing it from tokens and rates
 * themselves (the same formula had been written in three of them). The lease take's sizing moved
 * to src/billing/lease-sizing.ts, so billing_lease_take is dropped (src/billing/leases.repository.ts
 * runs the take as a transaction). A check keeps every charge within its hold.
 */
export class ChargesFromPricing1710000014000 implements MigrationInterface {
  name = 'ChargesFromPricing1710000014000';

  async up(q: QueryRunner): Promise<void> {
    // The functions this migration replaces, and the lease take whose sizing moved to TypeScript.
    for (const fn of [
      'billing_settle_batch_async',
      'billing_settle_set_async',
      'billing_settle_batch',
      'billing_settle_set',
      'billing_lease_settle_set',
      'billing_lease_take',
    ])
      await q.query(`DROP FUNCTION ${fn}`);
    // Settles of reservations: per row, an open reservation is charged p_charges[i] (the charge
    // src/billing/pricing.ts decided; NULL: nothing to settle, only the usage row) and the rest of
    // its hold returned; otherwise as migration 1710000006000.
    await q.query(`
      CREATE FUNCTION billing_settle_batch(
        p_request_ids text[], p_charges bigint[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
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
              charged = p_charges[i]
          WHERE r.request_id = p_request_ids[i] AND r.status = 'open' AND p_charges[i] IS NOT NULL
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
    // The set-based form of the same (as migration 1710000010000, the charge given).
    await q.query(`
      CREATE FUNCTION billing_settle_set(
  p_request_ids text[], p_charges bigint[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
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
          SELECT DISTINCT ON (t.request_id) t.request_id, t.charge, t.input_tokens, t.output_tokens, t.i
          FROM unnest(p_request_ids, p_charges, p_input_tokens, p_output_tokens) WITH ORDINALITY
            AS t(request_id, charge, input_tokens, output_tokens, i)
          ORDER BY t.request_id, t.i
        ), settled AS (
          UPDATE reservations r
          SET status = 'settled', closed_at = now(), input_tokens = f.input_tokens,
              output_tokens = f.output_tokens,
              charged = f.charge
          FROM firsts f
          WHERE r.request_id = f.request_id AND r.status = 'open' AND f.charge IS NOT NULL
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
    // As migration 1710000009000: the same calls in a transaction that commits without the flush.
    await q.query(`
    CREATE FUNCTION billing_settle_batch_async(
  p_request_ids text[], p_charges bigint[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
  p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
  p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
  p_statuses text[], p_errors text[]) RETURNS TABLE (idx integer, amount bigint, charged bigint)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM billing_settle_batch(p_request_ids, p_charges, p_input_tokens, p_output_tokens, p_with_usage, p_user_ids, p_key_ids, p_models, p_host_ids, p_host_names, p_surfaces, p_operations, p_duration_ms, p_ttft_ms, p_statuses, p_errors);
    END
    $$`);
    await q.query(`
    CREATE FUNCTION billing_settle_set_async(
  p_request_ids text[], p_charges bigint[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
  p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
  p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
  p_statuses text[], p_errors text[]) RETURNS TABLE (idx integer, amount bigint, charged bigint)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM billing_settle_set(p_request_ids, p_charges, p_input_tokens, p_output_tokens, p_with_usage, p_user_ids, p_key_ids, p_models, p_host_ids, p_host_names, p_surfaces, p_operations, p_duration_ms, p_ttft_ms, p_statuses, p_errors);
    END
    $$`);
    // Settles of lease requests (as migration 1710000011000): the charge of each row is given.
    await q.query(`
      CREATE FUNCTION billing_lease_settle_set(
        p_lease_ids uuid[], p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[],
        p_amounts bigint[], p_charges bigint[], p_input_rates numeric[], p_output_rates numeric[], p_input_tokens integer[],
        p_output_tokens integer[], p_refund boolean[], p_with_usage boolean[], p_usage_key_ids uuid[],
        p_host_ids text[], p_host_names text[], p_surfaces text[], p_operations text[], p_duration_ms integer[],
        p_ttft_ms integer[], p_statuses text[], p_errors text[], p_hold_ms double precision, p_sync boolean
      ) RETURNS TABLE (idx integer, charged bigint)
      LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
      SET enable_hashjoin = off SET enable_mergejoin = off AS $$
      DECLARE
        n integer := coalesce(array_length(p_request_ids, 1), 0);
        v_users uuid[];
        v_start bigint[];
        v_bal bigint[];
        v_leases uuid[];
        v_charged bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        v_held_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        v_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        j integer;
      BEGIN
        IF n = 0 THEN RETURN; END IF;
        IF NOT p_sync THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
        SELECT coalesce(array_agg(l.user_id ORDER BY l.user_id), '{}'),
               coalesce(array_agg(l.credits ORDER BY l.user_id), '{}')
          INTO v_users, v_bal
          FROM (SELECT a.user_id, a.credits FROM accounts a
                WHERE a.user_id = ANY (p_user_ids) ORDER BY a.user_id FOR UPDATE) l;
        v_start := v_bal;
        v_leases := ARRAY(SELECT c.id FROM credit_leases c WHERE c.id = ANY (p_lease_ids) ORDER BY c.id FOR UPDATE);
        FOR i IN 1 .. n LOOP
          j := array_position(v_users, p_user_ids[i]);
          IF j IS NOT NULL AND p_lease_ids[i] = ANY (v_leases) THEN
            v_charged[i] := p_charges[i];
            v_held_after[i] := v_bal[j] - p_amounts[i];
            v_bal[j] := v_bal[j] - v_charged[i];
            v_after[i] := v_bal[j];
          END IF;
        END LOOP;
        UPDATE accounts a SET credits = u.credits, leased = a.leased - (u.start - u.credits), updated_at = now()
        FROM unnest(v_users, v_bal, v_start) AS u(user_id, credits, start)
        WHERE a.user_id = u.user_id AND u.credits <> u.start;
        UPDATE credit_leases c SET amount = c.amount - s.charged,
               expires_at = now() + p_hold_ms * interval '1 millisecond'
        FROM (SELECT t.lease_id, sum(t.charged)::bigint AS charged
              FROM unnest(p_lease_ids, v_charged) AS t(lease_id, charged)
              WHERE t.charged IS NOT NULL GROUP BY t.lease_id) s
        WHERE c.id = s.lease_id;
        INSERT INTO reservations (request_id, user_id, key_id, model, amount, input_rate, output_rate, status,
          charged, input_tokens, output_tokens, closed_at)
        SELECT p_request_ids[i], p_user_ids[i], p_key_ids[i], p_models[i], p_amounts[i], p_input_rates[i],
               p_output_rates[i], CASE WHEN p_refund[i] THEN 'refunded' ELSE 'settled' END, v_charged[i],
               p_input_tokens[i], p_output_tokens[i], now()
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE v_charged[i] IS NOT NULL ORDER BY i;
        INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
        SELECT p_user_ids[i], e.amount, e.kind, p_request_ids[i], e.after
        FROM generate_subscripts(p_request_ids, 1) AS i
        CROSS JOIN LATERAL (VALUES
          (1, -p_amounts[i], 'reserve', v_held_after[i]),
          (2, p_amounts[i] - v_charged[i], CASE WHEN p_refund[i] THEN 'refund' ELSE 'settle' END, v_after[i])
        ) AS e(k, amount, kind, after)
        WHERE v_charged[i] IS NOT NULL ORDER BY i, e.k;
        INSERT INTO usage_records (request_id, user_id, key_id, model, host_id, host_name, surface, operation,
          input_tokens, output_tokens, credits, duration_ms, ttft_ms, status, error)
        SELECT p_request_ids[i], p_user_ids[i], p_usage_key_ids[i], p_models[i], p_host_ids[i], p_host_names[i],
          p_surfaces[i], p_operations[i], p_input_tokens[i], p_output_tokens[i], coalesce(v_charged[i], 0),
          p_duration_ms[i], p_ttft_ms[i], p_statuses[i], p_errors[i]
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE p_with_usage[i] ORDER BY i;
        RETURN QUERY SELECT i, v_charged[i] FROM generate_subscripts(p_request_ids, 1) AS i ORDER BY i;
      END
      $$`);
    // Whatever computes a charge, the books never hold one outside its hold.
    await q.query(`
      ALTER TABLE reservations ADD CONSTRAINT reservations_charged_within_hold
        CHECK (charged IS NULL OR (charged >= 0 AND charged <= amount)) NOT VALID`);
    await q.query(`ALTER TABLE reservations VALIDATE CONSTRAINT reservations_charged_within_hold`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reservations DROP CONSTRAINT reservations_charged_within_hold`);
    for (const fn of [
      'billing_settle_batch_async',
      'billing_settle_set_async',
      'billing_settle_batch',
      'billing_settle_set',
      'billing_lease_settle_set',
    ])
      await q.query(`DROP FUNCTION ${fn}`);
    // The functions as migrations 1710000006000, 1710000009000, 1710000010000 and 1710000011000 created them.
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
    await q.query(`
      CREATE FUNCTION billing_lease_settle_set(
        p_lease_ids uuid[], p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[],
        p_amounts bigint[], p_input_rates numeric[], p_output_rates numeric[], p_input_tokens integer[],
        p_output_tokens integer[], p_refund boolean[], p_with_usage boolean[], p_usage_key_ids uuid[],
        p_host_ids text[], p_host_names text[], p_surfaces text[], p_operations text[], p_duration_ms integer[],
        p_ttft_ms integer[], p_statuses text[], p_errors text[], p_hold_ms double precision, p_sync boolean
      ) RETURNS TABLE (idx integer, charged bigint)
      LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
      SET enable_hashjoin = off SET enable_mergejoin = off AS $$
      DECLARE
        n integer := coalesce(array_length(p_request_ids, 1), 0);
        v_users uuid[];
        v_start bigint[];
        v_bal bigint[];
        v_leases uuid[];
        v_charged bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        v_held_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        v_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        j integer;
      BEGIN
        IF n = 0 THEN RETURN; END IF;
        IF NOT p_sync THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
        SELECT coalesce(array_agg(l.user_id ORDER BY l.user_id), '{}'),
               coalesce(array_agg(l.credits ORDER BY l.user_id), '{}')
          INTO v_users, v_bal
          FROM (SELECT a.user_id, a.credits FROM accounts a
                WHERE a.user_id = ANY (p_user_ids) ORDER BY a.user_id FOR UPDATE) l;
        v_start := v_bal;
        v_leases := ARRAY(SELECT c.id FROM credit_leases c WHERE c.id = ANY (p_lease_ids) ORDER BY c.id FOR UPDATE);
        FOR i IN 1 .. n LOOP
          j := array_position(v_users, p_user_ids[i]);
          IF j IS NOT NULL AND p_lease_ids[i] = ANY (v_leases) THEN
            v_charged[i] := CASE WHEN p_refund[i] THEN 0 ELSE
              LEAST(p_amounts[i], CEIL((p_input_tokens[i]::numeric * p_input_rates[i]
                                        + p_output_tokens[i]::numeric * p_output_rates[i]) * 10000)::bigint) END;
            v_held_after[i] := v_bal[j] - p_amounts[i];
            v_bal[j] := v_bal[j] - v_charged[i];
            v_after[i] := v_bal[j];
          END IF;
        END LOOP;
        UPDATE accounts a SET credits = u.credits, leased = a.leased - (u.start - u.credits), updated_at = now()
        FROM unnest(v_users, v_bal, v_start) AS u(user_id, credits, start)
        WHERE a.user_id = u.user_id AND u.credits <> u.start;
        UPDATE credit_leases c SET amount = c.amount - s.charged,
               expires_at = now() + p_hold_ms * interval '1 millisecond'
        FROM (SELECT t.lease_id, sum(t.charged)::bigint AS charged
              FROM unnest(p_lease_ids, v_charged) AS t(lease_id, charged)
              WHERE t.charged IS NOT NULL GROUP BY t.lease_id) s
        WHERE c.id = s.lease_id;
        INSERT INTO reservations (request_id, user_id, key_id, model, amount, input_rate, output_rate, status,
          charged, input_tokens, output_tokens, closed_at)
        SELECT p_request_ids[i], p_user_ids[i], p_key_ids[i], p_models[i], p_amounts[i], p_input_rates[i],
               p_output_rates[i], CASE WHEN p_refund[i] THEN 'refunded' ELSE 'settled' END, v_charged[i],
               p_input_tokens[i], p_output_tokens[i], now()
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE v_charged[i] IS NOT NULL ORDER BY i;
        INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
        SELECT p_user_ids[i], e.amount, e.kind, p_request_ids[i], e.after
        FROM generate_subscripts(p_request_ids, 1) AS i
        CROSS JOIN LATERAL (VALUES
          (1, -p_amounts[i], 'reserve', v_held_after[i]),
          (2, p_amounts[i] - v_charged[i], CASE WHEN p_refund[i] THEN 'refund' ELSE 'settle' END, v_after[i])
        ) AS e(k, amount, kind, after)
        WHERE v_charged[i] IS NOT NULL ORDER BY i, e.k;
        INSERT INTO usage_records (request_id, user_id, key_id, model, host_id, host_name, surface, operation,
          input_tokens, output_tokens, credits, duration_ms, ttft_ms, status, error)
        SELECT p_request_ids[i], p_user_ids[i], p_usage_key_ids[i], p_models[i], p_host_ids[i], p_host_names[i],
          p_surfaces[i], p_operations[i], p_input_tokens[i], p_output_tokens[i], coalesce(v_charged[i], 0),
          p_duration_ms[i], p_ttft_ms[i], p_statuses[i], p_errors[i]
        FROM generate_subscripts(p_request_ids, 1) AS i WHERE p_with_usage[i] ORDER BY i;
        RETURN QUERY SELECT i, v_charged[i] FROM generate_subscripts(p_request_ids, 1) AS i ORDER BY i;
      END
      $$`);
    await q.query(`
      CREATE FUNCTION billing_lease_take(
        p_lease uuid, p_user uuid, p_min bigint, p_want bigint, p_taken boolean, p_hold_ms double precision,
        p_sync boolean
      ) RETURNS TABLE (granted bigint, lost boolean)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_free bigint;
        v_grant bigint;
        v_amount bigint;
      BEGIN
        IF NOT p_sync THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
        SELECT a.credits - a.leased INTO v_free FROM accounts a WHERE a.user_id = p_user FOR UPDATE;
        SELECT c.amount INTO v_amount FROM credit_leases c WHERE c.id = p_lease FOR UPDATE;
        IF v_amount IS NULL AND p_taken THEN
          RETURN QUERY SELECT NULL::bigint, true;
          RETURN;
        END IF;
        IF v_free IS NULL OR v_free < p_min THEN
          RETURN QUERY SELECT NULL::bigint, false;
          RETURN;
        END IF;
        v_grant := LEAST(GREATEST(p_want, p_min), p_min + (v_free - p_min) / 2);
        UPDATE accounts a SET leased = a.leased + v_grant, updated_at = now() WHERE a.user_id = p_user;
        INSERT INTO credit_leases AS c (id, user_id, amount, expires_at)
        VALUES (p_lease, p_user, v_grant, now() + p_hold_ms * interval '1 millisecond')
        ON CONFLICT (id) DO UPDATE SET amount = c.amount + EXCLUDED.amount, expires_at = EXCLUDED.expires_at;
        RETURN QUERY SELECT v_grant, false;
      END
      $$`);
  }
}
