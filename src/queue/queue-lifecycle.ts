import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bull';
import { AppConfig } from '../config/app-config';
import { WEBHOOKS_QUEUE, TASKS_QUEUE } from './queue.constants';
import { RunningTasks } from './running-tasks';
import type { TaskJobData, WebhookJobData } from './task.types';
import { TaskMaintenance } from './task-maintenance';
import { TaskProcessor } from './task-processor';
import { WebhookService } from './webhook.service';

const WEBHOOK_CONCURRENCY = 8;

/**
 * Starts consuming only when this process runs the worker (APP_ROLE=worker|all): the handlers
 * are attached with `queue.process()` here instead of a static @Processor class, so an API-only
 * replica adds jobs but never takes one. Stops in order on shutdown.
 */
@Injectable()
export class QueueLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(QueueLifecycle.name);
  private consuming = false;

  constructor(
    @InjectQueue(TASKS_QUEUE) private readonly tasks: Queue<TaskJobData>,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly webhookJobs: Queue<WebhookJobData>,
    private readonly processor: TaskProcessor,
    private readonly webhooks: WebhookService,
    private readonly running: RunningTasks,
    private readonly maintenance: TaskMaintenance,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.runsWorker) {
      if (this.config.embeddedRedis) {
        this.logger.warn(
          'APP_ROLE=api with the in-process Redis: no worker can reach this queue; use APP_ROLE=all',
        );
      }
      return;
    }
    this.consuming = true;
    await this.running.listen();
    const failed = (what: string) => (error: unknown) =>
      this.logger.error(`${what} stopped: ${String(error)}`);
    this.tasks
      .process(this.config.queueConcurrency, (job) => this.processor.process(job))
      .catch(failed('tasks'));
    this.webhookJobs
      .process(WEBHOOK_CONCURRENCY, (job) => this.webhooks.deliver(job.data))
      .catch(failed('webhooks'));
    this.maintenance.start();
    this.logger.log(
      `queue worker ${this.processor.workerId} consuming (concurrency ${this.config.queueConcurrency})`,
    );
  }

  /**
   * Worker shutdown: stop taking jobs, let running tasks finish within the grace period, then
   * abort the rest. An aborted task is given back in PostgreSQL (status queued, reservation still
   * open) and its job fails back to Bull, which retries it on another worker after the backoff;
   * if Redis is already unreachable the job stays active and Bull's stall check reruns it. A
   * worker killed outright gives nothing back: the stall check reruns the job and the new run
   * claims the task once the dead worker's lease has expired.
   */
  async onModuleDestroy(): Promise<void> {
    await this.maintenance.stop();
    if (this.consuming) {
      if (this.processor.busy && this.config.shutdownGraceMs > 0) {
        await Promise.all([this.tasks.pause(true, true), this.webhookJobs.pause(true, true)]).catch(
          () => undefined,
        );
        await this.processor.idle(this.config.shutdownGraceMs);
      }
      await Promise.all([this.tasks.close(true), this.webhookJobs.close(true)]);
      await this.processor.stop();
      await this.running.close();
    } else {
      await Promise.all([this.tasks.close(), this.webhookJobs.close()]);
    }
    await this.webhooks.close();
  }
}
