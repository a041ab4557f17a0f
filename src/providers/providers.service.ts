import { Injectable } from '@nestjs/common';
import { UpstreamHttp } from './http/upstream-http';
import { OllamaProvider } from './ollama/ollama.provider';
import { OpenAIProvider } from './openai/openai.provider';
import type { ProviderAdapter, ProviderKind } from './provider.types';

/** The registry of provider adapters: a new backend is a new folder plus one line here. */
@Injectable()
export class ProvidersService {
  private readonly adapters: Record<ProviderKind, ProviderAdapter>;

  constructor(http: UpstreamHttp) {
    this.adapters = { ollama: new OllamaProvider(http), openai: new OpenAIProvider(http) };
  }

  get(kind: ProviderKind): ProviderAdapter {
    return this.adapters[kind];
  }
}
