import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { ApiErrors, AUTH_ERRORS, DIALECT_COMPLETION_ERRORS } from '../../docs/api-errors';
import { CompletionsService } from '../completions.service';
import { serveCompletion } from '../serve-completion';
import { ResponsesBody, ResponseDoc } from './responses.dto';
import { itemId, outputItems, responseObject, ResponsesStream } from './responses-format';
import { parseResponses } from './responses-request';
import { ResponsesService } from './responses.service';

/** OpenAI's Responses API (the openai SDK's `responses.create`, Codex, the Agents SDK, the AI SDK's default provider). */
@ApiTags('responses')
@ApiBearerAuth('bearer')
@Controller('v1')
export class ResponsesController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly responses: ResponsesService,
  ) {}

  @Post('responses')
  @HttpCode(200)
  @ApiErrors('openai', ...DIALECT_COMPLETION_ERRORS)
  @ApiOperation({
    operationId: 'createResponse',
    summary: 'Create a model response (JSON, or typed SSE events with stream: true)',
    description:
      'Input as a string or items (messages with input_text / input_image parts, function_call and ' +
      'function_call_output and item_reference items), instructions, function tools, tool_choice, ' +
      "text.format, previous_response_id. Billed as every completion. Stored (a user's own, for " +
      'TASK_RETENTION_HOURS) unless store: false.',
  })
  @ApiBody({ type: ResponsesBody })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: ResponseDoc })
  async create(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const parsed = parseResponses(body);
    const { request, echo } = parsed;
    const conversation = await this.responses.resolve(parsed, principal);
    const head = {
      id: itemId('resp'),
      createdAt: Math.floor(Date.now() / 1000),
      model: request.model,
      echo,
      store: parsed.store,
    };
    const save = (response: ReturnType<typeof responseObject>) =>
      this.responses.save(parsed, principal, conversation, response);
    await serveCompletion(
      this.completions,
      {
        source: 'responses',
        whole: async (r) => {
          const response = responseObject(
            head,
            outputItems(r.choices[0]!, r.finishReason),
            r.finishReason,
            r.usage,
          );
          await save(response);
          return response;
        },
        stream: () => new ResponsesStream(head, save),
      },
      request,
      principal,
      req,
      res,
    );
  }

  @Get('responses/:id')
  @ApiErrors('openai', ...AUTH_ERRORS, ['not_found', "No response found with id 'resp_1'."])
  @ApiOperation({ operationId: 'retrieveResponse', summary: "A stored response (this key's user's own)" })
  @ApiParam({ name: 'id', example: 'resp_6f1c…' })
  @ApiOkResponse({ type: ResponseDoc })
  get(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.responses.get(principal, id);
  }

  @Delete('responses/:id')
  @ApiErrors('openai', ...AUTH_ERRORS, ['not_found', "No response found with id 'resp_1'."])
  @ApiOperation({ operationId: 'deleteResponse', summary: 'Delete a stored response of this user' })
  @ApiParam({ name: 'id', example: 'resp_6f1c…' })
  delete(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.responses.delete(principal, id);
  }
}
