import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NativeMessage } from '../native/native.dto';

/** Seed 001's parameter table, for the docs (parsing: llmapi-request.ts). */
class LlmApiParameters {
  @ApiPropertyOptional({ minimum: 0, maximum: 2, default: 0 })
  temperature?: number;

  @ApiPropertyOptional({ minimum: 1, default: 2048 })
  max_tokens?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, default: 1 })
  top_p?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2, default: 0 })
  frequency_penalty?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2, default: 0 })
  presence_penalty?: number;

  @ApiPropertyOptional({ default: 0 })
  seed?: number;

  @ApiPropertyOptional({
    description: '{"type":"text"|"json_object"} or {"type":"json_schema","json_schema":{name,schema}}',
  })
  response_format?: object;
}

export class TextModelBody extends LlmApiParameters {
  @ApiProperty({ type: [NativeMessage] })
  messages: NativeMessage[];
}

export class ImageModelForm extends LlmApiParameters {
  @ApiProperty({ type: 'string', format: 'binary' })
  image: unknown;

  @ApiProperty({ example: 'What objects are in this image?' })
  prompt: string;
}

export class LlmApiResponse {
  @ApiProperty({ example: 'The capital of France is Paris.' })
  response: string;
}
