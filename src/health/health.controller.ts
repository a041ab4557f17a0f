import { Controller, Get, HttpCode, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { HostsService } from '../hosts/hosts.service';
import { RedisService } from '../redis/redis.service';
import { HostsHealthResponse, LivenessResponse, ReadinessResponse } from './health.dto';
import { ShutdownState } from './shutdown-state';

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    private readonly hosts: HostsService,
    private readonly shutdown: ShutdownState,
  ) {}

  @Get()
  @ApiOperation({ operationId: 'liveness', summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LivenessResponse })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * "This replica can serve": its database and Redis answer and it is not shutting down. GPU hosts
   * are not part of it (see /health/hosts): a fresh install with no host yet must become Ready so
   * the admin API that registers the first host is reachable through the Service.
   */
  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false, noCache: true })
  @ApiOperation({
    operationId: 'readiness',
    summary: 'Readiness: database and Redis reachable, not shutting down',
    description: 'GPU hosts are not checked here: see `GET /health/hosts` and the `le_hosts_healthy` metric.',
  })
  @ApiOkResponse({ type: ReadinessResponse, description: 'This replica can serve' })
  @ApiServiceUnavailableResponse({
    type: ReadinessResponse,
    description: 'A dependency is down, or the replica is draining',
  })
  ready() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 3000 }),
      () => this.redisUp(),
      () => this.notDraining(),
    ]);
  }

  @Get('hosts')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'hostsHealth',
    summary: 'GPU hosts: healthy hosts per model',
    description:
      '200 when at least one host is healthy, 503 when none is. From memory: no request to the hosts.',
  })
  @ApiOkResponse({ type: HostsHealthResponse, description: 'At least one healthy host' })
  @ApiServiceUnavailableResponse({ type: HostsHealthResponse, description: 'No healthy GPU host' })
  hostsHealth(@Res({ passthrough: true }) res: Response): HostsHealthResponse {
    const healthy = this.hosts.healthyCount();
    if (healthy === 0) res.status(HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status: healthy > 0 ? 'ok' : 'error',
      healthy,
      registered: this.hosts.list().length,
      models: this.hosts.modelHealth(),
    };
  }

  private notDraining() {
    const indicator = this.indicators.check('shutdown');
    return this.shutdown.isDraining ? indicator.down({ message: 'Shutting down' }) : indicator.up();
  }

  private async redisUp() {
    const indicator = this.indicators.check('redis');
    try {
      await this.redis.ping();
      return indicator.up();
    } catch (e) {
      return indicator.down({ message: (e as Error).message });
    }
  }
}
