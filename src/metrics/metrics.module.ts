import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { TrafficMetrics } from './traffic-metrics';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, TrafficMetrics],
  exports: [MetricsService, TrafficMetrics],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
