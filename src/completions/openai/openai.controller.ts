import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';

import { ModelsService, ModelInfo } from '../../models/models.service';

import { CompletionsService } from '../completions.service';
import { OPENAI, serveOpenAi, setLimitHeaders } from './openai-serve';
import { abortOnDisconnect, sendJson } from '../http-stream';

import { parseChatCompletion, parseEmbedding, parseTextCompletion } from './openai-request';
import {
  ChatCompletionBody,
  ChatCompletionResponse,
  EmbeddingBody,
  EmbeddingResponse,
  ModelList,
  ModelObject,
  TextCompletionBody,
} from './openai.dto';
import { ApiErrors, AUTH_ERRORS, OPENAI_COMPLETION_ERRORS } from '../../docs/api-errors';

/** The OpenAI-compatible API (seeds 003, 004): the official SDKs work with baseURL …/v1. */
@ApiTags('openai')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly models: ModelsService,
  ) {}

  @Get('models')
  @ApiOperation({ operationId: 'listModels', summary: 'Models with a price and at least one healthy host' })
  @ApiOkResponse({ type: ModelList })
  @ApiErrors('openai', ...AUTH_ERRORS)
  async listModels(@CurrentPrincipal() principal: Principal) {
    const models = await this.models.list(principal);
    return { object: 'list', data: models.map(modelObject) };
  }

  @Get('models/*id')
  @ApiOperation({ operationId: 'retrieveModel', summary: 'Retrieve one model by id' })
  @ApiErrors('openai', ...AUTH_ERRORS, ['model_not_found', 'The model `llama9` does not exist'])
  @ApiParam({ name: 'id', type: String, example: 'llama3.1' })
  @ApiOkResponse({ type: ModelObject })
  async getModel(@Param('id') id: string | string[], @CurrentPrincipal() principal: Principal) {
    return modelObject(await this.models.get(Array.isArray(id) ? id.join('/') : id, principal));
  }

  @Post('chat/completions')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'chatCompletions',
    summary: 'Chat completion (JSON or SSE stream)',
    description:
      "OpenAI's chat completions; with `stream: true` an SSE stream of `chat.completion.chunk`s ending with `data: [DONE]`.",
  })
  @ApiErrors('openai', ...OPENAI_COMPLETION_ERRORS)
  @ApiBody({ type: ChatCompletionBody })
  @ApiOkResponse({ type: ChatCompletionResponse })
  async chat(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const { request, streamOptions } = parseChatCompletion(body);
    await serveOpenAi(this.completions, OPENAI, request, streamOptions, principal, req, res);
  }

  @Post('completions')
  @HttpCode(200)
  @ApiOperation({ operationId: 'completions', summary: 'Text completion (legacy; JSON or SSE stream)' })
  @ApiErrors('openai', ...OPENAI_COMPLETION_ERRORS)
  @ApiBody({ type: TextCompletionBody })
  async complete(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const { request, streamOptions } = parseTextCompletion(body);
    await serveOpenAi(this.completions, OPENAI, request, streamOptions, principal, req, res);
  }

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({ operationId: 'embeddings', summary: 'Create embeddings for one or more inputs' })
  @ApiErrors('openai', ...OPENAI_COMPLETION_ERRORS)
  @ApiBody({ type: EmbeddingBody })
  @ApiOkResponse({ type: EmbeddingResponse })
  async embeddings(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const { request, encoding } = parseEmbedding(body);
    const abort = abortOnDisconnect(req, res);
    const result = await this.completions.embed(request, principal, abort.signal);
    setLimitHeaders(res, result.rateLimit);
    sendJson(res, {
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
}

function modelObject(model: ModelInfo) {
  return { id: model.id, object: 'model', created: ModelsService.CREATED, owned_by: 'llmendpoint' };
}
