import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WebSocket, WebSocketServer } from 'ws';
import { RequestAuthenticator } from '../../auth/request-authenticator';
import type { Principal } from '../../auth/principal';
import { render, toApiError } from '../../common/api-exception.filter';
import { CompletionsService } from '../completions.service';
import { chatCompletion, completionId, OpenAiChunks } from '../openai/openai-format';
import { parseChatCompletion } from '../openai/openai-request';
import { Abort, type AbortLike } from '../../common/abort';

export const CHAT_WS_PATH = '/v1/chat/completions';

/**
 * Seed 003's WebSocket: ws://host/v1/chat/completions, one JSON chat request per message, the
 * answer back as JSON messages (chat.completion.chunk objects; one chat.completion when not
 * streaming). The key comes in the Authorization / X-API-Key header, or `?api_key=` for
 * browsers (which cannot set headers on a WebSocket).
 */
@Injectable()
export class ChatWebSocketServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ChatWebSocketServer.name);
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 20 * 1024 * 1024 });

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: RequestAuthenticator,
    private readonly completions: CompletionsService,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    server?.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== CHAT_WS_PATH) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => void this.accept(ws, req));
    });
  }

  onApplicationShutdown(): void {
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    this.wss.close();
  }

  private async accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    let principal: Principal;
    try {
      principal = await this.authenticator.authenticate(withQueryKey(req));
    } catch (error) {
      ws.send(JSON.stringify(render('openai', toApiError(error)).body));
      ws.close(1008, 'unauthorized');
      return;
    }
    const running = new Set<Abort>();
    ws.on('close', () => running.forEach((c) => c.abort(new Error('client disconnected'))));
    ws.on('message', (data) => {
      const controller = new Abort();
      running.add(controller);
      void this.answer(ws, data.toString(), principal, controller.signal).finally(() =>
        running.delete(controller),
      );
    });
  }

  private async answer(ws: WebSocket, text: string, principal: Principal, signal: AbortLike): Promise<void> {
    const send = (payload: string) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(payload);
    };
    try {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const { request, streamOptions } = parseChatCompletion(body);
      const id = completionId('chatcmpl');
      const created = Math.floor(Date.now() / 1000);
      if (!request.stream) {
        const r = await this.completions.complete(request, principal, signal, { source: 'websocket' });
        send(JSON.stringify(chatCompletion(id, created, request.model, r.choices, r.finishReason, r.usage)));
        return;
      }
      const handle = await this.completions.run(request, principal, signal, { source: 'websocket' });
      const chunks = new OpenAiChunks('chat', id, created, request.model, request.n);
      sendFrames(send, chunks.role());
      for await (const chunk of handle) {
        if (signal.aborted) break;
        sendFrames(
          send,
          chunks.piece(chunk, (sse) => sse),
        );
      }
      if (signal.aborted) return;
      const result = await handle.finished;
      send(unframe(chunks.finish(result.finishReason)));
      if (streamOptions.includeUsage) send(unframe(chunks.usage(result.usage)));
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.code === 'internal_error') this.logger.error(error);
      send(JSON.stringify(render('openai', apiError).body));
    }
  }
}

/** SSE frame `data: {json}\n\n` → the JSON alone. */
function unframe(sse: string): string {
  return sse.slice('data: '.length, -2);
}

/** Each SSE frame of `frames` as one message (JSON text never holds a raw blank line). */
function sendFrames(send: (payload: string) => void, frames: string): void {
  if (frames === '') return;
  for (const frame of frames.split('\n\n')) if (frame !== '') send(frame.slice('data: '.length));
}

/** Browsers can't send headers on a WebSocket: accept `?api_key=` as a Bearer key. */
function withQueryKey(req: IncomingMessage): IncomingMessage {
  const key = new URL(req.url ?? '/', 'http://x').searchParams.get('api_key');
  if (!key || req.headers.authorization || req.headers['x-api-key']) return req;
  req.headers.authorization = `Bearer ${key}`;
  return req;
}
