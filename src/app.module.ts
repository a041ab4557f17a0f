import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { BullModule } from '@nestjs/bull';
import { AccountModule } from './account/account.module';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { BillingModule } from './billing/billing.module';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { WorkerRoleMiddleware } from './common/worker-role.middleware';
import { CompletionsModule } from './completions/completions.module';
import { ConsoleModule } from './console/console.module';
import { AppConfig } from './config/app-config';
import { AppConfigModule, ConfigOverrides } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { HostsModule } from './hosts/hosts.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { ObservabilityModule } from './observability/observability.module';
import { ProvidersModule } from './providers/providers.module';
import { QueueModule } from './queue/queue.module';
import { RedisModule } from './redis/redis.module';
import { RedisService } from './redis/redis.service';
import { UsageModule } from './usage/usage.module';

@Module({})
export class AppModule implements NestModule {
  /** The whole application; `overrides` lets tests and the CLI set configuration without process.env. */
  static forRoot(overrides: ConfigOverrides = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(overrides),
        LoggingModule,
        DatabaseModule,
        RedisModule,
        BullModule.forRootAsync({
          inject: [RedisService, AppConfig],
          useFactory: (redis: RedisService, config: AppConfig) => ({
            prefix: `${config.redisPrefix}:bull`,
            // Commands of one tick in one write (a worker's concurrent job completions and their
            // fetch of the next jobs); the subscriber and blocking clients stay plain.
            createClient: (type) =>
              redis.create(type, type === 'client' ? { enableAutoPipelining: true } : {}),
          }),
        }),
        MetricsModule,
        ObservabilityModule,
        HealthModule,
        AuthModule,
        BillingModule,
        ProvidersModule,
        HostsModule,
        ModelsModule,
        CompletionsModule,
        QueueModule,
        AdminModule,
        AccountModule,
        UsageModule,
        ConsoleModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ApiExceptionFilter }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(WorkerRoleMiddleware).forRoutes('*path');
  }
}
