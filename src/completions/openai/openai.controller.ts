import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { ApiError } from '../../common/api-error';
import { ModelsService, ModelInfo } from '../../models/models.service';
import { rateLimitHeaders, RateLimitState } from '../../ratelimit/rate-limit.service';
import type { CompletionRequest } from '../completion.types';
import { CompletionsService } from '../completions.service';
import { abortOnDisconnect, write } from '../http-stream';
import { chatCompletion, completionId, OpenAiChunks, textCompletion } from './openai-format';
import {
  OpenAiStreamOptions,
  parseChatCompletion,
  parseEmbedding,
  parseTextCompletion,
} from './openai-request';
import {
  ChatCompletionBody,
  ChatCompletionResponse,
  EmbeddingBody,
  EmbeddingResponse,
  ModelList,
  ModelObject,
  TextCompletionBody,
} from './openai.dto';

/** The OpenAI-compatible API (seeds 003, 004): the official SDKs work with baseURL …/v1. */
@ApiTags('openai')
@ApiBearerAuth('bearer')
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly models: ModelsService,
  ) {}

  @Get('models')
  @ApiOperation({ summary: 'Models with a price and at least one healthy host' })
  @ApiOkResponse({ type: ModelList })
  async listModels(@CurrentPrincipal() principal: Principal) {
    const models = await this.models.list(principal);
    return { object: 'list', data: models.map(modelObject) };
  }

  @Get('models/*id')
  @ApiOperation({ summary: 'One model' })
  @ApiParam({ name: 'id', type: String, example: 'llama3.1' })
  @ApiOkResponse({ type: ModelObject })
  async getModel(@Param('id') id: string | string[], @CurrentPrincipal() principal: Principal) {
    return modelObject(await this.models.get(Array.isArray(id) ? id.join('/') : id, principal));
  }

  @Post('chat/completions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Chat completion (JSON or SSE stream)' })
  @ApiBody({ type: ChatCompletionBody })
  @ApiOkResponse({ type: ChatCompletionResponse })
  async chat(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { request, streamOptions } = parseChatCompletion(body);
    await this.serve(request, streamOptions, principal, req, res);
  }

  @Post('completions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Text completion (legacy; JSON or SSE stream)' })
  @ApiBody({ type: TextCompletionBody })
  async complete(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { request, streamOptions } = parseTextCompletion(body);
    await this.serve(request, streamOptions, principal, req, res);
  }

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({ summary: 'Embeddings' })
  @ApiBody({ type: EmbeddingBody })
  @ApiOkResponse({ type: EmbeddingResponse })
  async embeddings(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { request, encoding } = parseEmbedding(body);
    const abort = abortOnDisconnect(req, res);
    const result = await this.completions.embed(request, principal, abort.signal);
    setLimitHeaders(res, result.rateLimit);
    res.json({
      object: 'list',
      data: result.embeddings.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding:
          encoding === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
      })),
      model: request.model,
      usage: { prompt_tokens: result.usage.inputTokens, total_tokens: result.usage.inputTokens },
    });
  }

  private async serve(
    request: CompletionRequest,
    options: OpenAiStreamOptions,
    principal: Principal,
    req: Request,
    res: Response,
  ): Promise<void> {
    const abort = abortOnDisconnect(req, res);
    const id = completionId(request.kind === 'chat' ? 'chatcmpl' : 'cmpl');
    const created = Math.floor(Date.now() / 1000);
    if (!request.stream) {
      const r = await this.completions.complete(request, principal, abort.signal, { source: 'openai' });
      setLimitHeaders(res, r.rateLimit);
      const shape = request.kind === 'chat' ? chatCompletion : textCompletion;
      res.json(shape(id, created, request.model, r.text, r.finishReason, r.usage));
      return;
    }
    const handle = await this.completions.run(request, principal, abort.signal, { source: 'openai' });
    setLimitHeaders(res, handle.rateLimit);
    await streamSse(
      res,
      handle,
      new OpenAiChunks(request.kind, id, created, request.model),
      options,
      abort.signal,
    );
  }
}

/** SSE: a role chunk, content chunks, a finish chunk, optionally a usage chunk, then [DONE]. */
export async function streamSse(
  res: Response,
  handle: Awaited<ReturnType<CompletionsService['run']>>,
  chunks: OpenAiChunks,
  options: OpenAiStreamOptions,
  signal: AbortSignal,
  frame: (data: string) => string = (d) => d,
): Promise<void> {
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  const role = chunks.role();
  if (role) await write(res, frame(role), signal);
  try {
    for await (const chunk of handle) {
      if (signal.aborted) break;
      if (chunk.text) await write(res, frame(chunks.content(chunk.text)), signal);
    }
    if (!signal.aborted) {
      const result = await handle.done;
      await write(res, frame(chunks.finish(result.finishReason)), signal);
      if (options.includeUsage) await write(res, frame(chunks.usage(result.usage)), signal);
      await write(res, frame(chunks.done()), signal);
    }
  } catch (error) {
    const e = error instanceof ApiError ? error : new ApiError('upstream_error');
    res.write(frame(chunks.error(e.message, e.code)));
  }
  res.end();
}

function setLimitHeaders(res: Response, state: RateLimitState | undefined): void {
  if (state) res.set(rateLimitHeaders(state));
}

function modelObject(model: ModelInfo) {
  return { id: model.id, object: 'model', created: ModelsService.CREATED, owned_by: 'llmendpoint' };
}
