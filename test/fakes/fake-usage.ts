/**
 * The fakes' token rule, deterministic so tests can assert usage:
 * input tokens = number of whitespace-separated words in all message contents (chat), the prompt
 * (completion) or all inputs (embeddings); output tokens = token chunks emitted.
 */
export function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Text of an OpenAI/Ollama message content: a string or an array of parts (text parts count). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: unknown }) =>
      part?.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join(' ');
}

export function inputTokensOfMessages(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  return messages.reduce(
    (sum: number, m: { content?: unknown }) => sum + countWords(contentText(m?.content)),
    0,
  );
}

export function inputTokensOfText(input: unknown): number {
  if (typeof input === 'string') return countWords(input);
  if (Array.isArray(input)) return input.reduce((sum: number, s: unknown) => sum + inputTokensOfText(s), 0);
  return 0;
}

/** A deterministic embedding of `text` with `dims` values in [-0.5, 0.5). */
export function fakeEmbedding(text: string, dims: number): number[] {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return Array.from({ length: dims }, (_, d) => (((hash + d * 7919) % 1000) - 500) / 1000);
}
