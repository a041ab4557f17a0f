import type { CompletionRequest } from '../../src/completions/completion.types';
import { NdjsonParser } from '../../src/providers/http/ndjson';
import { SSE_DONE, SseJsonParser } from '../../src/providers/http/sse';
import { OLLAMA_OPTIONS } from '../../src/providers/ollama/ollama.params';
import { readOllamaError } from '../../src/providers/ollama/ollama.provider';
import { OPENAI_PARAMS } from '../../src/providers/openai/openai.params';
import { contentChunk, readOpenAIError } from '../../src/providers/openai/openai.provider';
import { mapParams } from '../../src/providers/param-table';
import { toUpstreamError, UpstreamError } from '../../src/providers/upstream-error';

const request = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  kind: 'chat',
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  maxTokens: 100,
  stream: true,
  ...over,
});

/** Feeds the parts to a stream parser as a provider does; what each part (and the end) gave. */
function feed<T>(
  parser: { push(part: Buffer | string): T[]; end(): T[] },
  parts: (Buffer | string)[],
): T[][] {
  return [...parts.map((part) => parser.push(part)), parser.end()];
}

describe('parameter tables', () => {
  it('maps Ollama options: num_predict from max_tokens, num_ctx from num_context, clamped', () => {
    const wire = mapParams(
      OLLAMA_OPTIONS,
      request({ maxTokens: 64, numContext: 4096, temperature: 3, topP: 0.9, seed: 7.8, presencePenalty: -5 }),
    );
    expect(wire).toEqual({
      num_predict: 64,
      num_ctx: 4096,
      temperature: 2,
      top_p: 0.9,
      seed: 7,
      presence_penalty: -2,
    });
  });

  it('sends only fields that are set (or defaulted) to OpenAI-compatible hosts', () => {
    expect(mapParams(OPENAI_PARAMS, request({ maxTokens: 10, frequencyPenalty: 0.5 }))).toEqual({
      max_tokens: 10,
      frequency_penalty: 0.5,
    });
  });
});

describe('stream framing', () => {
  it('reads NDJSON lines split across chunks, including multi-byte characters and a last line without newline', () => {
    const bytes = Buffer.from('{"a":"é"}\n\n{"a":2}\r\n{"a":3}');
    const parts = [bytes.subarray(0, 7), bytes.subarray(7, 12), bytes.subarray(12)];
    expect(feed(new NdjsonParser(), parts)).toEqual([[], [{ a: 'é' }], [{ a: 2 }], [{ a: 3 }]]);
  });

  it('reads SSE data events, skips comments and recognizes [DONE]', () => {
    const text = ': keep-alive\n\ndata: {"n":1}\n\ndata:{"n":2}\r\n\r\nevent: x\ndata: [DONE]\n\n';
    // The first part completes no event, the second all three.
    expect(feed(new SseJsonParser(), [text.slice(0, 20), text.slice(20)])).toEqual([
      [],
      [{ n: 1 }, { n: 2 }, SSE_DONE],
      [],
    ]);
  });

  it('an SSE event the body ended without its blank line is still read', () => {
    expect(feed(new SseJsonParser(), ['data: {"n":1}\n\ndata: {"n"', ':2}'])).toEqual([
      [{ n: 1 }],
      [],
      [{ n: 2 }],
    ]);
  });

  it('a malformed line is a protocol error', () => {
    expect(() => new NdjsonParser().push('{oops}\n')).toThrow(expect.objectContaining({ kind: 'protocol' }));
    expect(() => new SseJsonParser().push('data: {oops}\n\n')).toThrow(
      expect.objectContaining({ kind: 'protocol' }),
    );
  });
});

