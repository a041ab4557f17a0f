import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import type { ConfigOverrides } from './config/config.module';
import { buildOpenApiDocument, setupDocs } from './docs/docs';
import { AppLogger } from './logging/app-logger';

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
    // The client address is computed by the auth module from TRUST_PROXY, not by express.
    app.set('trust proxy', false);
    app.useBodyParser('json', { limit: config.bodyLimit });
    app.useBodyParser('urlencoded', { extended: true, limit: config.bodyLimit });
    app.useGlobalPipes(createValidationPipe());
    setupDocs(app, buildOpenApiDocument(app));
    return app;
  } catch (error) {
    await app.close();
    throw error;
  }
}
