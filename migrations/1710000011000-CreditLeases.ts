import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Credit leases (src/billing/credit-leases.ts): a process holds a block of a user's credit once
 * and admits that user's synchronous requests against it in memory; their ledger rows (reserve −R
 * and settle +(R − charged), or refund +R), reservation row and usage record are written together
 * when they settle, in one batch statement.
 *
 * A lease moves no money: `accounts.credits` stays the balance and the sum of the ledger.
 * `accounts.leased` is the part of it that leases hold, so every other hold (the per-request
 * reserve functions, redefined here) and every new lease may only take `credits − leased`, and
 * `leased <= credits` is a constraint. A settle charges `credits` and `leased` alike. A lease that
 * a crashed process left behind is swept when it expires (every settle and take renews it).
 *
 * Every function here locks the account first and its leases after, in key order, like the other
 * billing functions: concurrent calls cannot deadlock.
 */
export class CreditLeases1710000011000 implements MigrationInterface {
  name = 'CreditLeases1710000011000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE accounts
        ADD COLUMN leased bigint NOT NULL DEFAULT 0,
        ADD CONSTRAINT accounts_leased_within_credits CHECK (leased >= 0 AND leased <= credits)`);
    await q.query(`
      CREATE TABLE credit_leases (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES accounts (user_id),
        amount bigint NOT NULL CHECK (amount >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX credit_leases_expiry_idx ON credit_leases (expires_at)`);
    await q.query(`CREATE INDEX credit_leases_user_idx ON credit_leases (user_id)`);

    // As migration 1710000006000, but only credits no lease holds can be reserved.
    await q.query(`
      CREATE OR REPLACE FUNCTION billing_reserve_batch(
  p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
  p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]) RETURNS TABLE (idx integer, ok boolean, reason text, balance bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_balance bigint;
      BEGIN
        FOR i IN 1 .. coalesce(array_length(p_request_ids, 1), 0) LOOP
          idx := i;
          balance := NULL;
          IF EXISTS (SELECT 1 FROM reservations r WHERE r.request_id = p_request_ids[i]) THEN
            ok := false;
            reason := CASE WHEN EXISTS (
                SELECT 1 FROM accounts a WHERE a.user_id = p_user_ids[i] AND a.credits - a.leased >= p_credits[i]
              ) THEN 'conflict' ELSE 'insufficient_credits' END;
            RETURN NEXT;
            CONTINUE;
          END IF;
          UPDATE accounts a SET credits = a.credits - p_credits[i], updated_at = now()
          WHERE a.user_id = p_user_ids[i] AND a.credits - a.leased >= p_credits[i]
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
    // As migration 1710000010000, but only credits no lease holds can be reserved (v_leased).
    await q.query(`
      CREATE OR REPLACE FUNCTION billing_reserve_set(
  p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
  p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]) RETURNS TABLE (idx integer, ok boolean, reason text, balance bigint)
      LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
      SET enable_hashjoin = off SET enable_mergejoin = off AS $$
      DECLARE
        n integer := coalesce(array_length(p_request_ids, 1), 0);
        v_users uuid[];
        v_start bigint[];
        v_bal bigint[];
        v_leased bigint[];
        v_taken text[];
        v_ok boolean[] := array_fill(false, ARRAY[n]);
        v_reason text[] := array_fill(NULL::text, ARRAY[n]);
        v_after bigint[] := array_fill(NULL::bigint, ARRAY[n]);
        j integer;
        free bigint;
      BEGIN
        IF n = 0 THEN RETURN; END IF;
        SELECT coalesce(array_agg(l.user_id ORDER BY l.user_id), '{}'),
               coalesce(array_agg(l.credits ORDER BY l.user_id), '{}'),
               coalesce(array_agg(l.leased ORDER BY l.user_id), '{}')
          INTO v_users, v_bal, v_leased
          FROM (SELECT a.user_id, a.credits, a.leased FROM accounts a
                WHERE a.user_id = ANY (p_user_ids) ORDER BY a.user_id FOR UPDATE) l;
        v_start := v_bal;
        v_taken := ARRAY(SELECT r.request_id FROM reservations r WHERE r.request_id = ANY (p_request_ids));
        FOR i IN 1 .. n LOOP
          j := array_position(v_users, p_user_ids[i]);
          free := CASE WHEN j IS NULL THEN NULL ELSE v_bal[j] - v_leased[j] END;
          IF p_request_ids[i] = ANY (v_taken) THEN
            v_reason[i] := CASE WHEN free >= p_credits[i] THEN 'conflict' ELSE 'insufficient_credits' END;
          ELSIF free IS NULL OR free < p_credits[i] THEN
            v_reason[i] := 'insufficient_credits';
          ELSE
            v_bal[j] := v_bal[j] - p_credits[i];
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

    // Opens or grows lease p_lease of p_user by at least p_min and at most p_want credits, never
    // more than p_min plus half of what is free beyond it (another process of the same user still
    // finds credit). p_taken: the caller took this lease before; if it is gone (swept), it is
    // reported lost and nothing changes. Returns what was granted (NULL: refused, nothing changed)
    // and whether the lease was lost. A grant, not the lease's new total: the caller counts in
    // deltas, which commute with settles of the same lease committing in any order.
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

    // Gives back p_amount credits of lease p_lease (NULL: all of it, and the lease ends). Returns
    // what was given back; no row when the lease is gone.
    await q.query(`
      CREATE FUNCTION billing_lease_release(p_lease uuid, p_amount bigint, p_sync boolean)
      RETURNS TABLE (released bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_user uuid;
        v_amount bigint;
        v_give bigint;
      BEGIN
        IF NOT p_sync THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
        SELECT c.user_id INTO v_user FROM credit_leases c WHERE c.id = p_lease;
        IF v_user IS NULL THEN RETURN; END IF;
        PERFORM 1 FROM accounts a WHERE a.user_id = v_user FOR UPDATE;
        SELECT c.amount INTO v_amount FROM credit_leases c WHERE c.id = p_lease FOR UPDATE;
        IF v_amount IS NULL THEN RETURN; END IF;
        v_give := CASE WHEN p_amount IS NULL THEN v_amount ELSE LEAST(p_amount, v_amount) END;
        IF p_amount IS NULL THEN
          DELETE FROM credit_leases c WHERE c.id = p_lease;
        ELSE
          UPDATE credit_leases c SET amount = c.amount - v_give WHERE c.id = p_lease;
        END IF;
        UPDATE accounts a SET leased = a.leased - v_give, updated_at = now() WHERE a.user_id = v_user;
        RETURN QUERY SELECT v_give;
      END
      $$`);

    // Settles requests admitted on leases: per row the charge at the rates the request was admitted
    // with (0 for a refund), never above its hold; the reservation row (closed), the ledger rows
    // (reserve −R, then settle +(R − charged) or refund +R) and, with p_with_usage, the usage row.
    // Credits, leased and the lease shrink by the charge; the lease is renewed. A row whose lease is
    // gone (swept after its process went quiet too long) charges nothing: charged NULL.
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

    // Ends leases past their deadline (their process crashed or lost the database that long):
    // their credits are free again. Returns how many ended.
    await q.query(`
      CREATE FUNCTION billing_lease_sweep(p_limit integer) RETURNS integer
      LANGUAGE plpgsql AS $$
      DECLARE
        v_lease record;
        v_amount bigint;
        v_ended integer := 0;
      BEGIN
        FOR v_lease IN
          SELECT c.id, c.user_id FROM credit_leases c WHERE c.expires_at < now()
          ORDER BY c.user_id, c.id LIMIT p_limit
        LOOP
          PERFORM 1 FROM accounts a WHERE a.user_id = v_lease.user_id FOR UPDATE;
          DELETE FROM credit_leases c WHERE c.id = v_lease.id AND c.expires_at < now()
          RETURNING c.amount INTO v_amount;
          IF FOUND THEN
            UPDATE accounts a SET leased = a.leased - v_amount, updated_at = now()
            WHERE a.user_id = v_lease.user_id;
            v_ended := v_ended + 1;
          END IF;
        END LOOP;
        RETURN v_ended;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of [
      'billing_lease_sweep',
      'billing_lease_settle_set',
      'billing_lease_release',
      'billing_lease_take',
    ])
      await q.query(`DROP FUNCTION ${fn}`);
    await q.query(`DROP TABLE credit_leases`);
    // The reserve functions as migrations 1710000006000 and …10000 created them (no lease term).
    await q.query(`
      CREATE OR REPLACE FUNCTION billing_reserve_batch(
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
    await q.query(`
      CREATE OR REPLACE FUNCTION billing_reserve_set(
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
    await q.query(`ALTER TABLE accounts DROP CONSTRAINT accounts_leased_within_credits, DROP COLUMN leased`);
  }
}