describe('OpenAI content chunks read without JSON.parse', () => {
  const head =
    '{"id":"chatcmpl-1a2b","object":"chat.completion.chunk","created":1732230000,"model":"llama3.1",';
  const fp = '"system_fingerprint":"fp_44709d6fcb",';
  const body = (content: string) => `"choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},`;
  /** What the provider reads of an event: text, finish reason, usage, error. */
  const reading = (e: unknown) => {
    const c = e as {
      choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
      usage?: unknown;
      error?: unknown;
    };
    const choice = c.choices?.[0];
    return {
      text: choice?.delta?.content,
      finish: choice?.finish_reason ?? null,
      usage: c.usage ?? null,
      error: c.error,
    };
  };
  const fastOnes = [
    head + fp + body('tok1 ') + '"logprobs":null,"finish_reason":null}],"usage":null}',
    head + fp + body('Hello') + '"logprobs":null,"finish_reason":null}]}',
    head + body(' ünï 😀 ') + '"finish_reason":null}]}',
    head + '"system_fingerprint":null,' + body('') + '"logprobs":null,"finish_reason":null}]}',
  ];
  const slowOnes = [
    head + fp + body('line\nbreak') + '"logprobs":null,"finish_reason":null}]}', // escape
    head + fp + body('say "hi"') + '"logprobs":null,"finish_reason":null}]}', // escaped quote
    head +
      fp +
      '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    head + fp + body('x') + '"logprobs":null,"finish_reason":"stop"}]}',
    head +
      fp +
      body('x') +
      '"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":1,"completion_tokens":1}}',
    head + '"usage":{"prompt_tokens":3},' + body('x') + '"finish_reason":null}]}',
    '{"object":"chat.completion.chunk",' + body('x') + '"finish_reason":null}]}',
    head + fp + body('x') + '"logprobs":null,"finish_reason":null}]} ',
    '{"id":"a","object":"chat.completion.chunk","created":01,"model":"m",' +
      body('x') +
      '"finish_reason":null}]}',
    head + fp + '"choices":[{"index":0,"delta":{"content":"tab\there"},"finish_reason":null}]}',
  ];

  it('reads plain text chunks exactly as JSON.parse would', () => {
    for (const data of fastOnes) {
      const fast = contentChunk(data);
      expect(fast).toBeDefined();
      expect(reading(fast)).toEqual(reading(JSON.parse(data)));
    }
  });

  it('leaves every other event (escapes, role, finish, usage, other shapes, invalid JSON) to JSON.parse', () => {
    for (const data of slowOnes) expect(contentChunk(data)).toBeUndefined();
    // A raw control character is invalid JSON: not read here either, so the parse reports it.
    const raw =
      head +
      fp +
      '"choices":[{"index":0,"delta":{"content":"a\u0001b"},"finish_reason":null}]}'.replace(
        '\\u0001',
        '\u0001',
      );
    expect(contentChunk(raw)).toBeUndefined();
  });
});

describe('upstream errors', () => {
  it('classifies network, timeout and abort failures', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toUpstreamError(refused)).toMatchObject({ kind: 'connect', retryable: true });
    const aggregate = new AggregateError([refused], 'all failed');
    expect(toUpstreamError(aggregate).kind).toBe('connect');
    const dropped = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(toUpstreamError(dropped)).toMatchObject({ kind: 'protocol', retryable: true });
    const headers = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(toUpstreamError(headers)).toMatchObject({ kind: 'timeout', retryable: true });
    const controller = new AbortController();
    controller.abort();
    expect(toUpstreamError(refused, controller.signal)).toMatchObject({ kind: 'aborted', retryable: false });
  });

  it('retries 5xx, 429, 404 but not 400', () => {
    expect(new UpstreamError('status', 'x', 500).retryable).toBe(true);
    expect(new UpstreamError('status', 'x', 503).retryable).toBe(true);
    expect(new UpstreamError('status', 'x', 429).retryable).toBe(true);
    expect(new UpstreamError('status', 'x', 404).retryable).toBe(true);
    expect(new UpstreamError('status', 'x', 400).retryable).toBe(false);
  });

  it('reads each backend error body', () => {
    expect(readOllamaError('{"error":"model \\"x\\" not found"}')).toBe('model "x" not found');
    expect(readOpenAIError('{"error":{"message":"bad","type":"invalid_request_error"}}')).toBe('bad');
    expect(readOpenAIError('{"object":"error","message":"vllm says no","code":400}')).toBe('vllm says no');
    expect(readOpenAIError('not json')).toBeUndefined();
  });
});
