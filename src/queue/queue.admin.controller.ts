import { Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AdminApiController } from '../admin/admin-api';
import { QueueStatusService } from './queue-status.service';

export class QueueStatusQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  failed_limit?: number;
}

export class QueueDepthResponse {
  @ApiProperty({ example: 'tasks' })
  name!: string;
  @ApiProperty({ type: 'integer' })
  waiting!: number;
  @ApiProperty({ type: 'integer' })
  active!: number;
  @ApiProperty({ type: 'integer' })
  delayed!: number;
  @ApiProperty({ type: 'integer', description: 'Failed jobs kept in Redis' })
  failed!: number;
  @ApiProperty({ type: 'integer', description: 'Completed jobs kept in Redis' })
  completed!: number;
  @ApiProperty({ type: 'integer' })
  paused!: number;
}

export class FailedTaskResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  user_id!: string;
  @ApiProperty()
  model!: string;
  @ApiProperty({ type: String, nullable: true })
  error!: string | null;
  @ApiProperty({ type: 'integer' })
  attempts!: number;
  @ApiProperty({ format: 'date-time' })
  created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finished_at!: string | null;
}

export class QueueStatusResponse {
  @ApiProperty({ type: [QueueDepthResponse], description: 'Bull job counts per queue' })
  queues!: QueueDepthResponse[];
  @ApiProperty({ type: [FailedTaskResponse], description: 'Latest failed queued completions' })
  recent_failures!: FailedTaskResponse[];
}

/** Admin view of the queue: depth from Bull, recent failures from the task table. */
@AdminApiController('admin: queue')
export class QueueAdminController {
  constructor(private readonly status: QueueStatusService) {}

  @Get('queue')
  @ApiOperation({
    operationId: 'getQueueStatus',
    summary: 'Queue depth per state and the latest failed tasks',
  })
  @ApiOkResponse({ type: QueueStatusResponse })
  async get(@Query() query: QueueStatusQueryDto): Promise<QueueStatusResponse> {
    const s = await this.status.status(query.failed_limit ?? 20);
    return {
      queues: s.queues,
      recent_failures: s.failed.map((f) => ({
        id: f.id,
        user_id: f.userId,
        model: f.model,
        error: f.error,
        attempts: f.attempts,
        created_at: f.createdAt.toISOString(),
        finished_at: f.finishedAt?.toISOString() ?? null,
      })),
    };
  }
}
