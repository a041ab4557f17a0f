import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { rateLimitHeaders } from '../../ratelimit/rate-limit.service';
import { CompletionsService } from '../completions.service';
import { abortOnDisconnect } from '../http-stream';
import { chatCompletion, completionId, OpenAiChunks } from '../openai/openai-format';
import { streamSse } from '../openai/openai.controller';
import { parseChatCompletion } from '../openai/openai-request';
import { ChatCompletionBody } from '../openai/openai.dto';

/** `event:messages` / `data:{chunk}` pairs, as seed 002's serverless endpoints stream. */
export function serverlessFrame(sse: string): string {
  return `event:messages\ndata:${sse.slice('data: '.length)}`;
}

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
  @ApiOperation({ summary: 'Chat completion in the serverless envelope (camelCase parameters accepted)' })
  @ApiBody({ type: ChatCompletionBody })
  async chat(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { request, streamOptions } = parseChatCompletion(body, 'camel-aliases');
    const abort = abortOnDisconnect(req, res);
    const id = completionId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    if (!request.stream) {
      const r = await this.completions.complete(request, principal, abort.signal, { source: 'serverless' });
      if (r.rateLimit) res.set(rateLimitHeaders(r.rateLimit));
      res.json({
        code: 200,
        msg: 'Operation successful',
        data: chatCompletion(id, created, request.model, r.text, r.finishReason, r.usage),
      });
      return;
    }
    const handle = await this.completions.run(request, principal, abort.signal, { source: 'serverless' });
    if (handle.rateLimit) res.set(rateLimitHeaders(handle.rateLimit));
    const chunks = new OpenAiChunks('chat', id, created, request.model);
    await streamSse(res, handle, chunks, streamOptions, abort.signal, serverlessFrame);
  }
}
