import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Documentation of seed 000's bodies (parsing is native-request.ts: exact seed error texts). */
export class NativeMessage {
  @ApiProperty({ enum: ['user', 'assistant', 'system'] })
  role: string;

  @ApiProperty()
  content: string;
}

export class NativeCompletionBody {
  @ApiProperty({ type: [NativeMessage] })
  messages: NativeMessage[];

  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiProperty({ minimum: 1, example: 100 })
  max_tokens: number;

  @ApiPropertyOptional({ default: 0.7, minimum: 0, maximum: 2 })
  temperature?: number;

  @ApiPropertyOptional({ default: 2048, minimum: 1 })
  num_context?: number;

  @ApiPropertyOptional({ default: false })
  stream?: boolean;
}

export class NativeCompletionResponse {
  @ApiProperty({ example: true })
  success: boolean;

  @ApiProperty({ example: 'The meaning of life varies from person to person...' })
  response: string;
}

export class NativeErrorResponse {
  @ApiProperty({ example: false })
  success: boolean;

  @ApiProperty({ example: 'Invalid request' })
  message: string;
}
