/**
 * The one internal request/response shape (ARCHITECTURE.md). Every dialect maps its wire format
 * to and from these once; every provider maps these to and from its backend once.
 */
export type MessageRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: MessageRole;
  /** Text content (text parts of a multi-part message joined). */
  content: string;
  /** Images as raw base64 (no `data:` prefix), for vision models. */
  images?: string[];
  /** An assistant turn's calls of the request's tools. */
  toolCalls?: ToolCall[];
  /** A `tool` message: the call it answers. */
  toolCallId?: string;
  /** A `tool` message: the tool's name (Ollama's `tool_name`), when known. */
  toolName?: string;
}

/** A function the model may call: its JSON-schema parameters as the client wrote them. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

/** Whether and which tool the model must call. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** One whole call of a tool; `arguments` is JSON text, as OpenAI's wire carries it. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * A piece of a tool call in a stream, as OpenAI streams them: the first piece of a call carries
 * its `id` and `name`, later pieces append to `arguments`; `index` tells the calls apart.
 */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name?: string; schema: Record<string, unknown>; strict?: boolean };

export interface CompletionRequest {
  /** `chat` uses `messages`; `completion` (legacy text completion) uses `prompt`. */
  kind: 'chat' | 'completion';
  model: string;
  messages: ChatMessage[];
  prompt?: string;
  /** Upper bound of output tokens; also the billing reservation's output size. */
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Context window (Ollama `num_ctx`), from the native API's `num_context`. */
  numContext?: number;
  responseFormat?: ResponseFormat;
  stream: boolean;
  /** End-user id passed through for the backend's logs. */
  user?: string;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  /** Choices to generate (OpenAI-protocol hosts only); default 1. */
  n?: number;
  /** Log probabilities of the output tokens (OpenAI-protocol hosts only). */
  logprobs?: boolean;
  topLogprobs?: number;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'error';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * A piece of output. `text` chunks arrive in order; the last chunk of a successful stream carries
 * `finishReason` and, when the backend reports it, `usage`.
 */
export interface CompletionChunk {
  text?: string;
  toolCalls?: ToolCallDelta[];
  /** The host's log probabilities for this piece (OpenAI's `logprobs` object), relayed as is. */
  logprobs?: unknown;
  /** Which choice this piece belongs to, when the request asked for n > 1 (default 0). */
  choice?: number;
  finishReason?: FinishReason;
  usage?: Usage;
}

/**
 * The chunks one network read of the host's answer completed, in order (never empty). Passing
 * batches rather than single chunks through the provider → dispatcher → handle layers costs a
 * few promise hops per read instead of per token.
 */
export type ChunkBatch = CompletionChunk[];

export interface EmbeddingRequest {
  model: string;
  input: string[];
  user?: string;
}

export interface EmbeddingResult {
  embeddings: number[][];
  usage: { inputTokens: number };
}
