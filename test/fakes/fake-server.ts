import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { FakeHost, FakeHostOptions, FakeMode, FakeRequest, FakeToolCall } from './fake-host.types';

export type ResolvedOptions = Required<
  Omit<FakeHostOptions, 'apiKey' | 'port' | 'host' | 'mode' | 'toolCalls'>
> & {
  apiKey?: string;
  toolCalls?: FakeHostOptions['toolCalls'];
};

/** The tool calls the fake model makes for this request (none unless it offers tools). */
export function plannedToolCalls(opts: ResolvedOptions, body: Record<string, unknown>): FakeToolCall[] {
  if (!opts.toolCalls || !Array.isArray(body.tools) || body.tools.length === 0) return [];
  if (body.tool_choice === 'none') return [];
  return opts.toolCalls(body);
}

/** One request as a kind's router sees it. */
export interface FakeCall {
  method: string;
  path: string;
  body: Record<string, unknown>;
  res: ServerResponse;
  opts: ResolvedOptions;
  mode: FakeMode;
}

/** The frames of one streamed answer: emitted in order, `token(i)` once per token. */
export interface StreamPlan {
  contentType: string;
  head: string[];
  token: (i: number) => string;
  /** Built when reached, so timestamps come after the tokens. */
  tail: () => string[];
  tokens: number;
}

/** What a fake kind (Ollama, OpenAI) supplies: its routes and its error bodies. */
export interface FakeKind {
  route(call: FakeCall, host: FakeServer): Promise<void>;
  errorBody(status: number, message: string, code?: string): unknown;
  /** Message of a 401 when the bearer key is wrong or missing. */
  unauthorized(presented: string | undefined): { message: string; code: string };
}

const ERRORS: Record<
  'error500' | 'error503' | 'error429',
  { status: number; message: string; code?: string }
> = {
  error500: { status: 500, message: 'llama runner process has terminated: exit status 2' },
  error503: { status: 503, message: 'server busy, please try again.  maximum pending requests exceeded' },
  error429: { status: 429, message: 'Rate limit reached for requests', code: 'rate_limit_exceeded' },
};

/** The shared machinery of the fake hosts: modes, request log, client-close accounting, streaming. */
export class FakeServer implements FakeHost {
  url = '';
  port = 0;
  requests: FakeRequest[] = [];
  clientClosed = 0;
  active = 0;
  peakActive = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private mode: FakeMode;
  private opts: ResolvedOptions;
  private readonly address: string;
  /** Sockets this fake destroyed on purpose (die-mid-stream, refuse, close). */
  private readonly killed = new WeakSet<Socket>();

  constructor(
    private readonly kind: FakeKind,
    options: FakeHostOptions,
  ) {
    this.mode = options.mode ?? 'ok';
    this.opts = resolve(options);
    this.address = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
  }

  async start(): Promise<this> {
    await this.listen();
    this.url = `http://${this.address}:${this.port}`;
    if (this.mode === 'refuse') await this.stopListening();
    return this;
  }

  setMode(mode: FakeMode, opts: Partial<FakeHostOptions> = {}): void {
    const wasRefusing = this.mode === 'refuse';
    this.mode = mode;
    this.opts = resolve({ ...this.opts, ...opts });
    if (mode === 'refuse' && !wasRefusing) void this.stopListening();
    if (mode !== 'refuse' && wasRefusing) void this.listen();
  }

  async close(): Promise<void> {
    await this.stopListening();
  }

  sendJson(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  /** Streams an answer frame by frame; in 'die-mid-stream' destroys the socket after `dieAfter` tokens. */
  async stream(call: FakeCall, plan: StreamPlan): Promise<void> {
    const { res, opts } = call;
    res.writeHead(200, {
      'Content-Type': plan.contentType,
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    for (const frame of plan.head) if (!(await write(res, frame))) return;
    for (let i = 0; i < plan.tokens; i++) {
      if (call.mode === 'die-mid-stream' && i >= opts.dieAfter) return this.kill(res.socket);
      if (opts.tokenDelayMs > 0) await sleep(opts.tokenDelayMs);
      if (!(await write(res, plan.token(i)))) return;
    }
    if (call.mode === 'die-mid-stream') return this.kill(res.socket);
    for (const frame of plan.tail()) if (!(await write(res, frame))) return;
    res.end();
  }

  private listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stops accepting connections and drops the open ones, so new connections are refused. */
  private stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) this.kill(socket);
    this.sockets.clear();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = parseBody(raw);
    this.requests.push({ method: req.method ?? 'GET', path, body, headers: { ...req.headers } });
    const socket = req.socket;
    // Counted only when the client hung up: not when this fake dropped the socket itself.
    res.on('close', () => {
      if (!res.writableFinished && !this.killed.has(socket)) this.clientClosed++;
    });
    if (req.method === 'POST') {
      this.active++;
      this.peakActive = Math.max(this.peakActive, this.active);
      res.on('close', () => this.active--);
    }
    const mode = this.mode;
    if (mode === 'hang') return;
    if (mode === 'error500' || mode === 'error503' || mode === 'error429') {
      const spec = ERRORS[mode];
      return this.sendJson(res, spec.status, this.kind.errorBody(spec.status, spec.message, spec.code));
    }
    const presented = bearer(req.headers.authorization);
    if (this.opts.apiKey !== undefined && presented !== this.opts.apiKey) {
      const { message, code } = this.kind.unauthorized(presented);
      return this.sendJson(res, 401, this.kind.errorBody(401, message, code));
    }
    const call: FakeCall = {
      method: req.method ?? 'GET',
      path,
      body: asObject(body),
      res,
      opts: this.opts,
      mode,
    };
    await this.kind.route(call, this);
  }

  private kill(socket: Socket | null): void {
    if (!socket) return;
    this.killed.add(socket);
    socket.destroy();
  }
}

function resolve(options: FakeHostOptions | ResolvedOptions): ResolvedOptions {
  const models = options.models ?? ['llama3.1'];
  return {
    models,
    warm: options.warm ?? models.slice(0, 1),
    tokens: options.tokens ?? 5,
    text: options.text ?? ((i: number) => `tok${i} `),
    tokenDelayMs: options.tokenDelayMs ?? 0,
    dieAfter: options.dieAfter ?? 2,
    reportUsage: options.reportUsage ?? true,
    apiKey: options.apiKey,
    embeddingDims: options.embeddingDims ?? 8,
    toolCalls: options.toolCalls,
    toolCallIds: options.toolCallIds ?? true,
  };
}

/** Writes one frame and waits until it is flushed; false once the client has gone. */
function write(res: ServerResponse, frame: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => res.write(frame, (error) => resolve(!error && !res.destroyed)));
}

/** A request's whole body as text (what arrived, if the client goes away mid-body). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (part: string) => (text += part));
    req.on('end', () => resolve(text));
    req.on('error', () => resolve(text));
  });
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function asObject(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

function bearer(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Tokens to emit: the configured count, capped by the request's output limit (then finish "length"). */
export function plannedTokens(
  opts: ResolvedOptions,
  limit: unknown,
): { tokens: number; finish: 'stop' | 'length' } {
  const cap = typeof limit === 'number' && limit > 0 ? Math.floor(limit) : Infinity;
  return cap < opts.tokens ? { tokens: cap, finish: 'length' } : { tokens: opts.tokens, finish: 'stop' };
}
