import { Injectable } from '@nestjs/common';
import { UpstreamHttp } from './http/upstream-http';
import { OllamaProvider } from './ollama/ollama.provider';
import { OpenAIProvider } from './openai/openai.provider';
import type { CompletionRequest } from '../completions/completion.types';
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

  /** The protocols that can serve `request`, and the parameter the others cannot do. */
  capable(request: CompletionRequest): { kinds: Set<ProviderKind>; refused?: string } {
    const kinds = new Set<ProviderKind>();
    let refused: string | undefined;
    for (const adapter of Object.values(this.adapters)) {
      const param = adapter.unsupported(request);
      if (param === undefined) kinds.add(adapter.kind);
      else refused ??= param;
    }
    return refused === undefined ? { kinds } : { kinds, refused };
  }
}
