import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Documentation of the OpenAI-compatible bodies; parsing (with OpenAI's error shape) is openai-request.ts. */
export class ChatMessageDoc {
  @ApiProperty({ enum: ['system', 'developer', 'user', 'assistant', 'tool'] })
  role: string;

  @ApiProperty({
    description:
      'A string, or parts: {"type":"text","text"} and {"type":"image_url","image_url":{"url":"data:image/png;base64,…"}}',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
  })
  content: string | object[] | null;

  @ApiPropertyOptional({
    description: 'Assistant messages: the tool calls it made',
    example: [
      {
        id: 'call_abc123',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ],
  })
  tool_calls?: object[];

  @ApiPropertyOptional({ description: 'Tool messages: the id of the call this result answers' })
  tool_call_id?: string;
}

export class FunctionDoc {
  @ApiProperty({ example: 'get_weather', pattern: '^[a-zA-Z0-9_-]{1,64}$' })
  name: string;

  @ApiPropertyOptional({ example: 'The weather now in a city' })
  description?: string;

  @ApiPropertyOptional({
    description: 'JSON schema of the arguments',
    example: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  })
  parameters?: object;

  @ApiPropertyOptional()
  strict?: boolean;
}

export class ToolDoc {
  @ApiProperty({ enum: ['function'] })
  type: 'function';

  @ApiProperty({ type: FunctionDoc })
  function: FunctionDoc;
}

class SamplingDoc {
  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiPropertyOptional({ minimum: 1 })
  max_tokens?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 2 })
  temperature?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  top_p?: number;

  @ApiPropertyOptional({
    description: 'A string or up to 4 strings',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  })
  stop?: string | string[];

  @ApiPropertyOptional()
  seed?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  frequency_penalty?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  presence_penalty?: number;

  @ApiPropertyOptional({ default: false })
  stream?: boolean;

  @ApiPropertyOptional({ example: { include_usage: true } })
  stream_options?: object;

  @ApiPropertyOptional({ description: 'End-user id' })
  user?: string;

  @ApiPropertyOptional({
    description: 'Choices to generate; more than 1 only on models served by OpenAI-protocol hosts',
    default: 1,
  })
  n?: number;
}

export class ChatCompletionBody extends SamplingDoc {
  @ApiProperty({ type: [ChatMessageDoc] })
  messages: ChatMessageDoc[];

  @ApiPropertyOptional({ minimum: 1, description: 'Preferred over max_tokens; default 2048' })
  max_completion_tokens?: number;

  @ApiPropertyOptional({
    description:
      '{"type":"text"} | {"type":"json_object"} | {"type":"json_schema","json_schema":{"name","schema"}}',
  })
  response_format?: object;

  @ApiPropertyOptional({ type: [ToolDoc], maxItems: 128 })
  tools?: ToolDoc[];

  @ApiPropertyOptional({
    description: '"auto" | "none" | "required" | {"type":"function","function":{"name"}}',
    example: 'auto',
  })
  tool_choice?: string | object;

  @ApiPropertyOptional()
  parallel_tool_calls?: boolean;

  @ApiPropertyOptional({ description: 'Log probabilities of the output tokens (OpenAI-protocol hosts)' })
  logprobs?: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 20 })
  top_logprobs?: number;
}

export class TextCompletionBody extends SamplingDoc {
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 1 }] })
  prompt: string | string[];
}

export class EmbeddingBody {
  @ApiProperty({ example: 'nomic-embed-text' })
  model: string;

  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })
  input: string | string[];

  @ApiPropertyOptional({ enum: ['float', 'base64'], default: 'float' })
  encoding_format?: string;
}

export class UsageDoc {
  @ApiProperty()
  prompt_tokens: number;

  @ApiProperty()
  completion_tokens: number;

  @ApiProperty()
  total_tokens: number;
}

export class ChatCompletionResponse {
  @ApiProperty({ example: 'chatcmpl-…' })
  id: string;

  @ApiProperty({ example: 'chat.completion' })
  object: string;

  @ApiProperty()
  created: number;

  @ApiProperty()
  model: string;

  @ApiProperty({ type: 'array', items: { type: 'object' } })
  choices: object[];

  @ApiProperty({ type: UsageDoc })
  usage: UsageDoc;
}

export class EmbeddingResponse {
  @ApiProperty({ example: 'list' })
  object: string;

  @ApiProperty({ type: 'array', items: { type: 'object' } })
  data: object[];

  @ApiProperty()
  model: string;

  @ApiProperty({ example: { prompt_tokens: 8, total_tokens: 8 } })
  usage: object;
}

export class ModelObject {
  @ApiProperty({ example: 'llama3.1' })
  id: string;

  @ApiProperty({ example: 'model' })
  object: string;

  @ApiProperty()
  created: number;

  @ApiProperty({ example: 'llmendpoint' })
  owned_by: string;
}

export class ModelList {
  @ApiProperty({ example: 'list' })
  object: string;

  @ApiProperty({ type: [ModelObject] })
  data: ModelObject[];
}
