import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { inputCharacters } from '../../billing/pricing';
import { ModelsService } from '../../models/models.service';
import { ApiErrors, AUTH_ERRORS, DIALECT_COMPLETION_ERRORS } from '../../docs/api-errors';
import { CompletionsService } from '../completions.service';
import { serveCompletion } from '../serve-completion';
import { CountTokensDoc, MessageDoc, MessagesBody } from './messages.dto';
import { messageId, messageObject, MessagesStream } from './messages-format';
import { parseMessages } from './messages-request';

/** Anthropic's Messages API (the @anthropic-ai/sdk, Claude Code and apps built on it). */
@ApiTags('anthropic')
@ApiSecurity('x-api-key')
@ApiBearerAuth('bearer')
@ApiHeader({ name: 'anthropic-version', required: false, description: 'Accepted, any value' })
@Controller('v1/messages')
export class MessagesController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly models: ModelsService,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiErrors('anthropic', ...DIALECT_COMPLETION_ERRORS)
  @ApiOperation({
    operationId: 'createMessage',
    summary: "Create a message (JSON, or Anthropic's SSE events with stream: true)",
    description:
      'system, messages with text / image (base64) / tool_use / tool_result blocks, tools, tool_choice, ' +
      'max_tokens (required), stop_sequences. Billed as every completion; errors are ' +
      '{"type":"error","error":{"type","message"}}.',
  })
  @ApiBody({ type: MessagesBody })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: MessageDoc })
  async create(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = parseMessages(body);
    const id = messageId();
    await serveCompletion(
      this.completions,
      {
        source: 'anthropic',
        whole: (r) => messageObject(id, request.model, r.choices[0]!, r.finishReason, r.usage),
        stream: () => new MessagesStream(id, request.model),
      },
      request,
      principal,
      req,
      res,
    );
  }

  @Post('count_tokens')
  @HttpCode(200)
  @ApiErrors('anthropic', ...AUTH_ERRORS, [
    'invalid_request',
    "Invalid 'messages': expected a non-empty list",
  ])
  @ApiOperation({
    operationId: 'countMessageTokens',
    summary: "Count a request's input tokens as the platform bills them",
    description:
      "The platform's own measure (the reservation's input): characters of the user messages and tool " +
      'results, plus each tool definition. Nothing is billed.',
  })
  @ApiBody({ type: MessagesBody })
  @ApiOkResponse({ type: CountTokensDoc })
  async countTokens(@Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    const request = parseMessages(body, true);
    await this.models.assertUsable(request.model, principal);
    return { input_tokens: inputCharacters(request.messages, request.tools) };
  }
}
