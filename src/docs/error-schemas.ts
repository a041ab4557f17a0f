import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NativeErrorResponse } from '../completions/native/native.dto';

/** The error shapes of the API surfaces, one schema each (src/common/api-exception.filter.ts renders them). */
export { NativeErrorResponse };

export class OpenAiErrorBody {
  @ApiProperty({ example: 'Invalid API key' })
  message!: string;

  @ApiProperty({ example: 'invalid_request_error', description: 'OpenAI error type' })
  type!: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: null,
    description: 'The request field at fault',
  })
  param!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'invalid_api_key' })
  code!: string | null;
}

/** OpenAI's error envelope (`/v1`, `/api/v1/ai`). */
export class OpenAiErrorResponse {
  @ApiProperty({ type: OpenAiErrorBody })
  error!: OpenAiErrorBody;
}

/** The admin API's errors (NestJS's usual shape; `error` is the platform's error code). */
export class AdminErrorResponse {
  @ApiProperty({ example: 404 })
  statusCode!: number;

  @ApiProperty({ example: 'User not found' })
  message!: string;

  @ApiProperty({ example: 'not_found', description: 'Error code' })
  error!: string;
}

export class LlmApiValidationItem {
  @ApiProperty({ example: 'value_error' })
  type!: string;

  @ApiProperty({ type: [String], example: ['body', 'prompt'] })
  loc!: string[];

  @ApiProperty({ example: 'prompt is required' })
  msg!: string;
}

/** Seed 001's FastAPI errors: `detail` is a message, or the list of invalid fields (422). */
export class LlmApiErrorResponse {
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      { type: 'array', items: { $ref: '#/components/schemas/LlmApiValidationItem' } },
    ],
    example: 'Invalid API Key',
  })
  detail!: string | LlmApiValidationItem[];
}

export class AnthropicErrorBody {
  @ApiProperty({ example: 'invalid_request_error', description: "Anthropic's error type" })
  type!: string;

  @ApiProperty({ example: "Invalid 'max_tokens': Field required" })
  message!: string;
}

/** Anthropic's error envelope (`/v1/messages`). */
export class AnthropicErrorResponse {
  @ApiProperty({ example: 'error' })
  type!: string;

  @ApiProperty({ type: AnthropicErrorBody })
  error!: AnthropicErrorBody;
}

/** Ollama's errors (`/api/chat`, `/api/tags`, …): one message. */
export class OllamaErrorResponse {
  @ApiProperty({ example: 'model "llama9" not found, try pulling it first' })
  error!: string;
}
