import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Express, NextFunction, Request, Response } from 'express';
import type { Principal, RequestWithPrincipal } from '../auth/principal';
import { ApiError } from './api-error';

/**
 * A hot route's controller method: the same one Nest calls, with the same arguments, except that
 * req/res are plain Node objects (no express methods: the handlers write with http-stream.ts).
 */
export type FastHandler = (
  body: unknown,
  principal: Principal,
  req: IncomingMessage,
  res: ServerResponse,
) => Promise<void>;

export interface FastRoute {
  /** Exact path (no trailing slash); anything else goes through Nest. */
  path: string;
  handler: FastHandler;
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

export interface FastPathOptions {
  express: Express;
  routes: readonly FastRoute[];
  /** Run before the body is read, as Nest runs them (request id + log line, metrics). */
  middlewares: readonly Middleware[];
  authenticate(req: IncomingMessage): Promise<Principal>;
  /** Renders an error exactly as the global exception filter does. */
  respond(error: unknown, req: Request, res: Response): void;
  /** Largest JSON body in bytes (BODY_LIMIT). */
  bodyLimit: number;
  /** Counts the requests the fast path takes (le_http_fast_path_requests_total). */
  served: { inc(): void };
}

/** `application/json`, optionally `; charset=utf-8`: what the fast path parses itself. */
const PLAIN_JSON = /^application\/json\s*(?:;\s*charset\s*=\s*("?)utf-8\1\s*)?$/i;
const DIGITS = /^\d{1,15}$/;
const FIRST_NON_BLANK = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d]|$)/;

/**
 * A lean path for the hot POST routes (completions, chat, embeddings, queued submits), in front of express.
 * Nest's router, guard and middleware chain cost ≈ 100–150 µs of CPU per request here (bench/),
 * more than everything else the platform does for a request. The fast path does the same steps
 * in the same order with the same components — request id and log line, metrics, JSON body
 * (BODY_LIMIT, strict), API key via the RequestAuthenticator, the controller method Nest would
 * call, errors through the global filter's renderer — and hands every request it is not sure
 * about to express unchanged: other methods or paths, another content type or charset, a
 * compressed or chunked body, a body over the limit. (A worker process does not install it.)
 */
export function installFastPath(server: Server, options: FastPathOptions): void {
  // The matched-route object the metrics middleware reads, one per route rather than per request.
  const routes = new Map(options.routes.map((r) => [r.path, { ...r, label: { path: r.path } }]));
  const fallback = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const noop = () => undefined;

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const route = req.method === 'POST' ? routes.get(pathOf(req.url)) : undefined;
    const length = route ? bodyLength(req, options.bodyLimit) : undefined;
    if (!route || length === undefined) {
      for (const listener of fallback) listener.call(server, req, res);
      return;
    }
    options.served.inc();
    // What the middlewares read of express's additions: the URL and the matched route.
    const request = req as FastRequest;
    request.originalUrl = req.url ?? route.path;
    request.route = route.label;
    for (const middleware of options.middlewares) middleware(request as Request, res as Response, noop);
    void serve(route, request, res, length, options);
  });
}

type FastRequest = IncomingMessage & { originalUrl: string; route: { path: string }; body?: unknown };

async function serve(
  route: FastRoute,
  req: FastRequest,
  res: ServerResponse,
  length: number,
  options: FastPathOptions,
): Promise<void> {
  try {
    const body = parseJson(await readBody(req, length));
    const principal = await options.authenticate(req);
    (req as RequestWithPrincipal).principal = principal;
    req.body = body;
    await route.handler(body, principal, req, res);
  } catch (error) {
    if (res.destroyed && !res.headersSent) return;
    // Errors are rare: only now give the pair express's prototypes, which the filter renders with
    // (setting a prototype costs ≈ 30 µs a request: why the hot path does without).
    const request = Object.setPrototypeOf(req, options.express.request) as Request;
    const response = Object.setPrototypeOf(res, options.express.response) as Response;
    request.res = response;
    response.req = request;
    response.locals = Object.create(null) as Record<string, unknown>;
    options.respond(error, request, response);
  }
}

function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The declared body size when the fast path can take this request, else undefined (→ express). */
function bodyLength(req: IncomingMessage, limit: number): number | undefined {
  const h = req.headers;
  const type = h['content-type'];
  if (type === undefined || !PLAIN_JSON.test(type)) return undefined;
  if (h['transfer-encoding'] !== undefined) return undefined;
  const encoding = h['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  const declared = h['content-length'];
  if (declared === undefined || !DIGITS.test(declared)) return undefined;
  const length = Number(declared);
  return length <= limit ? length : undefined;
}

/** A malformed body: 400 with the parser's message, as the express path answers it. */
function invalidBody(message: string): ApiError {
  return new ApiError('invalid_request', message, undefined, 400);
}

function readBody(req: IncomingMessage, length: number): Promise<string> {
  if (length === 0) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (received !== length) reject(invalidBody('request size did not match content length'));
      else resolve((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString('utf8'));
    };
    const onError = () => {
      cleanup();
      reject(invalidBody('request aborted'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

/**
 * body-parser's json() with strict: true, messages included: an empty body is `{}`; a body that
 * does not open an object or an array fails with the message JSON.parse gives for its first
 * character; anything else is JSON.parse's.
 */
function parseJson(raw: string): unknown {
  // body-parser decodes with iconv-lite, which drops a byte order mark.
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (text.length === 0) return {};
  if (text[0] !== '{' && text[0] !== '[') {
    const first = FIRST_NON_BLANK.exec(text)?.[1] || undefined;
    if (first !== '{' && first !== '[') throw strictViolation(text, first);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw invalidBody((e as Error).message);
  }
}

/** JSON.parse's own message for the first character, as body-parser builds it. */
function strictViolation(text: string, first: string | undefined): ApiError {
  const index = first === undefined ? -1 : text.indexOf(first);
  const partial = index === -1 ? '' : text.slice(0, index) + '#'.repeat(text.length - index);
  try {
    JSON.parse(partial);
    return invalidBody('strict violation');
  } catch (e) {
    return invalidBody((e as Error).message.replace(/#+/g, (p) => text.slice(index, index + p.length)));
  }
}
