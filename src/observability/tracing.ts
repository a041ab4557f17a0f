import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import { pendingCompletionLogOf } from '../logging/request-log';
import type { AbortLike } from '../common/abort';

/**
 * OpenTelemetry traces of completions, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
 *
 * One span per completion request (`chat llama3.1`, GenAI semantic conventions: model, tokens
 * in/out, the GPU host as server.address, credits as llmendpoint.credits) with child spans
 * `reserve`, `host call` (time to first token as its `gen_ai.first_token` event) and `settle`.
 * The trace id goes into the request's log line. Every surface reaches CompletionsService, so the
 * fast path (common/fast-path.ts) and queued tasks are traced like the express routes.
 *
 * Off, `traceCompletion` returns one shared no-op object whose methods do nothing and hand back
 * what they were given: no span, no closure, no allocation per request, and the SDK is never
 * loaded (it is imported when tracing starts).
 */
export interface CompletionTrace {
  /** The trace id (hex) once the request span started; undefined when off. */
  readonly traceId: string | undefined;
  /** The credit reservation: a `reserve` span until `holding` settles. Returns `holding`. */
  reserve<T>(holding: Promise<T>): Promise<T>;
  /** The request to the GPU host: a `host call` span, named after the host once `dispatching` resolves. Returns it. */
  hostCall<T extends { host: { id: string; name: string } }>(dispatching: Promise<T>): Promise<T>;
  /** The first output token arrived (an event on the host call span). */
  firstToken(): void;
  /** The host's stream ended (failed when `error` is set). */
  hostCallEnded(error?: unknown): void;
  settleStarted(): void;
  /** The settle ran: usage, credits and status on the request span, which ends here. */
  settled(
    host: { id: string; name: string } | null,
    usage: { inputTokens: number; outputTokens: number },
    credits: bigint,
    status: string,
    error?: unknown,
  ): void;
}

export interface TracedRequest {
  model: string;
  kind?: 'chat' | 'completion';
  maxTokens?: number;
  stream?: boolean;
}

const NOOP: CompletionTrace = Object.freeze({
  traceId: undefined,
  reserve: <T>(holding: Promise<T>) => holding,
  hostCall: <T>(dispatching: Promise<T>) => dispatching,
  firstToken: () => undefined,
  hostCallEnded: () => undefined,
  settleStarted: () => undefined,
  settled: () => undefined,
});

export interface TracingOptions {
  /** OTLP/HTTP base endpoint (`/v1/traces` is appended), e.g. http://otel-collector:4318. */
  endpoint: string;
  serviceName: string;
  /** Share of requests traced (0–1). */
  sampleRatio?: number;
  /** Resolves a host id to its base URL, for server.address / server.port. */
  hostUrl?: (id: string) => string | undefined;
}

interface Otel {
  tracer: Tracer;
  api: typeof import('@opentelemetry/api');
  hostUrl: (id: string) => string | undefined;
  shutdown(): Promise<void>;
}

let otel: Otel | undefined;

/** The trace of one completion request: the shared no-op while tracing is off. */
export function traceCompletion(
  request: TracedRequest,
  source: string,
  signal: AbortLike,
  operation?: 'embeddings',
): CompletionTrace {
  return otel === undefined ? NOOP : new ActiveCompletionTrace(otel, request, source, signal, operation);
}

export function tracingEnabled(): boolean {
  return otel !== undefined;
}

/** Loads the SDK and starts exporting (a batch span processor over OTLP/HTTP JSON). */
export async function startTracing(options: TracingOptions): Promise<void> {
  if (otel) return;
  const api = await import('@opentelemetry/api');
  const sdk = await import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const { ATTR_SERVICE_NAME } = await import('@opentelemetry/semantic-conventions');
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(options.sampleRatio ?? 1) }),
    spanProcessors: [new sdk.BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  otel = {
    tracer: provider.getTracer('llmendpoint'),
    api,
    hostUrl: options.hostUrl ?? (() => undefined),
    shutdown: () => provider.shutdown(),
  };
}

/** Exports what is buffered and stops tracing (app shutdown). */
export async function stopTracing(): Promise<void> {
  const current = otel;
  otel = undefined;
  await current?.shutdown();
}

/**
 * The request span starts (back-dated to the request) at the first hook, the reservation: a
 * request refused before it (unknown model, rate limit) leaves no trace and no trace id.
 */
