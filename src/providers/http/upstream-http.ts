import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Agent, type Dispatcher } from 'undici';
import { AppConfig } from '../../config/app-config';
import type { ProviderHost } from '../provider.types';
import { toUpstreamError, UpstreamError } from '../upstream-error';
import { DispatchBody } from './dispatch-body';
import type { AbortLike } from '../../common/abort';

/** An open response from a host: status already checked (2xx), body not yet read. */
export interface UpstreamResponse {
  body: AsyncIterable<Buffer | string> & { destroy(error?: Error): unknown };
}

/** Turns a host's error body into a message (each provider knows its own error format). */
export type ErrorBodyReader = (text: string) => string | undefined;

/**
 * HTTP to inference hosts through one keep-alive undici Agent (a pool per host), with the connect
 * timeout and a first-byte timeout (headers, then any gap between body chunks). Not global fetch:
 * it costs ~5x the CPU per request (STACK-NOTES).
 */
@Injectable()
export class UpstreamHttp implements OnModuleDestroy {
  private readonly agent: Agent;
  private readonly targets = new Map<string, { origin: string; prefix: string }>();

  constructor(config: AppConfig) {
    this.agent = new Agent({
      connect: { timeout: config.hostConnectTimeoutMs },
      headersTimeout: config.hostFirstByteTimeoutMs,
      bodyTimeout: config.hostFirstByteTimeoutMs,
      // Below common server idle timeouts (uvicorn: 5 s), so a pooled socket is rarely stale.
      keepAliveTimeout: 4_000,
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.destroy();
  }

  /**
   * Sends a request and resolves with its body once a 2xx status arrived; a non-2xx answer throws
   * UpstreamError('status') with the host's message. The body is read as it comes (streams).
   */
  send(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortLike,
    readError: ErrorBodyReader,
  ): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const stream = new DispatchBody();
      let ok = false;
      let status = 0;
      const errorBody: Buffer[] = [];
      let errorBytes = 0;
      this.dispatch(
        host,
        method,
        path,
        body,
        signal,
        'application/json, application/x-ndjson, text/event-stream',
        {
          start: (controller) => (stream.controller = controller),
          status: (code) => {
            status = code;
            ok = isSuccess(code);
            if (ok) resolve({ body: stream });
          },
          data: (chunk) => {
            if (ok) stream.push(chunk);
            else if (errorBytes < MAX_ERROR_BODY) {
              errorBody.push(chunk);
              errorBytes += chunk.length;
            }
          },
          end: () => {
            if (ok) stream.end();
            else reject(statusError(status, concat(errorBody).toString('utf8'), readError));
          },
          fail: (error) => {
            const upstream = toUpstreamError(error, signal);
            stream.fail(upstream);
            reject(upstream);
          },
        },
      );
    });
  }

  /** Sends a request and parses the whole JSON answer (no body stream, no async iteration). */
  async json<T>(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortLike,
    readError: ErrorBodyReader,
  ): Promise<T> {
    const text = await this.text(host, method, path, body, signal, readError, 'application/json');
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UpstreamError('protocol', `Invalid JSON from ${path}`);
    }
  }

  /** Sends a request and reads the whole answer as text (a 2xx; else UpstreamError('status')). */
  async text(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortLike,
    readError: ErrorBodyReader,
    accept = 'text/plain, */*',
  ): Promise<string> {
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      let status = 0;
      let bytes = 0;
      let controller: Dispatcher.DispatchController | undefined;
      const chunks: Buffer[] = [];
      this.dispatch(host, method, path, body, signal, accept, {
        start: (c) => (controller = c),
        status: (code) => (status = code),
        data: (chunk) => {
          bytes += chunk.length;
          // A host that never stops answering cannot fill this process's memory.
          if (bytes > MAX_JSON_BODY) {
            controller?.abort(
              new UpstreamError('protocol', `The answer of ${path} is larger than ${MAX_JSON_BODY} bytes`),
            );
            return;
          }
          chunks.push(chunk);
        },
        end: () => resolve({ status, text: concat(chunks).toString('utf8') }),
        fail: (error) => reject(toUpstreamError(error, signal)),
      });
    });
    if (!isSuccess(status)) throw statusError(status, text, readError);
    return text;
  }

  /**
   * One request through undici's dispatch API (not `request()`: no Readable body or signal
   * wrapper per request; ≈ 40 µs of CPU less per request under load, bench/README.md). Aborting
   * `signal` aborts the request; every outcome reaches exactly one of `end` or `fail`.
   */
  private dispatch(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortLike,
    accept: string,
    on: {
      start?: (controller: Dispatcher.DispatchController) => void;
      status: (code: number) => void;
      data: (chunk: Buffer) => void;
      end: () => void;
      fail: (error: unknown) => void;
    },
  ): void {
    if (signal.aborted) {
      on.fail(new UpstreamError('aborted', 'The request was aborted'));
      return;
    }
    const target = this.target(host.baseUrl);
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (host.apiKey) headers.authorization = `Bearer ${host.apiKey}`;
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    const onAbort = () => controller?.abort(new UpstreamError('aborted', 'The request was aborted'));
    const settle = () => {
      settled = true;
      signal.removeEventListener('abort', onAbort);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    this.agent.dispatch(
      {
        origin: target.origin,
        path: target.prefix + path,
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      },
      {
        onRequestStart: (c) => {
          controller = c;
          on.start?.(c);
          if (signal.aborted) onAbort();
        },
        onResponseStart: (_c, statusCode) => on.status(statusCode),
        onResponseData: (_c, chunk) => on.data(chunk),
        onResponseEnd: () => {
          if (settled) return;
          settle();
          on.end();
        },
        onResponseError: (_c, error) => {
          if (settled) return;
          settle();
          on.fail(error);
        },
      },
    );
  }

  /** A base URL's origin and path prefix, parsed once per host URL. */
  private target(baseUrl: string): { origin: string; prefix: string } {
    let target = this.targets.get(baseUrl);
    if (!target) {
      const url = new URL(joinUrl(baseUrl, ''));
      target = { origin: url.origin, prefix: url.pathname === '/' ? '' : url.pathname };
      if (this.targets.size > 1000) this.targets.clear();
      this.targets.set(baseUrl, target);
    }
    return target;
  }
}

/** Bytes of a non-2xx answer kept for its error message. */
/** Largest whole JSON answer read from a host (embeddings of many inputs are the big ones). */
const MAX_JSON_BODY = 64 * 1024 * 1024;
const MAX_ERROR_BODY = 4096;

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function concat(chunks: Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** A non-2xx answer as UpstreamError('status'), with the host's own message when it gave one. */
function statusError(status: number, text: string, readError: ErrorBodyReader): UpstreamError {
  const message = readError(text) ?? (text.slice(0, 300) || `HTTP ${status}`);
  return new UpstreamError('status', `HTTP ${status}: ${message}`, status);
}

/** base_url may or may not end with a slash, and may carry a path prefix (e.g. a proxy's /v1 root). */
export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}
