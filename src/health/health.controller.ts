import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { HostsService } from '../hosts/hosts.service';
import { RedisService } from '../redis/redis.service';

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
  ) {}

  @Get()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false, noCache: true })
  @ApiOkResponse({ description: 'Every dependency is up' })
  @ApiOperation({ summary: 'Readiness: database and Redis reachable, at least one GPU host healthy' })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down' })
  ready() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 3000 }),
      () => this.redisUp(),
      () => this.hostsUp(),
    ]);
  }

  /** From the registry's memory: no request to the hosts here. */
  private hostsUp() {
    const indicator = this.indicators.check('hosts');
    const healthy = this.hosts.healthyCount();
    return healthy > 0
      ? indicator.up({ healthy })
      : indicator.down({ healthy, message: 'No healthy GPU host' });
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
