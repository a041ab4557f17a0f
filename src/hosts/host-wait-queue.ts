import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import type { AbortLike } from '../common/abort';

interface Waiter {
  wake: () => void;
}

export type WaitOutcome = 'admitted' | 'timeout' | 'full' | 'aborted';

/**
 * Admission when every host of a model is full: up to HOST_WAIT_QUEUE requests per model wait,
 * each at most HOST_WAIT_MS, for a slot. A waiter tries again when this process releases a slot
 * (the oldest waiter of each model first) and every `pollMs` (slots freed by other replicas).
 * Visible on /metrics: le_host_wait_queue (waiting now, by model), le_host_wait_total (outcomes),
 * le_host_wait_seconds (how long admitted requests waited).
 */
@Injectable()
export class HostWaitQueue {
  private readonly queues = new Map<string, Waiter[]>();
  private readonly outcomes: Counter<'model' | 'outcome'>;
  private readonly waited: Histogram<'model'>;
  private waiting = 0;

  constructor(
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    const queues = this.queues;
    new Gauge({
      name: 'le_host_wait_queue',
      help: 'Requests waiting for a free GPU host slot (every host of the model full), by model',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const [model, list] of queues) this.set({ model }, list.length);
      },
    });
    this.outcomes = new Counter({
      name: 'le_host_wait_total',
      help: 'Requests that found every host full, by model and outcome (admitted, timeout, full, aborted)',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.waited = new Histogram({
      name: 'le_host_wait_seconds',
      help: 'How long requests admitted after a wait for a host slot waited, by model',
      labelNames: ['model'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
  }

  get enabled(): boolean {
    return this.config.hostWaitQueue > 0 && this.config.hostWaitMs > 0;
  }

  /**
   * Waits for a slot of `model`: `attempt` is called on every wake until it returns a value,
   * the wait reaches HOST_WAIT_MS, or `signal` aborts; undefined then (and when the queue is full).
   */
  async wait<T>(
    model: string,
    pollMs: number,
    signal: AbortLike,
    attempt: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const list = this.queues.get(model) ?? [];
    if (list.length >= this.config.hostWaitQueue) {
      this.outcomes.inc({ model, outcome: 'full' });
      return undefined;
    }
    this.queues.set(model, list);
    const started = performance.now();
    const deadline = started + this.config.hostWaitMs;
    let wake: () => void = () => undefined;
    const waiter: Waiter = { wake: () => wake() };
    list.push(waiter);
    this.waiting++;
    const onAbort = () => wake();
    signal.addEventListener('abort', onAbort, { once: true });
    let outcome: WaitOutcome = 'timeout';
    try {
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pollMs, left));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (signal.aborted) {
          outcome = 'aborted';
          return undefined;
        }
        const got = await attempt();
        if (got !== undefined) {
          outcome = 'admitted';
          this.waited.observe({ model }, (performance.now() - started) / 1000);
          return got;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      const at = list.indexOf(waiter);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.queues.delete(model);
      this.waiting--;
      this.outcomes.inc({ model, outcome });
    }
  }

  /** A slot was released here: the oldest waiter of each model tries again. */
  wakeOldest(): void {
    if (this.waiting === 0) return;
    for (const list of this.queues.values()) list[0]?.wake();
  }
}
