import { Injectable, Logger } from '@nestjs/common';
import type { Job } from 'bull';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthService } from '../auth/auth.service';
import type { Principal } from '../auth/principal';
import { HoldsService } from '../billing/holds.service';
import { API_ERRORS, ApiError } from '../common/api-error';
import { CompletionsService, type RunResult } from '../completions/completions.service';
import { AppConfig } from '../config/app-config';
import { QueueMetrics } from './queue-metrics';
import { RunningTasks, TaskStopped } from './running-tasks';
import type { Task, TaskJobData } from './task.types';
import { type ClaimedTask, TasksStore } from './tasks.store';
import { WebhookService } from './webhook.service';
import type { AbortLike } from '../common/abort';

/** Marks a run given back to the queue, so Bull retries it later (backoff) or reruns it (stall). */
export class TaskReleased extends Error {
  override readonly name = 'TaskReleased';
}

/**
 * Runs one queued task on a worker: claim the row (conditional update + lease), run the same
 * CompletionsService core as the synchronous API, write the outcome, refund on final failure.
 */
@Injectable()
export class TaskProcessor {
  private readonly logger = new Logger(TaskProcessor.name);
  /** This process's name in the task rows (two apps in one test process must differ). */
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly inFlight = new Set<Promise<void>>();
  /** Aborted at shutdown: ends waits for other workers' leases at once. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: TasksStore,
    private readonly completions: CompletionsService,
    private readonly holds: HoldsService,
    private readonly running: RunningTasks,
    private readonly webhooks: WebhookService,
    private readonly metrics: QueueMetrics,
    private readonly config: AppConfig,
    private readonly auth: AuthService,
  ) {}

  /** The Bull handler. Resolves when the job is done with; rejects to have Bull retry it. */
  process(job: Job<TaskJobData>): Promise<void> {
    const run = this.run(job);
    const tracked = run.catch(() => undefined);
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return run;
  }

  /** Shutdown: stop waiting for other workers' tasks, then abort what runs here. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.running.stopAll('shutdown');
    await Promise.all([...this.inFlight]);
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /** Resolves once nothing runs here, or after `ms`. */
  async idle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.all([...this.inFlight]), sleep(Math.min(100, deadline - Date.now()))]);
    }
  }

  private get leaseMs(): number {
    return this.config.queueLockDurationMs;
  }

  private async run(job: Job<TaskJobData>): Promise<void> {
    const claimed = await this.claim(job.data.taskId);
    if (!claimed) return;
    const { task, hold } = claimed;
    // Read with the claim: the settle need not read the reservation again.
    if (hold) this.holds.adoptHold(task.id, hold);
    const controller = this.running.start(task.id);
    const heartbeat = setInterval(() => void this.renew(task, controller), Math.max(50, this.leaseMs / 3));
    let result: RunResult;
    try {
      const principal = await this.principalOf(task);
      const run = await this.completions.complete(task.request, principal, controller.signal, {
        requestId: task.id,
        reserved: true,
        refundOnFailure: false,
        source: 'queue',
      });
      // The task is marked completed only once its reservation is settled.
      result = { ...run, credits: await run.settled };
    } catch (error) {
      return await this.onFailure(job, task, controller.signal, error);
    } finally {
      clearInterval(heartbeat);
      this.running.finish(task.id, controller);
    }
    // The core settled the reservation: from here on the task must not run again.
    const done = await this.store.complete(task, {
      result: result.text,
      usage: { input_tokens: result.usage.inputTokens, output_tokens: result.usage.outputTokens },
      credits: result.credits,
      hostId: result.host?.id ?? null,
      hostName: result.host?.name ?? null,
    });
    if (!done) this.logger.warn(`task ${task.id} finished after another worker took it over`);
    else if (done.status === 'completed') {
      this.metrics.count('completed');
      await this.webhooks.notify(done);
    }
  }

  /**
   * Claims the task. When another worker holds a live lease (Bull reran a job whose worker only
   * looked stalled), waits until that worker finishes or its lease runs out.
   */
  private async claim(taskId: string): Promise<ClaimedTask | null> {
    for (;;) {
      const claimed = await this.store.claim(taskId, this.workerId, this.leaseMs);
      if (claimed) return claimed;
      const current = await this.store.find(taskId);
      if (!current || (current.status !== 'processing' && current.status !== 'queued')) return null;
      if (this.stopping.signal.aborted) {
        throw new TaskReleased(`worker stopping before task ${taskId} was claimed`);
      }
      if (current.status === 'processing') {
        await sleep(Math.max(50, this.leaseMs / 3), undefined, { signal: this.stopping.signal }).catch(
          () => undefined,
        );
      }
    }
  }

  private async renew(task: Task, controller: AbortController): Promise<void> {
    try {
      const held = await this.store.renewLease(task.id, task.attempts, this.leaseMs);
      if (!held && !controller.signal.aborted) controller.abort(new TaskStopped('lost'));
    } catch (error) {
      this.logger.warn(`lease of task ${task.id} not renewed: ${String(error)}`);
    }
  }

  private async onFailure(
    job: Job<TaskJobData>,
    task: Task,
    signal: AbortLike,
    error: unknown,
  ): Promise<void> {
    const stop = signal.aborted && signal.reason instanceof TaskStopped ? signal.reason.reason : undefined;
    if (stop === 'shutdown') {
      // Give the task back with its reservation open; Bull retries the job elsewhere (see QueueLifecycle).
      await this.store.release(task.id, task.attempts);
      this.metrics.count('released');
      throw new TaskReleased(`worker stopped during task ${task.id}`);
    }
    if (stop) {
      // Cancelled (or taken over): the one who cancelled marked the row; refund what's still held.
      const current = await this.store.find(task.id);
      if (current?.status === 'cancelled') await this.refund(task.id);
      return;
    }
    if (!(error instanceof ApiError)) this.logger.error(`task ${task.id} failed: ${String(error)}`);
    const attemptsLeft = (job.opts.attempts ?? 1) - job.attemptsMade - 1;
    if (isRetryable(error) && attemptsLeft > 0) {
      await this.store.release(task.id, task.attempts);
      this.metrics.count('retried');
      throw new TaskReleased(`task ${task.id} will be retried: ${describe(error)}`);
    }
    const failed = await this.store.fail(task.id, task.attempts, describe(error));
    if (!failed) return;
    this.metrics.count('failed');
    await this.refund(task.id);
    await this.webhooks.notify(failed);
  }

  /**
   * The task's owner as the core expects it: the model was checked against the key at submit (and
   * the request counted against its rpm then); the tokens it uses count against the key's
   * tokens-per-minute limit as it is now (at most AUTH_CACHE_TTL_MS old), as a synchronous request's do.
   */
  private async principalOf(task: Task): Promise<Principal> {
    const key = task.keyId ? await this.auth.getKeyCached(task.keyId).catch(() => undefined) : undefined;
    return {
      userId: task.userId,
      keyId: task.keyId ?? '',
      role: 'user',
      allowedModels: [task.model],
      rpm: null,
      tpm: key?.tpm ?? null,
    };
  }

  private async refund(taskId: string): Promise<void> {
    await this.holds.refund(taskId);
    await this.store.closeReservation(taskId);
  }
}

/** Host trouble is worth another try; a request the core refuses (4xx) is not. */
function isRetryable(error: unknown): boolean {
  return !(error instanceof ApiError) || error.status >= 500;
}

/** The text a failed task shows: seed 000's wording for known errors. */
function describe(error: unknown): string {
  if (error instanceof ApiError) return API_ERRORS[error.code].native;
  return API_ERRORS.internal_error.native;
}
