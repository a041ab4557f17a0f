import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { QueuedCompletionBody } from './dto/queued-completion.body';
import { TaskCancelResponse, TaskQueuedResponse, TaskStatusResponse } from './dto/task.responses';
import { TasksService } from './tasks.service';
import { toStatusBody } from './task-view';

/** Seed 000's queued completions: submit, poll, cancel. */
@ApiTags('native')
@ApiBearerAuth('bearer')
@Controller('api/v1/qcompletions')
export class QCompletionsController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Queue a completion; the estimate is reserved now' })
  @ApiBody({ type: QueuedCompletionBody })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retried submit returns the same task',
  })
  @ApiOkResponse({ type: TaskQueuedResponse })
  async submit(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<TaskQueuedResponse> {
    const task = await this.tasks.submit(body, principal, idempotencyKey);
    return { success: true, task_id: task.id, message: 'Request queued successfully' };
  }

  @Get(':task_id')
  @ApiOperation({ summary: 'Status of a task, with the result once completed' })
  @ApiParam({ name: 'task_id', format: 'uuid' })
  @ApiOkResponse({ type: TaskStatusResponse })
  @ApiNotFoundResponse({ description: 'Task not found (also for another user’s task)' })
  async get(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TaskStatusResponse> {
    return toStatusBody(await this.tasks.get(taskId, principal));
  }

  @Delete(':task_id')
  @ApiOperation({ summary: 'Cancel a queued or processing task; what it holds is refunded' })
  @ApiParam({ name: 'task_id', format: 'uuid' })
  @ApiOkResponse({ type: TaskCancelResponse })
  @ApiNotFoundResponse({ description: 'Task not found (also for another user’s task)' })
  async cancel(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TaskCancelResponse> {
    const task = await this.tasks.cancel(taskId, principal);
    const message = task.status === 'cancelled' ? 'Task cancelled' : `Task already ${task.status}`;
    return { ...toStatusBody(task), message };
  }
}
