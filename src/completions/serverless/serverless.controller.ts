import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';

import { CompletionsService } from '../completions.service';

import { OpenAiDialect, serveOpenAi } from '../openai/openai-serve';
import { parseChatCompletion } from '../openai/openai-request';
import { ChatCompletionBody } from '../openai/openai.dto';
import { ApiErrors, OPENAI_COMPLETION_ERRORS } from '../../docs/api-errors';

/** `event:messages` / `data:{chunk}` pairs, as seed 002's serverless endpoints stream. */
export function serverlessFrame(sse: string): string {
  return `event:messages\ndata:${sse.slice('data: '.length)}`;
}

const SERVERLESS: OpenAiDialect = {
  source: 'serverless',
  wrap: (data) => ({ code: 200, msg: 'Operation successful', data }),
  frame: serverlessFrame,
};

/**
 * Seed 002's serverless chat: OpenAI chat completions under /api/v1/ai with camelCase aliases
 * (maxTokens, topP) and results wrapped as {"code": 200, "msg": "Operation successful", "data"}.
 */
@ApiTags('serverless')
@ApiBearerAuth('bearer')
@Controller('api/v1/ai')
export class ServerlessController {
  constructor(private readonly completions: CompletionsService) {}

  @Post('chat/completions')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'serverlessChatCompletions',
    summary: 'Chat completion in the serverless envelope (camelCase parameters accepted)',
  })
  @ApiErrors('serverless', ...OPENAI_COMPLETION_ERRORS)
  @ApiBody({ type: ChatCompletionBody })
  async chat(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { request, streamOptions } = parseChatCompletion(body, 'camel-aliases');
    await serveOpenAi(this.completions, SERVERLESS, request, streamOptions, principal, req, res);
  }
}
