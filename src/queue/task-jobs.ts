import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { WriteBatcher } from '../database/write-batcher';
import { TASKS_QUEUE } from './queue.constants';
import type { TaskJobData } from './task.types';

/** Most jobs in one MULTI. */
const MAX_ADD_BATCH = 256;

/**
 * The Bull side of tasks: one job per task, job id = task id, so adding again is a no-op.
 * Concurrent adds go out as one MULTI (Bull's addBulk, the queue's default job options included).
 */
@Injectable()
export class TaskJobs {
  private readonly logger = new Logger(TaskJobs.name);
  private readonly adds = new WriteBatcher<string, Error | null>((ids) => this.addBatch(ids), {
    maxBatch: MAX_ADD_BATCH,
    sortKey: (id) => id,
  });

  constructor(@InjectQueue(TASKS_QUEUE) private readonly queue: Queue<TaskJobData>) {}

  async enqueue(taskId: string): Promise<void> {
    const failed = await this.adds.submit(taskId);
    if (failed) throw failed;
  }

  /** addBulk resolves even when a script in the MULTI failed: such a job comes back without an id. */
  private async addBatch(ids: string[]): Promise<(Error | null)[]> {
    const jobs = await this.queue.addBulk(
      ids.map((taskId) => ({ data: { taskId }, opts: { jobId: taskId } })),
    );
    return ids.map((id, i) =>
      jobs[i]?.id === undefined || jobs[i]?.id === null
        ? new Error(`Redis did not add the job of task ${id}`)
        : null,
    );
  }

  /** Removes a job that hasn't started (cancel); a running or missing one is left alone. */
  async discard(taskId: string): Promise<void> {
    try {
      const job = await this.queue.getJob(taskId);
      if (job && !(await job.isActive())) await job.remove();
    } catch (error) {
      this.logger.warn(
        `job of task ${taskId} not removed (its run will find the task cancelled): ${String(error)}`,
      );
    }
  }

  /**
   * Makes sure each task has a live job (waiting, delayed or active). A task whose job is missing
   * (Redis lost it) or already finished in Bull (its run gave the task back) gets a new one.
   * Returns the ids that were enqueued again.
   */
  async ensureJobs(taskIds: string[]): Promise<string[]> {
    if (taskIds.length === 0) return [];
    const pipeline = this.queue.client.pipeline();
    for (const id of taskIds) {
      pipeline.exists(this.queue.toKey(id));
      pipeline.zscore(this.queue.toKey('completed'), id);
      pipeline.zscore(this.queue.toKey('failed'), id);
    }
    const replies = (await pipeline.exec()) ?? [];
    const requeued: string[] = [];
    for (const [i, id] of taskIds.entries()) {
      const [exists, completed, failed] = replies.slice(i * 3, i * 3 + 3).map((r) => r?.[1]);
      const live = exists === 1 && completed === null && failed === null;
      if (live) continue;
      if (exists === 1) await (await this.queue.getJob(id))?.remove();
      await this.enqueue(id);
      requeued.push(id);
    }
    return requeued;
  }
}
