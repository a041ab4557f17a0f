import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class TaskQueuedResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ format: 'uuid' })
  task_id!: string;

  @ApiProperty({ example: 'Request queued successfully' })
  message!: string;
}

export class TaskUsageResponse {
  @ApiProperty({ type: 'integer' })
  input_tokens!: number;

  @ApiProperty({ type: 'integer' })
  output_tokens!: number;
}

export class TaskStatusResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ format: 'uuid' })
  task_id!: string;

  @ApiProperty({ enum: ['queued', 'processing', 'completed', 'failed', 'cancelled'] })
  status!: string;

  @ApiPropertyOptional({ description: 'The completion, once completed' })
  result?: string;

  @ApiPropertyOptional({
    description: 'Why it failed, once failed',
    example: 'Max attempts reached - no available hosts',
  })
  error?: string;

  @ApiPropertyOptional({ type: TaskUsageResponse })
  usage?: TaskUsageResponse;

  @ApiPropertyOptional({ type: 'integer', description: 'Credits charged' })
  credits?: number;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time', nullable: true })
  started_at!: string | null;

  @ApiProperty({ format: 'date-time', nullable: true })
  finished_at!: string | null;
}

export class TaskCancelResponse extends TaskStatusResponse {
  @ApiProperty({ example: 'Task cancelled' })
  message!: string;
}
