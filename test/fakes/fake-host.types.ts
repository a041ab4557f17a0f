/** How a fake host behaves; `setMode` switches it at run time. */
export type FakeMode = 'ok' | 'refuse' | 'error500' | 'error503' | 'error429' | 'hang' | 'die-mid-stream';

/** A tool call a fake model makes: the tool's name and its arguments (an object). */
export interface FakeToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface FakeHostOptions {
  /**
   * The tool calls the fake model makes for a request that offers tools (`tools` non-empty,
   * `tool_choice` not 'none'); an empty list (or no function) answers with text.
   */
  toolCalls?: (body: Record<string, unknown>) => FakeToolCall[];
  /** Ollama: send tool-call ids as Ollama ≥ 0.12 does (default true); false: as older builds, without. */
  toolCallIds?: boolean;
  /** Models it lists and serves (default ['llama3.1']). */
  models?: string[];
  /** Models reported as loaded (Ollama /api/ps); default: the first model. */
  warm?: string[];
  /** Token chunks per answer (default 5), capped by the request's max_tokens / num_predict. */
  tokens?: number;
  /** Text of token i (default `tok${i} `). */
  text?: (i: number) => string;
  /** Delay before each token (default 0). */
  tokenDelayMs?: number;
  mode?: FakeMode;
  /** In 'die-mid-stream': tokens sent before the socket is destroyed (default 2). */
  dieAfter?: number;
  /** Report token usage (Ollama counts, OpenAI usage objects); default true. */
  reportUsage?: boolean;
  /** Require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Embedding vector size (default 8). */
  embeddingDims?: number;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
}

export interface FakeRequest {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeHost {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Every request received, in order (none while refusing connections). */
  requests: FakeRequest[];
  /** Answers whose socket the client closed before the answer ended. */
  clientClosed: number;
  /** POST requests (completions, embeddings) being answered now, and the most seen at once. */
  active: number;
  peakActive: number;
  setMode(mode: FakeMode, opts?: Partial<FakeHostOptions>): void;
  close(): Promise<void>;
}
