/** Reads an OpenAI chat completion stream (SSE `data:` lines) into text deltas and the usage. */

export interface StreamUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface StreamEvents {
  onDelta(text: string): void;
  onUsage(usage: StreamUsage): void;
}

/** Feeds one decoded piece of the stream; returns what is left of an unfinished line. */
export function feedSse(
  buffer: string,
  chunk: string,
  events: StreamEvents,
): { rest: string; done: boolean } {
  const lines = (buffer + chunk).split('\n');
  const rest = lines.pop() ?? '';
  let done = false;
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const event = JSON.parse(data) as {
      choices?: { delta?: { content?: string | null } }[];
      usage?: StreamUsage | null;
      error?: { message?: string };
    };
    if (event.error) throw new Error(event.error.message ?? 'The stream failed');
    const text = event.choices?.[0]?.delta?.content;
    if (text) events.onDelta(text);
    if (event.usage) events.onUsage(event.usage);
  }
  return { rest, done };
}

/** Reads a whole streamed answer from `body`. */
export async function readChatStream(body: ReadableStream<Uint8Array>, events: StreamEvents): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest = feedSse(rest, decoder.decode(value, { stream: true }), events).rest;
  }
  rest += decoder.decode();
  if (rest) feedSse(rest, '\n', events);
}
