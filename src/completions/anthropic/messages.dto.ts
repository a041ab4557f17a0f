import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Documentation of POST /v1/messages; parsing (with Anthropic's error shape) is messages-request.ts. */
export class MessagesBody {
  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiProperty({ minimum: 1, example: 1024, description: 'Required (not for count_tokens)' })
  max_tokens: number;

  @ApiProperty({
    description:
      'Turns of role user / assistant; content a string or blocks: text, image ({"source":{"type":"base64",' +
      '"media_type","data"}}), tool_use ({"id","name","input"}), tool_result ({"tool_use_id","content"})',
    example: [{ role: 'user', content: 'Hello' }],
    type: 'array',
    items: { type: 'object' },
  })
  messages: object[];

  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }] })
  system?: string | object[];

  @ApiPropertyOptional({
    example: [
      {
        name: 'get_weather',
        description: 'The weather now in a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ],
    type: 'array',
    items: { type: 'object' },
  })
  tools?: object[];

  @ApiPropertyOptional({
    description: '{"type": "auto" | "any" | "tool" | "none", "name"?, "disable_parallel_tool_use"?}',
  })
  tool_choice?: object;

  @ApiPropertyOptional({ type: [String] })
  stop_sequences?: string[];

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  temperature?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  top_p?: number;

  @ApiPropertyOptional({ default: false })
  stream?: boolean;
}

export class MessageDoc {
  @ApiProperty({ example: 'msg_01XFDUDYJgAACzvnptvVoYEL' })
  id: string;

  @ApiProperty({ example: 'message' })
  type: string;

  @ApiProperty({ example: 'assistant' })
  role: string;

  @ApiProperty({ example: [{ type: 'text', text: 'Hello!' }], type: 'array', items: { type: 'object' } })
  content: object[];

  @ApiProperty({ enum: ['end_turn', 'max_tokens', 'tool_use'] })
  stop_reason: string;

  @ApiProperty({ example: { input_tokens: 5, output_tokens: 12 } })
  usage: object;
}

export class CountTokensDoc {
  @ApiProperty({ example: 42 })
  input_tokens: number;
}
