import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { Agent, request } from 'undici';
import { AppConfig } from '../config/app-config';
import {
  KEEP_COMPLETED_JOBS,
  KEEP_FAILED_JOBS,
  WEBHOOK_ATTEMPTS,
  WEBHOOK_TIMEOUT_MS,
  WEBHOOKS_QUEUE,
} from './queue.constants';
import type { Task, WebhookJobData } from './task.types';
import { toStatusBody } from './task-view';
import { assertWebhookTarget, publicOnlyLookup } from './webhook-target';
import { SIGNATURE_HEADER, signWebhookBody } from './webhook-signature';

/**
 * Tells a task's webhook_url how it ended: a Bull job per finished task (retried with backoff,
 * survives restarts), POSTing the status body signed with WEBHOOK_SECRET.
 */
@Injectable()
export class WebhookService {
  private readonly logger = new Logger(WebhookService.name);
  private readonly agent: Agent;

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJobData>,
    private readonly config: AppConfig,
  ) {
    // The socket re-checks the address it connects to, so DNS can't be switched after the check.
    this.agent = new Agent({
      connect: config.webhookAllowPrivate ? {} : { lookup: publicOnlyLookup },
      headersTimeout: WEBHOOK_TIMEOUT_MS,
      bodyTimeout: WEBHOOK_TIMEOUT_MS,
    });
  }

  /** Queues the notification of a finished task; a task without webhook_url needs none. */
  async notify(task: Task): Promise<void> {
    if (!task.webhookUrl) return;
    const data: WebhookJobData = {
      taskId: task.id,
      url: task.webhookUrl,
      body: JSON.stringify(toStatusBody(task)),
    };
    try {
      await this.queue.add(data, {
        jobId: task.id,
        attempts: WEBHOOK_ATTEMPTS,
        backoff: { type: 'exponential', delay: Math.max(this.config.queueBackoffMs, 100) },
        removeOnComplete: KEEP_COMPLETED_JOBS,
        removeOnFail: KEEP_FAILED_JOBS,
      });
    } catch (error) {
      this.logger.warn(`webhook of task ${task.id} not queued: ${String(error)}`);
    }
  }

  /** One delivery attempt; throws (so Bull retries) unless the receiver answers 2xx. */
  async deliver(data: WebhookJobData): Promise<void> {
    const url = await assertWebhookTarget(data.url, this.config.webhookAllowPrivate);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'LlmEndpoint-Webhook/1',
      'x-llmendpoint-task-id': data.taskId,
    };
    if (this.config.webhookSecret)
      headers[SIGNATURE_HEADER] = signWebhookBody(data.body, this.config.webhookSecret);
    const response = await request(url, {
      method: 'POST',
      headers,
      body: data.body,
      dispatcher: this.agent,
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`webhook of task ${data.taskId} answered ${response.statusCode}`);
    }
  }

  /** Closes the delivery connections (QueueLifecycle, after the queues). */
  async close(): Promise<void> {
    await this.agent.close();
  }
}
