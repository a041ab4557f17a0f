import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import bytes from 'bytes';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { RequestAuthenticator } from './auth/request-authenticator';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { corsMiddleware, type Middleware } from './common/cors';
import { installFastPath } from './common/fast-path';
import { fastRoutes } from './common/fast-path-routes';
import { NativeCompletionsController } from './completions/native/native-completions.controller';
import { OpenAiController } from './completions/openai/openai.controller';
import { QCompletionsController } from './queue/qcompletions.controller';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import type { ConfigOverrides } from './config/config.module';
import { buildOpenApiDocument, setupDocs } from './docs/docs';
import { AppLogger } from './logging/app-logger';
import { RequestLoggerMiddleware } from './logging/request-logger.middleware';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { MetricsService } from './metrics/metrics.service';

/**
 * Builds the application exactly as `main.ts` runs it (tests and the CLI use this too), without
 * listening. Throws on bad configuration or an unreachable database instead of retrying.
 */
export async function createApp(overrides: ConfigOverrides = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(overrides), {
    // Silent until the pino logger is attached: a failed start prints one line (main.ts), not stacks.
    logger: false,
    abortOnError: false,
    bodyParser: false,
  });
  try {
    const config = app.get(AppConfig);
    app.useLogger(app.get(AppLogger));
    app.disable('x-powered-by');
    // API answers are not cached by clients; hashing every body for an ETag is wasted CPU.
    app.set('etag', false);
    // The client address is computed by the auth module from TRUST_PROXY, not by express.
    app.set('trust proxy', false);
    const cors = corsMiddleware(config.corsOrigins);
    // Before the routes, so preflights are answered and every answer carries the headers.
    if (cors) app.use(cors);
    app.useBodyParser('json', { limit: config.bodyLimit });
    app.useBodyParser('urlencoded', { extended: true, limit: config.bodyLimit });
    app.useGlobalPipes(createValidationPipe());
    // Built on the first request for the docs: ≈ 170 ms and its objects that a start need not pay for.
    setupDocs(app, () => buildOpenApiDocument(app));
    if (config.servesApi) await installHotRoutes(app, config.bodyLimit, cors);
    return app;
  } catch (error) {
    await app.close();
    throw error;
  }
}

/**
 * The completion routes and the queued submit through the lean path of `common/fast-path.ts`: the same controller
 * methods, their paths and enhancers read from Nest's metadata after init (`fastRoutes` refuses
 * to start when one carries a guard, interceptor, pipe, filter or middleware the fast path does not run).
 */
async function installHotRoutes(
  app: NestExpressApplication,
  bodyLimit: string,
  cors: Middleware | undefined,
): Promise<void> {
  await app.init();
  const routes = fastRoutes(app, [
    { controller: OpenAiController, method: 'chat' },
    { controller: OpenAiController, method: 'complete' },
    { controller: OpenAiController, method: 'embeddings' },
    { controller: NativeCompletionsController, method: 'create' },
    { controller: QCompletionsController, method: 'submit' },
  ]);
  const authenticator = app.get(RequestAuthenticator);
  const filter = new ApiExceptionFilter();
  const logger = new RequestLoggerMiddleware(app.get(AppLogger));
  const registry = app.get(MetricsService);
  const metrics = new HttpMetricsMiddleware(registry);
  installFastPath(app.getHttpServer() as Server, {
    express: app.getHttpAdapter().getInstance(),
    routes,
    middlewares: [
      ...(cors ? [cors] : []),
      (req, res, next) => logger.use(req, res, next),
      (req, res, next) => metrics.use(req, res, next),
    ],
    authenticate: (req) => authenticator.authenticate(req),
    respond: (error, req, res) => filter.respond(error, req, res),
    bodyLimit: bytes.parse(bodyLimit) ?? 0,
    served: registry.fastPathRequests,
  });
}
