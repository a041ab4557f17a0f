/**
 * Signatures of the batched billing functions (migrations 1710000006000, …9000, …10000), shared
 * by the migrations that define functions of the same shape.
 */
export const RESERVE_PARAMS = `
  p_request_ids text[], p_user_ids uuid[], p_key_ids text[], p_models text[], p_credits bigint[],
  p_input_rates numeric[], p_output_rates numeric[], p_hold_ms double precision[]`;
export const RESERVE_ARGS =
  'p_request_ids, p_user_ids, p_key_ids, p_models, p_credits, p_input_rates, p_output_rates, p_hold_ms';
export const RESERVE_RETURNS = 'TABLE (idx integer, ok boolean, reason text, balance bigint)';

export const SETTLE_PARAMS = `
  p_request_ids text[], p_input_tokens integer[], p_output_tokens integer[], p_with_usage boolean[],
  p_user_ids uuid[], p_key_ids uuid[], p_models text[], p_host_ids text[], p_host_names text[],
  p_surfaces text[], p_operations text[], p_duration_ms integer[], p_ttft_ms integer[],
  p_statuses text[], p_errors text[]`;
export const SETTLE_ARGS =
  'p_request_ids, p_input_tokens, p_output_tokens, p_with_usage, p_user_ids, p_key_ids, p_models, ' +
  'p_host_ids, p_host_names, p_surfaces, p_operations, p_duration_ms, p_ttft_ms, p_statuses, p_errors';
export const SETTLE_RETURNS = 'TABLE (idx integer, amount bigint, charged bigint)';

/**
 * `<fn>_async`: calls `fn` in a transaction whose commit does not wait for the WAL flush
 * (`synchronous_commit = off` for that transaction only).
 */
export function asyncTwinSql(fn: string, kind: 'reserve' | 'settle'): string {
  const [params, args, returns] =
    kind === 'reserve'
      ? [RESERVE_PARAMS, RESERVE_ARGS, RESERVE_RETURNS]
      : [SETTLE_PARAMS, SETTLE_ARGS, SETTLE_RETURNS];
  return `
    CREATE FUNCTION ${fn}_async(${params}) RETURNS ${returns}
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      RETURN QUERY SELECT * FROM ${fn}(${args});
    END
    $$`;
}
