import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Documentation of the Ollama-compatible bodies; parsing (with Ollama's error shape) is ollama-api-request.ts. */
export class OllamaChatBody {
  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiProperty({
    example: [{ role: 'user', content: 'Why is the sky blue?' }],
    description: 'role system / user / assistant / tool; content; images (base64); tool_calls; tool_name',
    type: 'array',
    items: { type: 'object' },
  })
  messages: object[];

  @ApiPropertyOptional({ default: true })
  stream?: boolean;

  @ApiPropertyOptional({ description: '"json" or a JSON schema' })
  format?: string | object;

  @ApiPropertyOptional({
    description:
      'num_predict (default 2048 here), temperature, top_p, seed, stop, num_ctx, frequency_penalty, presence_penalty',
    example: { temperature: 0.7, num_predict: 256 },
  })
  options?: object;

  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } })
  tools?: object[];

  @ApiPropertyOptional({ description: 'Accepted; the hosts manage their own model memory' })
  keep_alive?: string | number;
}

export class OllamaGenerateBody {
  @ApiProperty({ example: 'llama3.1' })
  model: string;

  @ApiProperty({ example: 'Why is the sky blue?' })
  prompt: string;

  @ApiPropertyOptional()
  system?: string;

  @ApiPropertyOptional({ type: [String], description: 'base64 images' })
  images?: string[];

  @ApiPropertyOptional({ default: true })
  stream?: boolean;

  @ApiPropertyOptional()
  format?: string | object;

  @ApiPropertyOptional()
  options?: object;
}

export class OllamaEmbedBody {
  @ApiProperty({ example: 'nomic-embed-text' })
  model: string;

  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })
  input: string | string[];
}

export class OllamaShowBody {
  @ApiProperty({ example: 'llama3.1' })
  model: string;
}

export class OllamaTagsDoc {
  @ApiProperty({
    example: [
      { name: 'llama3.1', model: 'llama3.1', modified_at: '2025-01-01T00:00:00Z', size: 0, digest: '' },
    ],
    type: 'array',
    items: { type: 'object' },
  })
  models: object[];
}
