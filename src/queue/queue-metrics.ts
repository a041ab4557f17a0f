import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bull';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { TASKS_QUEUE, WEBHOOKS_QUEUE } from './queue.constants';

export type TaskEvent = 'submitted' | 'completed' | 'failed' | 'cancelled' | 'retried' | 'released';
/** The batched statements on `tasks` (TasksStore). */
export type TaskStatement = 'insert' | 'claim' | 'complete';

/** Queue depth (what workers scale on) and task outcomes, on /metrics. */
@Injectable()
export class QueueMetrics {
  private readonly events: Counter<'event'>;
  private readonly rows: Histogram<'statement'>;

  constructor(
    metrics: MetricsService,
    @InjectQueue(TASKS_QUEUE) tasks: Queue,
    @InjectQueue(WEBHOOKS_QUEUE) webhooks: Queue,
  ) {
    this.events = new Counter({
      name: 'le_queue_task_events_total',
      help: 'Queued completion events: submitted, completed, failed, cancelled, retried, released',
      labelNames: ['event'] as const,
      registers: [metrics.registry],
    });
    this.rows = new Histogram({
      name: 'le_queue_statement_rows',
      help: "Tasks per batched statement (insert: submits; claim, complete: a worker's tasks): how well batching works",
      labelNames: ['statement'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [metrics.registry],
    });
    new Gauge({
      name: 'le_queue_jobs',
      help: 'Bull jobs by queue and state, read from Redis at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [metrics.registry],
      async collect() {
        for (const queue of [tasks, webhooks]) {
          // Redis down: keep the last values rather than failing the whole scrape.
          const counts = await queue.getJobCounts().catch(() => undefined);
          for (const [state, n] of Object.entries(counts ?? {})) this.set({ queue: queue.name, state }, n);
        }
      },
    });
  }

  count(event: TaskEvent): void {
    this.events.inc({ event });
  }

  /** One batched statement on `tasks` went out with `rows` tasks. */
  batch(statement: TaskStatement, rows: number): void {
    this.rows.observe({ statement }, rows);
  }
}
