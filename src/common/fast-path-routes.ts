import { RequestMethod, ValidationPipe, type Type } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  PIPES_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { ApplicationConfig } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { ADMIN_ONLY, IS_PUBLIC, principalOf } from '../auth/auth.decorators';
import { RequestLoggerMiddleware } from '../logging/request-logger.middleware';
import { HttpMetricsMiddleware } from '../metrics/http-metrics.middleware';
import { ApiExceptionFilter } from './api-exception.filter';
import type { FastHandler, FastRoute } from './fast-path';
import { WorkerRoleMiddleware } from './worker-role.middleware';

/** A hot controller method: `Controller.prototype[method]`. */
export interface HotHandler {
  controller: Type<object>;
  method: string;
}

/**
 * What the fast path runs for a request, and so all a hot handler may carry: the global
 * ApiKeyGuard (as the RequestAuthenticator; no @Public, no @AdminOnly), the global
 * ApiExceptionFilter (its renderer), the global ValidationPipe only where it validates nothing
 * (an untyped body), the request-log, metrics and worker-role middlewares (the last a no-op in a
 * process that serves the API), and the parameters (@Body, @CurrentPrincipal, @Req, @Res) in that order.
 */
const GLOBAL_GUARDS: readonly Type<unknown>[] = [ApiKeyGuard];
const GLOBAL_FILTERS: readonly Type<unknown>[] = [ApiExceptionFilter];
const MIDDLEWARES: readonly Type<unknown>[] = [
  WorkerRoleMiddleware,
  RequestLoggerMiddleware,
  HttpMetricsMiddleware,
];
const PARAMETERS = ['body', 'principal', 'request', 'response'] as const;

/** A hot handler carries something the fast path does not run: the app must not start. */
export class FastPathMismatch extends Error {
  constructor(where: string, what: string) {
    super(
      `Fast path: ${where} ${what}, which the fast path (src/common/fast-path.ts) does not run. ` +
        'Run it there too (and list it in src/common/fast-path-routes.ts), or take the route off the fast path.',
    );
    this.name = 'FastPathMismatch';
  }
}

/**
 * The fast path's routes, read from Nest's own metadata of the handlers: their paths and methods
 * as the router has them, each checked to carry nothing beyond what the fast path runs (throws
 * FastPathMismatch at boot otherwise). Call after `app.init()` (middleware is registered then).
 */
export function fastRoutes(app: NestExpressApplication, handlers: readonly HotHandler[]): FastRoute[] {
  checkGlobals(app);
  return handlers.map(({ controller, method }) => {
    const where = `${controller.name}.${method}`;
    const fn = (controller.prototype as Record<string, unknown>)[method];
    if (typeof fn !== 'function') throw new FastPathMismatch(where, 'is not a method');
    if (Reflect.getMetadata(METHOD_METADATA, fn) !== RequestMethod.POST)
      throw new FastPathMismatch(where, 'is not a POST route');
    for (const [key, label] of [
      [GUARDS_METADATA, 'guards'],
      [INTERCEPTORS_METADATA, 'interceptors'],
      [PIPES_METADATA, 'pipes'],
      [EXCEPTION_FILTERS_METADATA, 'exception filters'],
    ] as const) {
      const own = [
        ...((Reflect.getMetadata(key, controller) as unknown[] | undefined) ?? []),
        ...((Reflect.getMetadata(key, fn) as unknown[] | undefined) ?? []),
      ];
      if (own.length) throw new FastPathMismatch(where, `carries ${label} (${own.map(nameOf).join(', ')})`);
    }
    for (const key of [IS_PUBLIC, ADMIN_ONLY])
      if (Reflect.getMetadata(key, fn) !== undefined || Reflect.getMetadata(key, controller) !== undefined)
        throw new FastPathMismatch(where, `is marked ${key}`);
    checkParameters(controller, method, where);
    const instance = app.get(controller) as Record<string, FastHandler>;
    const handler: FastHandler = (body, principal, req, res) => instance[method]!(body, principal, req, res);
    return { path: routePath(app, controller, fn), handler };
  });
}

