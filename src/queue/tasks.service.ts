import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal';
import { HoldsService } from '../billing/holds.service';
import { ApiError } from '../common/api-error';
import { dependencyUnavailable } from '../common/api-exception.filter';
import { CompletionsService } from '../completions/completions.service';
import { AppConfig } from '../config/app-config';
import { QueueMetrics } from './queue-metrics';
import { parseQueuedCompletion } from './queued-request';
import { RunningTasks } from './running-tasks';
import type { Task } from './task.types';
import { TaskJobs } from './task-jobs';
import { TasksStore } from './tasks.store';
import { WebhookService } from './webhook.service';
import { assertWebhookTarget, WebhookTargetError } from './webhook-target';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_IDEMPOTENCY_KEY = 255;

/** Submit, read and cancel queued completions on behalf of their owner. */
@Injectable()
export class TasksService {
  private readonly logger = new Logger(TasksService.name);

  constructor(
    private readonly store: TasksStore,
    private readonly jobs: TaskJobs,
    private readonly completions: CompletionsService,
    private readonly holds: HoldsService,
    private readonly running: RunningTasks,
    private readonly webhooks: WebhookService,
    private readonly metrics: QueueMetrics,
    private readonly config: AppConfig,
  ) {}

  /**
   * Validates like the synchronous API, reserves the estimate now (402 now, not later), stores the
   * task and adds its job. A retried submit with the same Idempotency-Key returns the first task.
   */
  async submit(body: unknown, principal: Principal, idempotencyKey?: string): Promise<Task> {
    const queued = parseQueuedCompletion(body);
    const key = normaliseIdempotencyKey(idempotencyKey);
    if (key) {
      const earlier = await this.store.findByIdempotencyKey(principal.userId, key);
      if (earlier) return sameRequest(earlier, queued.hash());
    }
    if (queued.webhookUrl) await this.checkWebhook(queued.webhookUrl);
    const { credits } = await this.completions.prepare(queued.request, principal);
    const id = randomUUID();
    await this.holds.reserve({
      userId: principal.userId,
      keyId: principal.keyId,
      requestId: id,
      model: queued.request.model,
      credits,
      // A task may wait in the queue longer than any timeout: never swept; this module closes it.
      holdMs: null,
    });
    let stored: { task: Task; inserted: boolean };
    try {
      stored = await this.store.insert({
        id,
        userId: principal.userId,
        keyId: principal.keyId || null,
        request: queued.request,
        creditsReserved: credits,
        webhookUrl: queued.webhookUrl,
        idempotencyKey: key,
        requestHash: key ? queued.hash() : null,
      });
    } catch (error) {
      await this.holds.refund(id);
      throw error;
    }
    if (!stored.inserted) {
      // Lost the race to a concurrent submit with the same key (or a plain retry): one task, one hold.
      await this.holds.refund(id);
      return sameRequest(stored.task, queued.hash());
    }
    try {
      await withTimeout(this.jobs.enqueue(id), ENQUEUE_TIMEOUT_MS);
    } catch (error) {
      // Redis cannot take the job: the submit is refused (503) and undone — the task cancelled
      // (its idempotency key freed for the retry), its hold refunded (or by recovery, later).
      this.logger.warn(`task ${id} could not be queued, submit refused: ${String(error)}`);
      if (await this.store.abandon(id, 'could not be queued (Redis unreachable)')) {
        await this.holds.refund(id);
        await this.store.closeReservation(id);
      }
      throw dependencyUnavailable('redis');
    }
    this.metrics.count('submitted');
    return stored.task;
  }

  /** The caller's task; another user's task is "Task not found", like a missing one. */
  async get(taskId: string, principal: Principal): Promise<Task> {
    const task = UUID.test(taskId) ? await this.store.findForUser(taskId, principal.userId) : null;
    if (!task) throw new ApiError('task_not_found');
    return task;
  }

  /**
   * Cancels a queued task (refunded at once) or a processing one (its worker aborts the upstream
   * call and refunds what's held). A finished task is returned unchanged.
   */
  async cancel(taskId: string, principal: Principal): Promise<Task> {
    const owned = await this.get(taskId, principal);
    const cancelled = await this.store.cancel(owned.id, principal.userId);
    if (!cancelled) return (await this.store.findForUser(owned.id, principal.userId)) ?? owned;
    if (cancelled.previous === 'queued') {
      await this.holds.refund(owned.id);
      await this.store.closeReservation(owned.id);
      await this.jobs.discard(owned.id);
    } else {
      await this.running.announceCancel(owned.id);
    }
    this.metrics.count('cancelled');
    await this.webhooks.notify(cancelled.task);
    return (await this.store.find(owned.id)) ?? cancelled.task;
  }

  private async checkWebhook(url: string): Promise<void> {
    try {
      await assertWebhookTarget(url, this.config.webhookAllowPrivate);
    } catch (error) {
      if (error instanceof WebhookTargetError)
        throw new ApiError('invalid_request', error.message, 'webhook_url');
      throw error;
    }
  }
}

/** Longest wait for Redis to take a new job (Bull waits for a reconnect otherwise). */
const ENQUEUE_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis in ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function normaliseIdempotencyKey(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  if (raw.length > MAX_IDEMPOTENCY_KEY) {
    throw new ApiError(
      'invalid_request',
      `Idempotency-Key is longer than ${MAX_IDEMPOTENCY_KEY}`,
      'Idempotency-Key',
    );
  }
  return raw;
}

/** A retried submit must carry the same request as the first one. */
function sameRequest(task: Task, hash: string): Task {
  if (task.requestHash !== hash) throw new ApiError('idempotency_mismatch');
  return task;
}
