import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { QueuedCompletionBody } from './dto/queued-completion.body';
import { TaskCancelResponse, TaskQueuedResponse, TaskStatusResponse } from './dto/task.responses';
import { sendJson } from '../completions/http-stream';
import { TasksService } from './tasks.service';
import { toStatusBody } from './task-view';
import { ApiErrors, AUTH_ERRORS } from '../docs/api-errors';

/** Seed 000's queued completions: submit, poll, cancel. */
@ApiTags('native')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@ApiErrors('native', ...AUTH_ERRORS)
@Controller('api/v1/qcompletions')
export class QCompletionsController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'createQueuedCompletion',
    summary: 'Queue a completion; the estimate is reserved now',
  })
  @ApiErrors(
    'native',
    'invalid_request',
    'missing_fields',
    'model_pricing_not_found',
    'insufficient_credits',
    'model_not_allowed',
    'rate_limit_exceeded',
  )
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
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    // A hot route (src/common/fast-path.ts): it reads its header and writes its answer itself.
    const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
    const task = await this.tasks.submit(body, principal, idempotencyKey);
    const answer: TaskQueuedResponse = {
      success: true,
      task_id: task.id,
      message: 'Request queued successfully',
    };
    res.statusCode = 200;
    sendJson(res, answer);
  }

  @Get(':task_id')
  @ApiOperation({
    operationId: 'getQueuedCompletion',
    summary: 'Status of a task, with the result once completed',
  })
  @ApiParam({ name: 'task_id', format: 'uuid' })
  @ApiOkResponse({ type: TaskStatusResponse })
  @ApiErrors('native', 'task_not_found')
  async get(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TaskStatusResponse> {
    return toStatusBody(await this.tasks.get(taskId, principal));
  }

  @Delete(':task_id')
  @ApiOperation({
    operationId: 'cancelQueuedCompletion',
    summary: 'Cancel a queued or processing task; what it holds is refunded',
  })
  @ApiParam({ name: 'task_id', format: 'uuid' })
  @ApiOkResponse({ type: TaskCancelResponse })
  @ApiErrors('native', 'task_not_found')
  async cancel(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TaskCancelResponse> {
    const task = await this.tasks.cancel(taskId, principal);
    const message = task.status === 'cancelled' ? 'Task cancelled' : `Task already ${task.status}`;
    return { ...toStatusBody(task), message };
  }
}
