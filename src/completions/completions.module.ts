import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { BillingModule } from '../billing/billing.module';
import { HostsModule } from '../hosts/hosts.module';
import { ModelsModule } from '../models/models.module';
import { RateLimitModule } from '../ratelimit/rate-limit.module';
import { MessagesController } from './anthropic/messages.controller';
import { CompletionsService } from './completions.service';
import { LlmApiController } from './llmapi/llmapi.controller';
import { NativeCompletionsController } from './native/native-completions.controller';
import { OllamaApiController } from './ollama-api/ollama-api.controller';
import { OpenAiController } from './openai/openai.controller';
import { Settlements } from './request-settlement';
import { ResponsesController } from './responses/responses.controller';
import { ResponsesService } from './responses/responses.service';
import { ResponsesStore } from './responses/responses.store';
import { ServerlessController } from './serverless/serverless.controller';
import { UsageRecordService } from './usage-record.service';
import { ChatWebSocketServer } from './ws/chat-websocket.server';

@Module({
  imports: [AuthModule, BillingModule, HostsModule, ModelsModule, RateLimitModule],
  controllers: [
    NativeCompletionsController,
    OpenAiController,
    ResponsesController,
    MessagesController,
    OllamaApiController,
    ServerlessController,
    LlmApiController,
  ],
  providers: [
    CompletionsService,
    Settlements,
    UsageRecordService,
    ChatWebSocketServer,
    ResponsesService,
    ResponsesStore,
  ],
  exports: [CompletionsService],
})
export class CompletionsModule {}
