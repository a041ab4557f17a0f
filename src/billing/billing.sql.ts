/**
 * The money-moving statements. Each is ONE statement (data-modifying CTEs), so it is atomic on
 * its own and costs one round trip. Ledger scheme (balance = sum of ledger amounts, always):
 *   reserve  −R   the hold, written when the request is admitted
 *   settle   +(R − charged)   the unused part of the hold returned (0 allowed); the request's
 *                             rows then sum to −charged
 *   refund   +R   the whole hold returned (failed/cancelled request, or the sweep)
 *   topup    +N   admin top-up; adjustment ±N is reserved for manual corrections
 */

/**
 * $1 user, $2 request id, $3 credits, $4 key id, $5 model, $6 input rate, $7 output rate,
 * $8 hold in ms before the sweep may refund it (null: never swept).
 */
export const RESERVE_SQL = `
  WITH acc AS (
    UPDATE accounts SET credits = credits - $3::bigint, updated_at = now()
    WHERE user_id = $1::uuid AND credits >= $3::bigint
    RETURNING credits
  ), res AS (
    INSERT INTO reservations (request_id, user_id, key_id, model, amount, input_rate, output_rate, expires_at)
    SELECT $2, $1::uuid, $4, $5, $3::bigint, $6::numeric, $7::numeric,
           now() + $8::double precision * interval '1 millisecond'
    FROM acc
  ), led AS (
    INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
    SELECT $1::uuid, -$3::bigint, 'reserve', $2, credits FROM acc
  )
  SELECT credits::text AS credits FROM acc`;

/**
 * $1 request id, $2 input tokens, $3 output tokens. Charges at the reservation's snapshot rates,
 * never more than the hold; only an open reservation changes, so a repeat does nothing.
 */
export const SETTLE_SQL = `
  WITH r AS (
    UPDATE reservations
    SET status = 'settled', closed_at = now(), input_tokens = $2::integer, output_tokens = $3::integer,
        charged = LEAST(amount, CEIL(($2::numeric * input_rate + $3::numeric * output_rate) * 10000)::bigint)
    WHERE request_id = $1 AND status = 'open'
    RETURNING user_id, amount, charged
  ), acc AS (
    UPDATE accounts a SET credits = a.credits + (r.amount - r.charged), updated_at = now()
    FROM r WHERE a.user_id = r.user_id
    RETURNING a.user_id, a.credits, r.amount, r.charged
  ), led AS (
    INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
    SELECT user_id, amount - charged, 'settle', $1, credits FROM acc
  )
  SELECT amount::text AS amount, charged::text AS charged FROM acc`;

/** $1 request id. Returns the whole hold of an open reservation; a repeat does nothing. */
export const REFUND_SQL = `
  WITH r AS (
    UPDATE reservations SET status = 'refunded', closed_at = now(), charged = 0
    WHERE request_id = $1 AND status = 'open'
    RETURNING user_id, amount
  ), acc AS (
    UPDATE accounts a SET credits = a.credits + r.amount, updated_at = now()
    FROM r WHERE a.user_id = r.user_id
    RETURNING a.user_id, a.credits, r.amount
  ), led AS (
    INSERT INTO credit_ledger (user_id, amount, kind, request_id, balance_after)
    SELECT user_id, amount, 'refund', $1, credits FROM acc
  )
  SELECT amount::text AS amount FROM acc`;

/** $1 batch size. Open reservations past their deadline, oldest first (reservations_expiry_idx). */
export const EXPIRED_RESERVATIONS_SQL = `
  SELECT request_id FROM reservations
  WHERE status = 'open' AND expires_at < now()
  ORDER BY expires_at
  LIMIT $1::integer`;

/**
 * $1 user, $2 amount, $3 reference, $4 idempotency key (or null), $5 request hash. Creates the
 * account if needed. With a key already used, nothing changes and the first entry comes back
 * ('replay'). Two concurrent first uses of a key: the loser hits the unique index and its whole
 * statement rolls back; the caller runs it again and gets the replay. No user: no row.
 */
export const TOP_UP_SQL = `
  WITH prev AS (
    SELECT id, balance_after, request_hash FROM credit_ledger
    WHERE user_id = $1::uuid AND idempotency_key = $4
  ), acc AS (
    INSERT INTO accounts (user_id, credits)
    SELECT id, $2::bigint FROM users WHERE id = $1::uuid AND NOT EXISTS (SELECT 1 FROM prev)
    ON CONFLICT (user_id) DO UPDATE SET credits = accounts.credits + EXCLUDED.credits, updated_at = now()
    RETURNING credits
  ), ins AS (
    INSERT INTO credit_ledger (user_id, amount, kind, reference, idempotency_key, request_hash, balance_after)
    SELECT $1::uuid, $2::bigint, 'topup', $3, $4, $5, credits FROM acc
    RETURNING id, balance_after
  )
  SELECT true AS replayed, id::text AS id, balance_after::text AS balance_after, request_hash FROM prev
  UNION ALL
  SELECT false, id::text, balance_after::text, $5 FROM ins`;
