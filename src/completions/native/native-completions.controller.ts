import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { API_ERRORS } from '../../common/api-error';
import { rateLimitHeaders } from '../../ratelimit/rate-limit.service';
import { CompletionsService } from '../completions.service';
import { abortOnDisconnect, sendJson, setHeaders, write } from '../http-stream';
import { NativeCompletionBody, NativeCompletionResponse } from './native.dto';
import { parseNativeCompletion } from './native-request';
import { ApiErrors, AUTH_ERRORS } from '../../docs/api-errors';

/** Seed 000's synchronous completions: `{"success": true, "response"}` or an NDJSON stream. */
@ApiTags('native')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('api/v1')
export class NativeCompletionsController {
  constructor(private readonly completions: CompletionsService) {}

  @Post('completions')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'createNativeCompletion',
    summary: 'Generate a completion',
    description:
      'Bills the user: reserves (characters of user messages × input rate + max_tokens × output rate) / 0.0001 ' +
      'credits, then settles the actual usage. With `stream: true` the answer is NDJSON, one ' +
      '`{"role":"assistant","content":"…"}` per line.',
  })
  @ApiBody({ type: NativeCompletionBody })
  @ApiProduces('application/json', 'application/x-ndjson')
  @ApiOkResponse({ type: NativeCompletionResponse })
  @ApiErrors(
    'native',
    'invalid_request',
    'missing_fields',
    'model_pricing_not_found',
    'no_available_hosts',
    ...AUTH_ERRORS,
    'insufficient_credits',
    'model_not_allowed',
    'rate_limit_exceeded',
    'upstream_error',
  )
  async create(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = parseNativeCompletion(body);
    const abort = abortOnDisconnect(req, res);
    if (!request.stream) {
      const result = await this.completions.complete(request, principal, abort.signal, { source: 'native' });
      if (result.rateLimit) setHeaders(res, rateLimitHeaders(result.rateLimit));
      sendJson(res, { success: true, response: result.text });
      return;
    }
    const handle = await this.completions.run(request, principal, abort.signal, { source: 'native' });
    if (handle.rateLimit) setHeaders(res, rateLimitHeaders(handle.rateLimit));
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/x-ndjson');
    try {
      for await (const chunk of handle) {
        if (abort.signal.aborted) break;
        if (chunk.text)
          await write(res, JSON.stringify({ role: 'assistant', content: chunk.text }) + '\n', abort.signal);
      }
    } catch {
      // The host broke off mid-answer: what was delivered is billed; say so on the last line.
      res.write(JSON.stringify({ success: false, message: API_ERRORS.upstream_error.native }) + '\n');
    }
    res.end();
  }
}
