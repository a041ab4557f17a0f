/** The OpenAI-compatible wire format (https://platform.openai.com/docs/api-reference), fields we use. */
export type OpenAIContentPart =
  { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface OpenAIMessage {
  role: string;
  content: string | OpenAIContentPart[] | null;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
}

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A streamed piece of a tool call: id, type and name come with the first piece of each call. */
export interface OpenAIToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens?: number;
  total_tokens?: number;
}

/** A `chat.completion.chunk` or streamed `text_completion` event. */
export interface OpenAIStreamChunk {
  id?: string;
  object?: string;
  choices?:
    | {
        index: number;
        delta?: { role?: string; content?: string | null; tool_calls?: OpenAIToolCallDelta[] | null };
        text?: string;
        logprobs?: unknown;
        finish_reason?: string | null;
      }[]
    | null;
  usage?: OpenAIUsage | null;
  error?: { message?: string };
}

/** A non-streamed chat.completion or text_completion. */
export interface OpenAICompletion {
  choices?: {
    index: number;
    message?: { role?: string; content?: string | null; tool_calls?: OpenAIToolCall[] | null };
    text?: string;
    logprobs?: unknown;
    finish_reason?: string | null;
  }[];
  usage?: OpenAIUsage | null;
}

export interface OpenAIEmbeddingList {
  data?: { index: number; embedding: number[] }[];
  usage?: OpenAIUsage;
}

export interface OpenAIModelList {
  data?: { id: string }[];
}
