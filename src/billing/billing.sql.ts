/**
 * The money-moving statements. Each is ONE statement (data-modifying CTEs or one function call),
 * so it is atomic on its own and costs one round trip. Ledger scheme (balance = sum of ledger amounts, always):
 *   reserve  −R   the hold, written when the request is admitted
 *   settle   +(R − charged)   the unused part of the hold returned (0 allowed); the request's
 *                             rows then sum to −charged
 *   refund   +R   the whole hold returned (failed/cancelled request, or the sweep)
 *   topup    +N   admin top-up; adjustment ±N is reserved for manual corrections
 */

/** A named statement: PostgreSQL parses and plans it once per connection. */
export interface NamedStatement {
  name: string;
  text: string;
}

/**
 * Which function a batch statement below calls (`%FN%`): one row goes to the row-by-row function
 * (`billing_<op>_batch`, migration 1710000006000), more to the set-based one (`billing_<op>_set`,
 * 1710000010000; same rules, cheaper from two rows on). Both have `…_async` twins
 * (1710000009000, 1710000010000) used unless BILLING_SYNCHRONOUS_COMMIT is on: same rules, the
 * commit does not wait for the WAL flush. Returns the statement for a batch of `rows`.
 */
export function batchStatements(
  op: 'reserve' | 'settle',
  sql: string,
  synchronousCommit: boolean,
): (rows: number) => NamedStatement {
  const statement = (form: 'batch' | 'set'): NamedStatement => {
    const fn = `billing_${op}_${form}${synchronousCommit ? '' : '_async'}`;
    return { name: `le_${fn}`, text: sql.replace('%FN%', fn) };
  };
  const one = statement('batch');
  const many = statement('set');
  return (rows) => (rows === 1 ? one : many);
}

/**
 * Many reserves in one statement (migration 1710000006000): per row, the hold is taken only if
 * the balance covers it, then the reservation and its ledger row (−R) are written. Arrays of
 * equal length: request ids, users, key ids, models, credits, input rates, output rates, hold in
 * ms before the sweep may refund it (null: never swept). One result row per input row (idx from 1).
 */
export const RESERVE_BATCH_SQL = `
  SELECT idx, ok, reason, balance::text AS balance FROM %FN%(
    $1::text[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::numeric[], $7::numeric[],
    $8::double precision[])`;

/**
 * Many settles in one statement: per row, an open reservation is charged what pricing.ts decided
 * (chargeFor; NULL: nothing to settle) and the rest of its hold returned (+(R − charged)); a
 * reservation that is not open does not change. Rows with a usage payload also get their
 * usage_records row in the same transaction, its credits being what the settle charged.
 * amount/charged NULL: nothing settled.
 */
export const SETTLE_BATCH_SQL = `
  SELECT idx, amount::text AS amount, charged::text AS charged FROM %FN%(
    $1::text[], $2::bigint[], $3::integer[], $4::integer[], $5::boolean[], $6::uuid[], $7::uuid[], $8::text[],
    $9::text[], $10::text[], $11::text[], $12::text[], $13::integer[], $14::integer[], $15::text[],
    $16::text[])`;

/**
 * The hold of a request's open reservation beside another table's row: a LEFT JOIN on
 * `reservations h` and its columns (hold_amount, hold_input_rate, hold_output_rate; null when
 * nothing is open), read with `holdOfRow` (reservations.repository.ts). `requestId` is the SQL
 * expression of the request id as text.
 */
export function openHoldJoin(requestId: string): { columns: string; join: string } {
  return {
    columns: `h.amount::text AS hold_amount, h.input_rate::text AS hold_input_rate,
      h.output_rate::text AS hold_output_rate`,
    join: `LEFT JOIN reservations h ON h.request_id = ${requestId} AND h.status = 'open'`,
  };
}

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

/** Credit leases (migration 1710000011000, src/billing/leases.repository.ts). */

/** $1 lease, $2 credits to give back (NULL: all, the lease ends), $3 wait for the flush. */
export const LEASE_RELEASE_SQL = `
  SELECT released::text AS released FROM billing_lease_release($1::uuid, $2::bigint, $3::boolean)`;

/**
 * Settles requests admitted on leases, many per statement, each charged what pricing.ts decided
 * (migration 1710000014000).
 */
export const LEASE_SETTLE_SQL = `
  SELECT idx, charged::text AS charged FROM billing_lease_settle_set(
    $1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::numeric[],
    $9::numeric[], $10::integer[], $11::integer[], $12::boolean[], $13::boolean[], $14::uuid[], $15::text[],
    $16::text[], $17::text[], $18::text[], $19::integer[], $20::integer[], $21::text[], $22::text[],
    $23::double precision, $24::boolean)`;

/** $1 lease ids, $2 hold ms: leases with requests still running stay unswept. */
export const LEASE_RENEW_SQL = `
  UPDATE credit_leases SET expires_at = now() + $2::double precision * interval '1 millisecond'
  WHERE id = ANY ($1::uuid[])`;

/** $1 most leases: ends leases past their deadline; returns how many. */
export const LEASE_SWEEP_SQL = `SELECT billing_lease_sweep($1::integer) AS ended`;
