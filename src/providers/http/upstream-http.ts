import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Agent, request } from 'undici';
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

  /** Sends a request and parses the whole JSON answer. */
  async json<T>(
    host: ProviderHost,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
    readError: ErrorBodyReader,
  ): Promise<T> {
    const res = await this.send(host, method, path, body, signal, readError);
    let text = '';
    try {
      for await (const part of res.body) text += typeof part === 'string' ? part : part.toString('utf8');
    } catch (error) {
      throw toUpstreamError(error, signal);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UpstreamError('protocol', `Invalid JSON from ${path}`);
    }
  }
}

/** base_url may or may not end with a slash, and may carry a path prefix (e.g. a proxy's /v1 root). */
export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}
