import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { MetricsService } from './metrics.service';

type CounterChild = ReturnType<Counter<'model'>['labels']>;
type HistogramChild = ReturnType<Histogram<'model'>['labels']>;
type HostHistogramChild = ReturnType<Histogram<'host'>['labels']>;

/** The series of one model, bound once: a settle costs one Map lookup and no label objects. */
interface ModelSeries {
  inputTokens: CounterChild;
  outputTokens: CounterChild;
  credits: CounterChild;
  completions: CounterChild;
  ttft: HistogramChild;
}

/**
 * Completion traffic on /metrics: tokens and credits by model (at the settle point), time to
 * first token by model, and upstream latency by host (dispatcher, time to the host's first chunk).
 */
@Injectable()
export class TrafficMetrics {
  private readonly inputTokens: Counter<'model'>;
  private readonly outputTokens: Counter<'model'>;
  private readonly credits: Counter<'model'>;
  private readonly completions: Counter<'model'>;
  private readonly ttft: Histogram<'model'>;
  private readonly upstream: Histogram<'host'>;
  private readonly models = new Map<string, ModelSeries>();
  private readonly hosts = new Map<string, HostHistogramChild>();

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.inputTokens = new Counter({
      name: 'le_tokens_input_total',
      help: 'Input (prompt) tokens charged, by model',
      labelNames: ['model'],
      registers,
    });
    this.outputTokens = new Counter({
      name: 'le_tokens_output_total',
      help: 'Output (completion) tokens charged, by model',
      labelNames: ['model'],
      registers,
    });
    this.credits = new Counter({
      name: 'le_credits_charged_total',
      help: 'Credits charged by settles, by model',
      labelNames: ['model'],
      registers,
    });
    this.completions = new Counter({
      name: 'le_completions_settled_total',
      help: 'Completions and embeddings settled (charged or refunded), by model',
      labelNames: ['model'],
      registers,
    });
    this.ttft = new Histogram({
      name: 'le_time_to_first_token_seconds',
      help: 'From the request reaching the platform to its first output token, by model',
      labelNames: ['model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120],
      registers,
    });
    this.upstream = new Histogram({
      name: 'le_upstream_latency_seconds',
      help: "From sending a request to a GPU host to the host's first chunk (embeddings: whole answer), by host",
      labelNames: ['host'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120],
      registers,
    });
  }

  /** One settled request (called once per request, after its settle). */
  settled(
    model: string,
    inputTokens: number,
    outputTokens: number,
    credits: bigint,
    ttftMs: number | null,
  ): void {
    const series = this.models.get(model) ?? this.bind(model);
    series.completions.inc();
    if (inputTokens > 0) series.inputTokens.inc(inputTokens);
    if (outputTokens > 0) series.outputTokens.inc(outputTokens);
    if (credits > 0n) series.credits.inc(Number(credits));
    if (ttftMs !== null) series.ttft.observe(ttftMs / 1000);
  }

  /** A GPU host answered its first chunk `ms` after the request was sent to it. */
  upstreamLatency(host: string, ms: number): void {
    let child = this.hosts.get(host);
    if (!child) {
      child = this.upstream.labels(host);
      this.hosts.set(host, child);
    }
    child.observe(ms / 1000);
  }

  private bind(model: string): ModelSeries {
    const series = {
      inputTokens: this.inputTokens.labels(model),
      outputTokens: this.outputTokens.labels(model),
      credits: this.credits.labels(model),
      completions: this.completions.labels(model),
      ttft: this.ttft.labels(model),
    };
    this.models.set(model, series);
    return series;
  }
}
