import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Agent, type Dispatcher, request } from 'undici';
import { AppConfig } from '../../config/app-config';
import type { ProviderHost } from '../provider.types';
import { toUpstreamError, UpstreamError } from '../upstream-error';

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

  /** Sends a request; a non-2xx answer throws UpstreamError('status') with the host's message. */
  async send(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
    readError: ErrorBodyReader,
  ): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json, application/x-ndjson, text/event-stream',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (host.apiKey) headers.authorization = `Bearer ${host.apiKey}`;
    try {
      const res = await request(joinUrl(host.baseUrl, path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        dispatcher: this.agent,
      });
      if (res.statusCode >= 200 && res.statusCode < 300) return { body: res.body };
      const text = await res.body.text().catch(() => '');
      const message = readError(text) ?? (text.slice(0, 300) || `HTTP ${res.statusCode}`);
      throw new UpstreamError('status', `HTTP ${res.statusCode}: ${message}`, res.statusCode);
    } catch (error) {
      throw toUpstreamError(error, signal);
    }
  }

  /**
   * Sends a request and parses the whole JSON answer. Through undici's dispatch API rather than
   * `request()`: a whole answer needs no body stream, abort-signal wrapper or async iteration
   * (≈ 40 µs of CPU per request less under load, bench/README.md).
   */
  async json<T>(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
    readError: ErrorBodyReader,
  ): Promise<T> {
    const { status, text } = await this.exchange(host, method, path, body, signal);
    if (status < 200 || status >= 300) {
      const message = readError(text) ?? (text.slice(0, 300) || `HTTP ${status}`);
      throw new UpstreamError('status', `HTTP ${status}: ${message}`, status);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UpstreamError('protocol', `Invalid JSON from ${path}`);
    }
  }

  /** One request, the whole answer as text; network failures and aborts as UpstreamError. */
  private exchange(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<{ status: number; text: string }> {
    const target = this.target(host.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (host.apiKey) headers.authorization = `Bearer ${host.apiKey}`;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new UpstreamError('aborted', 'The request was aborted'));
        return;
      }
      let controller: Dispatcher.DispatchController | undefined;
      let status = 0;
      const chunks: Buffer[] = [];
      let finished = false;
      const onAbort = () => controller?.abort(new UpstreamError('aborted', 'The request was aborted'));
      const finish = (error: unknown, text?: string) => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve({ status, text: text ?? '' });
        else reject(toUpstreamError(error, signal));
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
            if (signal.aborted) onAbort();
          },
          onResponseStart: (_c, statusCode) => {
            status = statusCode;
          },
          onResponseData: (_c, chunk) => {
            chunks.push(chunk);
          },
          onResponseEnd: () => {
            finish(undefined, (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
          },
          onResponseError: (_c, error) => finish(error),
        },
      );
    });
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

/** base_url may or may not end with a slash, and may carry a path prefix (e.g. a proxy's /v1 root). */
export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}