class ActiveCompletionTrace implements CompletionTrace {
  private rootSpan: Span | undefined;
  private context: Context | undefined;
  private readonly startTime = Date.now();
  private host: Span | undefined;
  private settling: Span | undefined;
  private done = false;

  constructor(
    private readonly otel: Otel,
    private readonly request: TracedRequest,
    private readonly source: string,
    private readonly signal: AbortLike,
    private readonly operation?: 'embeddings',
  ) {}

  get traceId(): string | undefined {
    return this.rootSpan?.spanContext().traceId;
  }

  reserve<T>(holding: Promise<T>): Promise<T> {
    const span = this.child('reserve');
    holding.then(
      () => span.end(),
      (error: unknown) => {
        // The request ends here: nothing is dispatched or settled after a failed reservation.
        this.fail(span, error);
        this.abandon(error);
      },
    );
    return holding;
  }

  hostCall<T extends { host: { id: string; name: string } }>(dispatching: Promise<T>): Promise<T> {
    const span = this.child('host call', this.otel.api.SpanKind.CLIENT);
    this.host = span;
    dispatching.then(
      ({ host }) => {
        const attributes: Attributes = { 'llmendpoint.host': host.name, 'llmendpoint.host_id': host.id };
        const url = safeUrl(this.otel.hostUrl(host.id));
        if (url) {
          attributes['server.address'] = url.hostname;
          attributes['server.port'] = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
        }
        span.setAttributes(attributes);
        this.root().setAttributes(attributes);
        if (this.done) this.hostCallEnded();
      },
      (error: unknown) => {
        if (this.host === span) this.host = undefined;
        this.fail(span, error);
      },
    );
    return dispatching;
  }

  firstToken(): void {
    this.host?.addEvent('gen_ai.first_token');
  }

  hostCallEnded(error?: unknown): void {
    const span = this.host;
    this.host = undefined;
    if (!span) return;
    if (error === undefined) span.end();
    else this.fail(span, error);
  }

  settleStarted(): void {
    if (!this.done) this.settling = this.child('settle');
  }

  settled(
    host: { id: string; name: string } | null,
    usage: { inputTokens: number; outputTokens: number },
    credits: bigint,
    status: string,
    error?: unknown,
  ): void {
    if (this.done) return;
    this.settling?.setAttribute('llmendpoint.credits', Number(credits));
    this.settling?.end();
    this.hostCallEnded();
    const root = this.root();
    root.setAttributes({
      'gen_ai.usage.input_tokens': usage.inputTokens,
      'gen_ai.usage.output_tokens': usage.outputTokens,
      'llmendpoint.credits': Number(credits),
      'llmendpoint.status': status,
      ...(host ? { 'llmendpoint.host': host.name } : {}),
    });
    this.done = true;
    if (error !== undefined) this.fail(root, error);
    else root.end();
  }

  private abandon(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.fail(this.root(), error);
  }

  private root(): Span {
    if (this.rootSpan) return this.rootSpan;
    const request = this.request;
    const op = this.operation ?? (request.kind === 'completion' ? 'text_completion' : 'chat');
    const attributes: Attributes = {
      'gen_ai.operation.name': op,
      'gen_ai.request.model': request.model,
      'llmendpoint.surface': this.source,
    };
    if (request.maxTokens) attributes['gen_ai.request.max_tokens'] = request.maxTokens;
    if (request.stream !== undefined) attributes['llmendpoint.stream'] = request.stream;
    const { api, tracer } = this.otel;
    const span = tracer.startSpan(`${op} ${request.model}`, {
      kind: api.SpanKind.SERVER,
      attributes,
      startTime: this.startTime,
    });
    this.rootSpan = span;
    this.context = api.trace.setSpan(api.context.active(), span);
    const log = pendingCompletionLogOf(this.signal);
    if (log) log.traceId = span.spanContext().traceId;
    return span;
  }

  private child(name: string, kind = this.otel.api.SpanKind.INTERNAL): Span {
    this.root();
    return this.otel.tracer.startSpan(name, { kind }, this.context);
  }

  private fail(span: Span, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    span.setStatus({ code: this.otel.api.SpanStatusCode.ERROR, message });
    span.setAttribute('error.type', errorType(error));
    span.end();
  }
}

/** The API error code (`insufficient_credits`, `upstream_error`, …) when there is one. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'error';
}

function safeUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
