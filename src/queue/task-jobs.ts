import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { TASKS_QUEUE } from './queue.constants';
import type { TaskJobData } from './task.types';

/** The Bull side of tasks: one job per task, job id = task id, so adding again is a no-op. */
@Injectable()
export class TaskJobs {
  private readonly logger = new Logger(TaskJobs.name);

  constructor(@InjectQueue(TASKS_QUEUE) private readonly queue: Queue<TaskJobData>) {}

  async enqueue(taskId: string): Promise<void> {
    await this.queue.add({ taskId }, { jobId: taskId });
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
