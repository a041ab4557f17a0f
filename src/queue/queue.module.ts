import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { BillingModule } from '../billing/billing.module';
import { CompletionsModule } from '../completions/completions.module';
import { AppConfig } from '../config/app-config';
import { QCompletionsController } from './qcompletions.controller';
import { KEEP_COMPLETED_JOBS, KEEP_FAILED_JOBS, TASKS_QUEUE, WEBHOOKS_QUEUE } from './queue.constants';
import { QueueLifecycle } from './queue-lifecycle';
import { QueueMetrics } from './queue-metrics';
import { QueueAdminController } from './queue.admin.controller';
import { QueueStatusService } from './queue-status.service';
import { RunningTasks } from './running-tasks';
import { TaskJobs } from './task-jobs';
import { TaskMaintenance } from './task-maintenance';
import { TaskProcessor } from './task-processor';
import { TasksService } from './tasks.service';
import { TasksStore } from './tasks.store';
import { WebhookService } from './webhook.service';

/** Bull settings from the environment: the lock also bounds how soon a dead worker's job reruns. */
const queueOptions = (config: AppConfig) => ({
  settings: {
    lockDuration: config.queueLockDurationMs,
    stalledInterval: config.queueStalledIntervalMs,
    // A job may be rerun after a worker dies a few times before Bull gives up (recovery then re-adds it).
    maxStalledCount: 3,
  },
  defaultJobOptions: {
    attempts: config.queueAttempts,
    backoff: { type: 'exponential', delay: config.queueBackoffMs },
    removeOnComplete: KEEP_COMPLETED_JOBS,
    removeOnFail: KEEP_FAILED_JOBS,
  },
});

/**
 * Queued completions (issue 7). Every role adds jobs and serves the task API; only a process
 * with runsWorker consumes them (QueueLifecycle attaches the handlers).
 */
@Module({
  imports: [
    AuthModule,
    BillingModule,
    CompletionsModule,
    BullModule.registerQueueAsync(
      { name: TASKS_QUEUE, inject: [AppConfig], useFactory: queueOptions },
      { name: WEBHOOKS_QUEUE, inject: [AppConfig], useFactory: queueOptions },
    ),
  ],
  controllers: [QCompletionsController, QueueAdminController],
  providers: [
    TasksStore,
    TaskJobs,
    RunningTasks,
    WebhookService,
    TaskProcessor,
    TaskMaintenance,
    TasksService,
    QueueLifecycle,
    QueueMetrics,
    QueueStatusService,
  ],
  exports: [TasksService, TaskMaintenance],
})
export class QueueModule {}
