import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { CompletionsService } from '../completions.service';
import { abortOnDisconnect, sendJson } from '../http-stream';
import { setLimitHeaders } from '../openai/openai-serve';
import { writeStream } from '../stream-writer';
import { ResponsesBody, ResponseDoc } from './responses.dto';
import { itemId, outputItems, responseObject, ResponsesStream } from './responses-format';
import { parseResponses } from './responses-request';

/** OpenAI's Responses API (the openai SDK's `responses.create`, Codex, the Agents SDK, the AI SDK's default provider). */
@ApiTags('responses')
@ApiBearerAuth('bearer')
@Controller('v1')
export class ResponsesController {
  constructor(private readonly completions: CompletionsService) {}

  @Post('responses')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create a model response (JSON, or typed SSE events with stream: true)',
    description:
      'Input as a string or items (messages with input_text / input_image parts, function_call and ' +
      'function_call_output items), instructions, function tools, tool_choice, text.format. Billed ' +
      'as every completion. Responses are not stored: store: true and previous_response_id are a 400.',
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
    const { request, echo } = parseResponses(body);
    const abort = abortOnDisconnect(req, res);
    const head = {
      id: itemId('resp'),
      createdAt: Math.floor(Date.now() / 1000),
      model: request.model,
      echo,
      store: false,
    };
    if (!request.stream) {
      const r = await this.completions.complete(request, principal, abort.signal, { source: 'responses' });
      setLimitHeaders(res, r.rateLimit);
      sendJson(
        res,
        responseObject(head, outputItems(r.choices[0]!, r.finishReason), r.finishReason, r.usage),
      );
      return;
    }
    const handle = await this.completions.run(request, principal, abort.signal, { source: 'responses' });
    setLimitHeaders(res, handle.rateLimit);
    await writeStream(res, handle, new ResponsesStream(head), abort.signal);
  }
}
