/** Bull queue of queued completions; job id = task id. */
export const TASKS_QUEUE = 'tasks';
/** Bull queue of webhook deliveries; job id = task id (one notification per finished task). */
export const WEBHOOKS_QUEUE = 'webhooks';

/** Completed / failed jobs kept in Redis (a kept job costs ~5 KB; the task row is the record). */
export const KEEP_COMPLETED_JOBS = 1000;
export const KEEP_FAILED_JOBS = 1000;

export const WEBHOOK_ATTEMPTS = 6;
export const WEBHOOK_TIMEOUT_MS = 10000;
