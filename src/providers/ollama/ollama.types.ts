/** Ollama's wire format (https://docs.ollama.com/api), only the fields the platform reads or writes. */
export interface OllamaMessage {
  role: string;
  content: string;
  images?: string[];
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
  message?: { role: string; content: string };
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
