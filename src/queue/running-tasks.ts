import { Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisService } from '../redis/redis.service';

/** Why a running task was stopped; the processor acts on it. */
export type TaskStopReason = 'cancelled' | 'lost' | 'shutdown';

export class TaskStopped extends Error {
  override readonly name = 'TaskStopped';
  constructor(readonly reason: TaskStopReason) {
    super(`task stopped: ${reason}`);
  }
}

/**
 * The AbortController of every task this process is running, and the Redis channel on which any
 * process (an API replica handling DELETE) asks the worker running a task to abort it. The
 * worker's lease renewal notices a cancel too, so a lost message only delays the abort.
 */
@Injectable()
export class RunningTasks {
  private readonly logger = new Logger(RunningTasks.name);
  private readonly running = new Map<string, AbortController>();
  private subscriber: Redis | undefined;

  constructor(private readonly redis: RedisService) {}

  private get channel(): string {
    return `${this.redis.prefix}:queue:cancel`;
  }

  /** Subscribes to cancel requests (workers only). */
  async listen(): Promise<void> {
    if (this.subscriber) return;
    const subscriber = this.redis.create('subscriber');
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, taskId: string) => this.stop(taskId, 'cancelled'));
    await subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (!subscriber) return;
    try {
      await subscriber.quit();
    } catch {
      subscriber.disconnect();
    }
  }

  /** Asks whichever worker runs the task to abort it. */
  async announceCancel(taskId: string): Promise<void> {
    try {
      await this.redis.client.publish(this.channel, taskId);
    } catch (error) {
      this.logger.warn(`cancel of task ${taskId} not published (lease check will notice): ${String(error)}`);
    }
  }

  start(taskId: string): AbortController {
    const controller = new AbortController();
    this.running.set(taskId, controller);
    return controller;
  }

  finish(taskId: string, controller: AbortController): void {
    if (this.running.get(taskId) === controller) this.running.delete(taskId);
  }

  stop(taskId: string, reason: TaskStopReason): void {
    const controller = this.running.get(taskId);
    if (controller && !controller.signal.aborted) controller.abort(new TaskStopped(reason));
  }

  stopAll(reason: TaskStopReason): void {
    for (const taskId of this.running.keys()) this.stop(taskId, reason);
  }
}
