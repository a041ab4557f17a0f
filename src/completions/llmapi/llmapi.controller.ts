import type { ApiErrorCode } from '../../common/api-error';
import { Body, Controller, HttpCode, Post, Req, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { AppConfig } from '../../config/app-config';
import { rateLimitHeaders } from '../../ratelimit/rate-limit.service';
import type { CompletionRequest } from '../completion.types';
import { CompletionsService } from '../completions.service';
import { abortOnDisconnect, write } from '../http-stream';
import { ImageModelForm, LlmApiResponse, TextModelBody } from './llmapi.dto';
import { parseImageModelRequest, parseTextModelRequest } from './llmapi-request';
import { ApiErrors } from '../../docs/api-errors';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

interface UploadedImage {
  buffer: Buffer;
  mimetype: string;
}

/** What seed 001's routes can answer besides success (documented on each). */
const LLMAPI_ERRORS: (ApiErrorCode | [ApiErrorCode, string])[] = [
  'missing_api_key',
  'invalid_api_key',
  ['invalid_request', 'prompt is required'],
  'insufficient_credits',
  'model_pricing_not_found',
  'rate_limit_exceeded',
  'upstream_error',
  'no_available_hosts',
];

/**
 * Seed 001's FastAPI surface: text and image (vision) models configured by TEXT_MODEL and
 * IMAGE_MODEL, `{"response": …}` answers or a plain text stream, `{"detail": …}` errors.
 */
@ApiTags('llm-api')
@ApiSecurity('x-api-key')
@Controller()
export class LlmApiController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly config: AppConfig,
  ) {}

  @Post('text_model/chat/completion')
  @HttpCode(200)
  @ApiOperation({ operationId: 'textModelChatCompletion', summary: 'Text model: generate a response' })
  @ApiErrors('llmapi', ...LLMAPI_ERRORS)
  @ApiBody({ type: TextModelBody })
  @ApiOkResponse({ type: LlmApiResponse })
  async textCompletion(
    @Body() body: unknown,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.answer(parseTextModelRequest(body, this.config.textModel, false), p, req, res);
  }

  @Post('text_model/chat/stream')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'textModelChatStream',
    summary: 'Text model: stream the response as plain text',
  })
  @ApiErrors('llmapi', ...LLMAPI_ERRORS)
  @ApiBody({ type: TextModelBody })
  async textStream(
    @Body() body: unknown,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.answer(parseTextModelRequest(body, this.config.textModel, true), p, req, res);
  }

  @Post('image_model/chat/completion')
  @HttpCode(200)
  @UseInterceptors(FileInterceptor('image', { limits: { fileSize: MAX_IMAGE_BYTES, files: 1 } }))
  @ApiConsumes('multipart/form-data')
  @ApiOperation({
    operationId: 'imageModelChatCompletion',
    summary: 'Image model: answer a prompt about an uploaded image',
  })
  @ApiErrors('llmapi', ...LLMAPI_ERRORS)
  @ApiBody({ type: ImageModelForm })
  @ApiOkResponse({ type: LlmApiResponse })
  async imageCompletion(
    @UploadedFile() image: UploadedImage | undefined,
    @Body() fields: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.answer(
      parseImageModelRequest(fields ?? {}, image, this.config.imageModel, false),
      p,
      req,
      res,
    );
  }

  @Post('image_model/chat/stream')
  @HttpCode(200)
  @UseInterceptors(FileInterceptor('image', { limits: { fileSize: MAX_IMAGE_BYTES, files: 1 } }))
  @ApiConsumes('multipart/form-data')
  @ApiOperation({
    operationId: 'imageModelChatStream',
    summary: 'Image model: stream the answer as plain text',
  })
  @ApiErrors('llmapi', ...LLMAPI_ERRORS)
  @ApiBody({ type: ImageModelForm })
  async imageStream(
    @UploadedFile() image: UploadedImage | undefined,
    @Body() fields: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.answer(parseImageModelRequest(fields ?? {}, image, this.config.imageModel, true), p, req, res);
  }

  private async answer(request: CompletionRequest, principal: Principal, req: Request, res: Response) {
    const abort = abortOnDisconnect(req, res);
    if (!request.stream) {
      const r = await this.completions.complete(request, principal, abort.signal, { source: 'llmapi' });
      if (r.rateLimit) res.set(rateLimitHeaders(r.rateLimit));
      res.json({ response: r.text });
      return;
    }
    const handle = await this.completions.run(request, principal, abort.signal, { source: 'llmapi' });
    if (handle.rateLimit) res.set(rateLimitHeaders(handle.rateLimit));
    res.status(200).type('text/plain; charset=utf-8');
    try {
      for await (const chunk of handle) {
        if (abort.signal.aborted) break;
        if (chunk.text) await write(res, chunk.text, abort.signal);
      }
    } catch {
      // Mid-stream host failure: the text simply stops; what was delivered is billed.
    }
    res.end();
  }
}
