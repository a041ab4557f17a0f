import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class NativeMessage {
  @ApiProperty({ enum: ['system', 'user', 'assistant'] })
  role!: string;

  @ApiProperty()
  content!: string;
}

/**
 * Documentation of POST /api/v1/qcompletions. The body is parsed by parseQueuedCompletion, not
 * by the ValidationPipe, so the errors are seed 000's (missing fields vs. invalid request).
 */
export class QueuedCompletionBody {
  @ApiProperty({ type: [NativeMessage] })
  messages!: NativeMessage[];

  @ApiProperty({ example: 'llama3.1' })
  model!: string;

  @ApiProperty({ type: 'integer', minimum: 1, example: 100 })
  max_tokens!: number;

  @ApiPropertyOptional({ default: 0.7 })
  temperature?: number;

  @ApiPropertyOptional({ type: 'integer', default: 2048 })
  num_context?: number;

  @ApiPropertyOptional({
    enum: ['default', 'json'],
    default: 'default',
    description: '"json" asks for JSON output',
  })
  output_format?: 'default' | 'json';

  @ApiPropertyOptional({
    format: 'uri',
    description:
      'POSTed the status body when the task ends, signed: X-LlmEndpoint-Signature: sha256=<HMAC-SHA256 of the raw body with WEBHOOK_SECRET>. Loopback and private addresses are refused.',
  })
  webhook_url?: string;
}
