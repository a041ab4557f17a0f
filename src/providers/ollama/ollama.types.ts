/** Ollama's wire format (https://docs.ollama.com/api), only the fields the platform reads or writes. */
export interface OllamaMessage {
  role: string;
  content: string;
  images?: string[];
  tool_calls?: OllamaToolCall[];
  /** A tool result: the tool that produced it. */
  tool_name?: string;
  tool_call_id?: string;
}

/** A whole tool call; `id` only from newer builds, `index` omitted by older ones. */
export interface OllamaToolCall {
  id?: string;
  function: { index?: number; name: string; arguments?: Record<string, unknown> };
}

export interface OllamaTool {
  type: 'function';
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

/** Common to every /api/chat and /api/generate stream line; the final one has `done: true`. */
interface OllamaStreamLine {
  model: string;
  created_at: string;
  done: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  error?: string;
}

export interface OllamaChatLine extends OllamaStreamLine {
  message?: { role: string; content: string; tool_calls?: OllamaToolCall[] };
}

export interface OllamaGenerateLine extends OllamaStreamLine {
  response?: string;
}

export interface OllamaEmbedResponse {
  model: string;
  embeddings: number[][];
  prompt_eval_count?: number;
}

export interface OllamaModelList {
  models?: { name: string; model?: string }[];
}
