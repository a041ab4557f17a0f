import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { TASKS_QUEUE, WEBHOOKS_QUEUE } from './queue.constants';

export interface QueueDepth {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: number;
}

export interface FailedTask {
  id: string;
  userId: string;
  model: string;
  error: string | null;
  attempts: number;
  createdAt: Date;
  finishedAt: Date | null;
}

/** What an operator looks at: Bull's job counts per queue and the latest failed tasks. */
@Injectable()
export class QueueStatusService {
  constructor(
    @InjectQueue(TASKS_QUEUE) private readonly tasks: Queue,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly webhooks: Queue,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async status(failedLimit: number): Promise<{ queues: QueueDepth[]; failed: FailedTask[] }> {
    const [queues, rows] = await Promise.all([
      Promise.all([this.tasks, this.webhooks].map((q) => this.depth(q))),
      this.db.query(
        `SELECT id, user_id, model, error, attempts, created_at, finished_at FROM tasks
          WHERE status = 'failed' ORDER BY finished_at DESC NULLS LAST LIMIT $1`,
        [failedLimit],
      ) as Promise<
        {
          id: string;
          user_id: string;
          model: string;
          error: string | null;
          attempts: number;
          created_at: Date;
          finished_at: Date | null;
        }[]
      >,
    ]);
    return {
      queues,
      failed: rows.map((r) => ({
        id: r.id,
        userId: r.user_id,
        model: r.model,
        error: r.error,
        attempts: r.attempts,
        createdAt: new Date(r.created_at),
        finishedAt: r.finished_at ? new Date(r.finished_at) : null,
      })),
    };
  }

  private async depth(queue: Queue): Promise<QueueDepth> {
    const counts = (await queue.getJobCounts()) as unknown as Partial<Record<string, number>>;
    return {
      name: queue.name,
      waiting: counts.waiting ?? 0,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
      paused: counts.paused ?? 0,
    };
  }
}
