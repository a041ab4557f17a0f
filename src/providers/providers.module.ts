import { Module } from '@nestjs/common';
import { UpstreamHttp } from './http/upstream-http';
import { ProvidersService } from './providers.service';

/** Backend protocol adapters (Ollama, OpenAI-compatible) over one keep-alive HTTP client. */
@Module({
  providers: [UpstreamHttp, ProvidersService],
  exports: [ProvidersService],
})
export class ProvidersModule {}
