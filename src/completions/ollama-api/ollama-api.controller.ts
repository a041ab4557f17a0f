import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentPrincipal, Public } from '../../auth/auth.decorators';
import type { Principal } from '../../auth/principal';
import { ApiError } from '../../common/api-error';
import { ModelsService, type ModelInfo } from '../../models/models.service';
import { ApiErrors, AUTH_ERRORS, DIALECT_COMPLETION_ERRORS } from '../../docs/api-errors';
import { CompletionsService } from '../completions.service';
import { abortOnDisconnect, sendJson } from '../http-stream';
import { setLimitHeaders } from '../openai/openai-serve';
import { serveCompletion } from '../serve-completion';
import {
  OllamaChatBody,
  OllamaEmbedBody,
  OllamaGenerateBody,
  OllamaShowBody,
  OllamaTagsDoc,
} from './ollama-api.dto';
import { OllamaEndpoint, ollamaFinal, OllamaStream, OllamaTimer } from './ollama-api-format';
import {
  ParsedOllama,
  parseOllamaChat,
  parseOllamaEmbed,
  parseOllamaGenerate,
  parseOllamaShow,
} from './ollama-api-request';

/** The Ollama API version this surface speaks (clients gate features such as tools on it). */
export const OLLAMA_API_VERSION = '0.12.6';
const MODIFIED_AT = '2025-01-01T00:00:00Z';

/**
 * An Ollama-compatible API (Open WebUI, continue.dev, n8n, the `ollama` npm client) under the
 * platform's keys and billing: the models listed are this key's priced models with a healthy host.
 * Errors are Ollama's {"error": "…"}.
 */
@ApiTags('ollama')
@Controller('api')
export class OllamaApiController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly models: ModelsService,
  ) {}

  @Get('version')
  @Public()
  @ApiOperation({ operationId: 'ollamaVersion', summary: 'The Ollama API version served (no key needed)' })
  version() {
    return { version: OLLAMA_API_VERSION };
  }

  @Get('tags')
  @ApiBearerAuth('bearer')
  @ApiErrors('ollama', ...AUTH_ERRORS)
  @ApiOperation({
    operationId: 'ollamaTags',
    summary: "List models (this key's priced models with a healthy host)",
  })
  @ApiOkResponse({ type: OllamaTagsDoc })
  async tags(@CurrentPrincipal() principal: Principal) {
    const models = await this.models.list(principal);
    return {
      models: models.map((m) => ({
        name: m.id,
        model: m.id,
        modified_at: MODIFIED_AT,
        size: 0,
        digest: '',
        details: details(),
      })),
    };
  }

  @Post('show')
  @HttpCode(200)
  @ApiBearerAuth('bearer')
  @ApiErrors('ollama', ...AUTH_ERRORS, ['model_not_found', 'model "llama9" not found, try pulling it first'])
  @ApiOperation({ operationId: 'ollamaShow', summary: 'Show a model' })
  @ApiBody({ type: OllamaShowBody })
  async show(@Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    const model = await this.find(parseOllamaShow(body), principal);
    return {
      modelfile: '',
      parameters: '',
      template: '',
      details: details(),
      model_info: {},
      capabilities: capabilities(model),
      modified_at: MODIFIED_AT,
    };
  }

  @Post('chat')
  @HttpCode(200)
  @ApiBearerAuth('bearer')
  @ApiErrors('ollama', ...DIALECT_COMPLETION_ERRORS)
  @ApiOperation({
    operationId: 'ollamaChat',
    summary: 'Chat (NDJSON stream by default, one JSON object with stream: false)',
  })
  @ApiBody({ type: OllamaChatBody })
  @ApiProduces('application/x-ndjson', 'application/json')
  async chat(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    await this.serve('chat', parseOllamaChat(body), principal, req, res);
  }

  @Post('generate')
  @HttpCode(200)
  @ApiBearerAuth('bearer')
  @ApiErrors('ollama', ...DIALECT_COMPLETION_ERRORS)
  @ApiOperation({
    operationId: 'ollamaGenerate',
    summary: 'Generate from a prompt (NDJSON stream by default)',
  })
  @ApiBody({ type: OllamaGenerateBody })
  @ApiProduces('application/x-ndjson', 'application/json')
  async generate(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    await this.serve('generate', parseOllamaGenerate(body), principal, req, res);
  }

  @Post('embed')
  @HttpCode(200)
  @ApiBearerAuth('bearer')
  @ApiErrors('ollama', ...DIALECT_COMPLETION_ERRORS)
  @ApiOperation({ operationId: 'ollamaEmbed', summary: 'Embeddings of one or more inputs' })
  @ApiBody({ type: OllamaEmbedBody })
  async embed(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = parseOllamaEmbed(body, false);
    const timer = new OllamaTimer();
    const abort = abortOnDisconnect(req, res);
    const result = await this.completions.embed(request, principal, abort.signal, 'ollama');
    setLimitHeaders(res, result.rateLimit);
    const stats = timer.stats({ inputTokens: result.usage.inputTokens, outputTokens: 0 });
    sendJson(res, {
      model: request.model,
      embeddings: result.embeddings,
      total_duration: stats.total_duration,
      load_duration: 0,
      prompt_eval_count: result.usage.inputTokens,
    });
  }

  @Post('embeddings')
  @HttpCode(200)
  @ApiBearerAuth('bearer')
  @ApiErrors('ollama', ...DIALECT_COMPLETION_ERRORS)
  @ApiOperation({ operationId: 'ollamaEmbeddings', summary: 'Embedding of one prompt (the older endpoint)' })
  async embeddings(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = parseOllamaEmbed(body, true);
    const abort = abortOnDisconnect(req, res);
    const result = await this.completions.embed(request, principal, abort.signal, 'ollama');
    setLimitHeaders(res, result.rateLimit);
    sendJson(res, { embedding: result.embeddings[0] });
  }

  private async serve(
    endpoint: OllamaEndpoint,
    parsed: ParsedOllama,
    principal: Principal,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { request } = parsed;
    if (parsed.loadOnly) {
      // Ollama's "load the model" call: nothing generated, nothing billed.
      await this.find(request.model, principal);
      sendJson(res, ollamaFinal(endpoint, request.model, undefined, 'load', {}));
      return;
    }
    const timer = new OllamaTimer();
    await serveCompletion(
      this.completions,
      {
        source: 'ollama',
        whole: (r) => {
          timer.output();
          return ollamaFinal(endpoint, request.model, r.choices[0], r.finishReason, timer.stats(r.usage));
        },
        stream: () => new OllamaStream(endpoint, request.model, timer),
      },
      request,
      principal,
      req,
      res,
    );
  }

  private async find(name: string, principal: Principal): Promise<ModelInfo> {
    const model = (await this.models.list(principal)).find((m) => m.id === name);
    if (!model)
      throw new ApiError('model_not_found', `model "${name}" not found, try pulling it first`, 'model');
    return model;
  }
}

function details() {
  return {
    parent_model: '',
    format: '',
    family: '',
    families: [],
    parameter_size: '',
    quantization_level: '',
  };
}

/** Ollama's capability names for what the catalogue knows of a model. */
function capabilities(model: ModelInfo): string[] {
  if (model.capabilities.includes('embedding')) return ['embedding'];
  const out = ['completion', 'tools'];
  if (model.capabilities.includes('vision')) out.push('vision');
  return out;
}