/** `/<global prefix>/<controller path>/<method path>`, as Nest's router joins them. */
function routePath(app: NestExpressApplication, controller: Type<object>, fn: unknown): string {
  const parts = [
    configOf(app).getGlobalPrefix(),
    Reflect.getMetadata(PATH_METADATA, controller) as string | undefined,
    Reflect.getMetadata(PATH_METADATA, fn as object) as string | undefined,
  ];
  const path = parts
    .flatMap((p) => (p ?? '').split('/'))
    .filter(Boolean)
    .join('/');
  if (/[:*?()]/.test(path)) throw new FastPathMismatch(path, 'has route parameters');
  return `/${path}`;
}

function checkParameters(controller: Type<object>, method: string, where: string): void {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<
    string,
    { index: number; data?: unknown; pipes?: unknown[]; factory?: unknown }
  >;
  const found: string[] = [];
  for (const [key, arg] of Object.entries(args)) {
    const [type] = key.split(':');
    const kind =
      type === String(RouteParamtypes.BODY) && arg.data === undefined
        ? 'body'
        : type === String(RouteParamtypes.REQUEST)
          ? 'request'
          : type === String(RouteParamtypes.RESPONSE)
            ? 'response'
            : type?.endsWith(CUSTOM_ROUTE_ARGS_METADATA) && arg.factory === principalOf
              ? 'principal'
              : `parameter ${key}`;
    if (arg.pipes?.length) throw new FastPathMismatch(where, `has pipes on parameter ${arg.index}`);
    found[arg.index] = kind;
  }
  if (found.join() !== PARAMETERS.join())
    throw new FastPathMismatch(where, `takes (${found.join(', ')}) instead of (${PARAMETERS.join(', ')})`);
  // The global ValidationPipe validates a class-typed body; the fast path hands the body as parsed.
  const types = (Reflect.getMetadata('design:paramtypes', controller.prototype, method) ?? []) as unknown[];
  if (types[0] !== Object && types[0] !== undefined)
    throw new FastPathMismatch(
      where,
      `types its body (${nameOf(types[0])}), which the global ValidationPipe validates`,
    );
}

/** App-wide enhancers and middleware: the fast path's routes get all of them. */
function checkGlobals(app: NestExpressApplication): void {
  const config = configOf(app);
  const instances = (list: unknown[]) => list.map((e) => (e as { constructor: unknown }).constructor);
  const wrapped = (list: { metatype?: unknown; instance?: unknown }[]) =>
    list.map((w) => w.metatype ?? (w.instance as { constructor: unknown } | undefined)?.constructor);
  const expect = (label: string, actual: unknown[], allowed: readonly unknown[]) => {
    const extra = actual.filter((a) => !allowed.includes(a));
    if (extra.length)
      throw new FastPathMismatch('the app', `has global ${label} (${extra.map(nameOf).join(', ')})`);
  };
  expect(
    'guards',
    [...instances(config.getGlobalGuards()), ...wrapped(config.getGlobalRequestGuards())],
    GLOBAL_GUARDS,
  );
  expect(
    'interceptors',
    [...instances(config.getGlobalInterceptors()), ...wrapped(config.getGlobalRequestInterceptors())],
    [],
  );
  expect(
    'pipes',
    [...instances(config.getGlobalPipes()), ...wrapped(config.getGlobalRequestPipes())],
    [ValidationPipe],
  );
  expect(
    'exception filters',
    [...instances(config.getGlobalFilters()), ...wrapped(config.getGlobalRequestFilters())],
    GLOBAL_FILTERS,
  );
  const middleware = (app as unknown as { middlewareContainer?: MiddlewareContainerLike })
    .middlewareContainer;
  if (!middleware?.getConfigurations) throw new FastPathMismatch('the app', "hides Nest's middleware list");
  const used = [...middleware.getConfigurations().values()].flatMap((set) =>
    [...set].flatMap((c) => (Array.isArray(c.middleware) ? c.middleware : [c.middleware])),
  );
  expect('middleware', used, MIDDLEWARES);
}

interface MiddlewareContainerLike {
  getConfigurations(): Map<string, Set<{ middleware: unknown }>>;
}

function configOf(app: NestExpressApplication): ApplicationConfig {
  const config = (app as unknown as { config?: ApplicationConfig }).config;
  if (!config?.getGlobalGuards) throw new FastPathMismatch('the app', "hides Nest's application config");
  return config;
}

function nameOf(x: unknown): string {
  if (typeof x === 'function') return x.name || 'anonymous';
  return (x as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? String(x);
}
