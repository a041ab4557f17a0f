import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiOperation({
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    description:
      'Prometheus text format: HTTP, queue, tokens, credits, latency and GPU host series (README, Metrics).',
  })
  @ApiOkResponse({
    description: 'Prometheus text exposition',
    content: {
      'text/plain': {
        schema: {
          type: 'string',
          example:
            '# HELP le_tokens_input_total Input (prompt) tokens charged, by model\n# TYPE le_tokens_input_total counter\nle_tokens_input_total{model="llama3.1"} 1234\n',
        },
      },
    },
  })
  @ApiProduces('text/plain')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
