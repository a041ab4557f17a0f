import { Injectable, Logger } from '@nestjs/common';
import { HoldsService } from '../billing/holds.service';
import { orphanedHolds } from '../billing/sweep-rules';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { TaskJobs } from './task-jobs';
import { TasksStore } from './tasks.store';

/** Tasks younger than this are left to their submit, which adds their job itself. */
const SUBMIT_GRACE_MS = 1000;
/** A submit reserves, then inserts its task within milliseconds; a minute is far beyond that. */
const ORPHAN_HOLD_AGE_MS = 60_000;
const BATCH = 1000;

export interface MaintenanceReport {
  requeued: number;
  refunded: number;
  deleted: number;
}

/**
 * Periodic repair on workers, at start and every QUEUE_MAINTENANCE_INTERVAL_MS:
 * - tasks queued (or held by a dead worker) with no live Bull job get one again (Redis lost it);
 * - failed / cancelled tasks whose refund was interrupted by a crash are refunded;
 * - finished tasks older than TASK_RETENTION_HOURS are deleted.
 * One worker at a time does it (a Redis lock), though every step is safe to repeat.
 */
@Injectable()
export class TaskMaintenance {
  private readonly logger = new Logger(TaskMaintenance.name);
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;

  constructor(
    private readonly store: TasksStore,
    private readonly jobs: TaskJobs,
    private readonly holds: HoldsService,
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.config.queueMaintenanceIntervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private tick(): void {
    if (this.current) return;
    this.current = this.runIfLeader()
      .catch((error: unknown) => this.logger.warn(`task maintenance failed: ${String(error)}`))
      .finally(() => (this.current = undefined));
  }

  private async runIfLeader(): Promise<void> {
    const lock = `${this.redis.prefix}:queue:maintenance`;
    const ttl = Math.max(100, this.config.queueMaintenanceIntervalMs - 50);
    if ((await this.redis.client.set(lock, '1', 'PX', ttl, 'NX')) !== 'OK') return;
    const report = await this.runOnce();
    if (report.requeued || report.refunded || report.deleted) {
      this.logger.log(
        `tasks: ${report.requeued} re-enqueued, ${report.refunded} refunded, ${report.deleted} deleted`,
      );
    }
  }

  /** One pass of every repair; public for tests and the CLI. */
  async runOnce(): Promise<MaintenanceReport> {
    return {
      requeued: await this.requeue(),
      refunded: await this.refundOrphans(),
      deleted: await this.sweep(),
    };
  }

  async requeue(): Promise<number> {
    const ids = await this.store.idsNeedingJob(SUBMIT_GRACE_MS, BATCH);
    return (await this.jobs.ensureJobs(ids)).length;
  }

  async refundOrphans(): Promise<number> {
    const ids = await this.store.idsOwingRefund(BATCH);
    for (const id of ids) {
      await this.holds.refund(id);
      await this.store.closeReservation(id);
    }
    return ids.length + (await this.refundHoldsWithoutTask());
  }

  /**
   * A submit that died between its reservation and its task insert left a hold no timeout
   * sweeps; once it is older than any submit can take, refund it.
   */
  async refundHoldsWithoutTask(): Promise<number> {
    const holds = await this.holds.holdsWithoutDeadline(ORPHAN_HOLD_AGE_MS, BATCH);
    const tasks = await this.store.existing(holds);
    const orphans = orphanedHolds(holds, tasks);
    for (const id of orphans) await this.holds.refund(id);
    return orphans.length;
  }

  async sweep(): Promise<number> {
    return this.store.deleteFinishedBefore(this.config.taskRetentionHours, BATCH);
  }
}
