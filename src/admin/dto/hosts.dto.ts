import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Max,
  MaxLength,
  Min,
  ValidateBy,
} from 'class-validator';
import type { EngineSignals } from '../../hosts/engine-signals';
import type { HostInput, HostLabels, HostStatus, HostView } from '../../hosts/host.types';
import type { ProviderKind } from '../../providers/provider.types';

const PROVIDERS: ProviderKind[] = ['ollama', 'openai'];
const STATUSES: HostStatus[] = ['healthy', 'unhealthy', 'cooldown', 'unknown'];

/** Labels are a flat object of short scalars (GPU model, VRAM, region…). */
const IsLabels = () =>
  ValidateBy({
    name: 'isLabels',
    validator: {
      validate: (value: unknown) =>
        value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        Object.keys(value).length <= 50 &&
        Object.entries(value).every(
          ([k, v]) =>
            k.length <= 100 &&
            (['number', 'boolean'].includes(typeof v) || (typeof v === 'string' && v.length <= 200)),
        ),
      defaultMessage: () => '$property must be an object of at most 50 string, number or boolean values',
    },
  });

// ---- requests ------------------------------------------------------------------------------

export class CreateHostDto implements HostInput {
  @ApiProperty({ example: 'gpu-a100-1', maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;

  @ApiProperty({
    example: 'http://10.0.0.5:11434',
    description: 'http(s) root of the host (for OpenAI-compatible hosts with or without /v1)',
  })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @MaxLength(500)
  base_url!: string;

  @ApiProperty({ enum: PROVIDERS, example: 'ollama' })
  @IsIn(PROVIDERS)
  provider!: ProviderKind;

  @ApiPropertyOptional({
    description: 'Bearer key the host requires; never returned',
    writeOnly: true,
    nullable: true,
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  api_key?: string | null;

  @ApiPropertyOptional({ type: [String], description: 'Models it serves; empty = those it lists itself' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  models?: string[];

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 10000, default: 16 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10000)
  max_concurrency?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 1000,
    default: 1,
    description: 'Preferred among equally loaded hosts',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  weight?: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { gpu: 'A100', vram_gb: 80 } })
  @IsOptional()
  @IsLabels()
  labels?: HostLabels;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ default: false, description: 'Finish running requests, take no new ones' })
  @IsOptional()
  @IsBoolean()
  draining?: boolean;
}

export class UpdateHostDto extends PartialType(CreateHostDto) {}

// ---- responses -----------------------------------------------------------------------------

export class DiscoveredModelResponse {
  @ApiProperty({ example: 'llama3.1' })
  name!: string;

  @ApiProperty({ description: 'Loaded in GPU memory now (Ollama /api/ps)' })
  warm!: boolean;
}

export class LoadedModelResponse {
  @ApiProperty({ example: 'llama3.1:8b' })
  name!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When Ollama unloads it' })
  expiresAt!: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Bytes of it in GPU memory' })
  sizeVram!: number | null;
}

export class EngineSignalsResponse implements EngineSignals {
  @ApiProperty({
    enum: ['ollama-ps', 'vllm-metrics', 'llamacpp-metrics', 'llamacpp-slots'],
    description: 'Where the figures come from: Ollama /api/ps, vLLM or llama.cpp /metrics, llama.cpp /slots',
  })
  source!: EngineSignals['source'];

  @ApiProperty({ format: 'date-time', description: 'When the health loop read them' })
  readAt!: string;

  @ApiPropertyOptional({ type: [LoadedModelResponse], description: 'Models in GPU memory (Ollama)' })
  loaded?: LoadedModelResponse[];

  @ApiPropertyOptional({
    description: 'Requests the engine is running (all clients, not only this platform)',
  })
  running?: number;

  @ApiPropertyOptional({ description: 'Requests queued in the engine (vLLM waiting, llama.cpp deferred)' })
  waiting?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, description: 'KV cache in use (vLLM, llama.cpp), 0–1' })
  kvCacheUsage?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'Parallel slots (llama.cpp /slots)' })
  slots?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'Idle slots (llama.cpp /slots)' })
  idleSlots?: number;
}

export class HostResponse implements HostView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  name!: string;

  @ApiProperty()
  base_url!: string;

  @ApiProperty({ enum: PROVIDERS })
  provider!: ProviderKind;

  @ApiProperty({ description: 'An api key is set (the key itself is never returned)' })
  has_api_key!: boolean;

  @ApiProperty()
  enabled!: boolean;

  @ApiProperty()
  draining!: boolean;

  @ApiProperty({ type: 'integer' })
  weight!: number;

  @ApiProperty({ type: 'integer' })
  max_concurrency!: number;

  @ApiProperty({ type: 'object', additionalProperties: true })
  labels!: HostLabels;

  @ApiProperty({ type: [String], description: 'Configured models (empty = discovered ones)' })
  models!: string[];

  @ApiProperty({ enum: STATUSES })
  status!: HostStatus;

  @ApiProperty({ type: 'integer' })
  consecutive_failures!: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  cooldown_until!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_check!: string | null;

  @ApiProperty({ type: String, nullable: true })
  last_error!: string | null;

  @ApiProperty({ type: [DiscoveredModelResponse] })
  discovered_models!: DiscoveredModelResponse[];

  @ApiProperty({ type: 'integer', description: 'Requests running on it from this replica' })
  in_flight!: number;

  @ApiProperty({
    type: 'integer',
    description:
      "Requests running on it from every replica: this one's exact, the others' as of the last slot sync (HOST_SLOT_SCOPE=cluster; equals in_flight with process)",
  })
  cluster_in_flight!: number;

  @ApiProperty({
    type: EngineSignalsResponse,
    nullable: true,
    description: "The engine's own load report, read by the health loop; null when it exposes none",
  })
  engine!: EngineSignalsResponse | null;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time' })
  updated_at!: string;
}

export class DeletedHostResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: true })
  deleted!: boolean;
}
