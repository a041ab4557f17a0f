import { ApiProperty } from '@nestjs/swagger';

export class LivenessResponse {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';
}

/** @nestjs/terminus's answer: `info` (up) and `error` (down) by indicator, `details` both. */
export class ReadinessResponse {
  @ApiProperty({ enum: ['ok', 'error'], example: 'ok' })
  status!: 'ok' | 'error';

  @ApiProperty({
    description: 'Indicators that are up',
    example: { database: { status: 'up' }, redis: { status: 'up' }, shutdown: { status: 'up' } },
  })
  info!: Record<string, { status: string }>;

  @ApiProperty({ description: 'Indicators that are down', example: {} })
  error!: Record<string, { status: string; message?: string }>;

  @ApiProperty({
    description: 'Every indicator',
    example: { database: { status: 'up' }, redis: { status: 'up' }, shutdown: { status: 'up' } },
  })
  details!: Record<string, { status: string; message?: string }>;
}

export class ModelHostsHealth {
  @ApiProperty({ example: 'llama3.1' })
  model!: string;

  @ApiProperty({ description: 'Hosts that serve the model', example: 2 })
  hosts!: number;

  @ApiProperty({ description: 'Of those, healthy ones', example: 1 })
  healthy!: number;
}

export class HostsHealthResponse {
  @ApiProperty({ enum: ['ok', 'error'], example: 'ok' })
  status!: 'ok' | 'error';

  @ApiProperty({
    description: 'Healthy hosts (enabled, not draining, last check or answer succeeded)',
    example: 1,
  })
  healthy!: number;

  @ApiProperty({ description: 'Registered hosts', example: 2 })
  registered!: number;

  @ApiProperty({ type: [ModelHostsHealth] })
  models!: ModelHostsHealth[];
}
