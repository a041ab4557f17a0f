/**
 * When an open hold may be closed by someone other than the request that made it: the sweep's
 * rules (reservation-sweeper.ts runs them; the queue's maintenance runs orphanedHolds).
 */

/** Most holds or leases one sweep statement handles; a full batch means another round. */
export const SWEEP_BATCH = 500;

/**
 * A reservation's deadline, after which the sweep refunds it as a crashed process's: the
 * caller's choice, RESERVATION_TIMEOUT_MS by default; null (never swept) for holds whose owner
 * recovers them itself (queued tasks, which may wait longer than any timeout).
 */
export function holdDeadlineMs(holdMs: number | null | undefined, defaultMs: number): number | null {
  if (holdMs === undefined) return defaultMs;
  if (holdMs !== null && !(Number.isFinite(holdMs) && holdMs >= 0))
    throw new RangeError(`a hold time must be a non-negative number of ms or null, got ${holdMs}`);
  return holdMs;
}

/**
 * Holds without a deadline that no task owns any more (a submit that died between its
 * reservation and its task insert): the ones to refund, in the order given.
 */
export function orphanedHolds(holds: readonly string[], tasks: ReadonlySet<string>): string[] {
  return holds.filter((id) => !tasks.has(id));
}

/** Whether a sweep that just handled `handled` items must run another round. */
export function sweepAgain(handled: number): boolean {
  return handled >= SWEEP_BATCH;
}
