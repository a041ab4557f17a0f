import type { EngineSignals } from '../hosts/engine-signals';
import type {
  ChunkBatch,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
} from '../completions/completion.types';
import type { AbortLike } from '../common/abort';

export type ProviderKind = 'ollama' | 'openai';

/** What an adapter needs to know of a GPU host. */
export interface ProviderHost {
  id: string;
  name: string;
  baseUrl: string;
  apiKey?: string | null;
  provider: ProviderKind;
}

export interface DiscoveredModel {
  name: string;
  /** Loaded in GPU memory now (Ollama /api/ps), when the backend says so. */
  warm?: boolean;
}

/**
 * One adapter per backend protocol. Answers are async iterables of chunk batches (one per network
 * read, see ChunkBatch); every call stops its upstream
 * request when `signal` aborts. Failures throw `UpstreamError` (upstream-error.ts).
 */
export interface ProviderAdapter {
  readonly kind: ProviderKind;
  /** The request parameter this backend cannot honour (a 400 names it), or undefined. */
  unsupported(request: CompletionRequest): string | undefined;
  chat(host: ProviderHost, request: CompletionRequest, signal: AbortLike): AsyncIterable<ChunkBatch>;
  complete(host: ProviderHost, request: CompletionRequest, signal: AbortLike): AsyncIterable<ChunkBatch>;
  embed(host: ProviderHost, request: EmbeddingRequest, signal: AbortLike): Promise<EmbeddingResult>;
  listModels(host: ProviderHost, signal: AbortLike): Promise<DiscoveredModel[]>;
  /**
   * The engine's own load report (src/hosts/engine-signals.ts), read by the health loop only;
   * undefined when the host exposes none. Failures throw like any call.
   */
  readSignals(host: ProviderHost, signal: AbortLike): Promise<EngineSignals | undefined>;
}
