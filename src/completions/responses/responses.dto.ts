import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Documentation of POST /v1/responses; parsing (with OpenAI's error shape) is responses-request.ts. */
export class ResponsesBody {
  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiProperty({
    description:
      'A string, or items: {"role","content"} messages (content a string or input_text / input_image parts), ' +
      '{"type":"function_call","call_id","name","arguments"}, {"type":"function_call_output","call_id","output"}',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
    example: 'Write a haiku about GPUs.',
  })
  input: string | object[];

  @ApiPropertyOptional({ example: 'You are a helpful assistant.' })
  instructions?: string;

  @ApiPropertyOptional({ minimum: 1, description: 'Default 2048' })
  max_output_tokens?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 2 })
  temperature?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  top_p?: number;

  @ApiPropertyOptional({
    description: 'Function tools: {"type":"function","name","description","parameters","strict"}',
    example: [
      {
        type: 'function',
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ],
  })
  tools?: object[];

  @ApiPropertyOptional({ description: '"auto" | "none" | "required" | {"type":"function","name"}' })
  tool_choice?: string | object;

  @ApiPropertyOptional()
  parallel_tool_calls?: boolean;

  @ApiPropertyOptional({
    description:
      '{"format": {"type":"text"} | {"type":"json_object"} | {"type":"json_schema","name","schema","strict"}}',
  })
  text?: object;

  @ApiPropertyOptional({ default: false })
  stream?: boolean;

  @ApiPropertyOptional({
    description: 'Keep the response for previous_response_id / item_reference / GET',
    default: true,
  })
  store?: boolean;

  @ApiPropertyOptional({ description: 'Continue the conversation of a stored response of this user' })
  previous_response_id?: string;
}

export class ResponseDoc {
  @ApiProperty({ example: 'resp_6f1c…' })
  id: string;

  @ApiProperty({ example: 'response' })
  object: string;

  @ApiProperty({ enum: ['completed', 'incomplete', 'failed'] })
  status: string;

  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiProperty({
    description:
      'Message items ({"type":"message","content":[{"type":"output_text","text"}]}) and function_call items',
    type: 'array',
    items: { type: 'object' },
  })
  output: object[];

  @ApiProperty({ description: 'The text of every output_text part, joined' })
  output_text: string;

  @ApiProperty({ example: { input_tokens: 12, output_tokens: 40, total_tokens: 52 } })
  usage: object;
}
