import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import pino from 'pino';
import { AppConfig } from '../config/app-config';
import { AppLogger } from './app-logger';
import { RequestLoggerMiddleware } from './request-logger.middleware';

/** Structured JSON logs (pino) for the app and one line per request with its X-Request-Id. */
@Global()
@Module({
  providers: [
    {
      provide: AppLogger,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new AppLogger(pino({ level: config.logLevel, base: { pid: process.pid } })),
    },
  ],
  exports: [AppLogger],
})
export class LoggingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestLoggerMiddleware).forRoutes('*path');
  }
}
