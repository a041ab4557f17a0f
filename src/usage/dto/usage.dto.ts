import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { USAGE_GRANULARITIES, USAGE_GROUPS, type UsageGranularity, type UsageGroup } from '../usage.types';

// ---- requests ------------------------------------------------------------------------------

export class AdminUsageQueryDto {
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Start (rounded down to the hour); default 24 h ago',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'End, exclusive; default now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ enum: USAGE_GROUPS, default: 'model' })
  @IsOptional()
  @IsIn(USAGE_GROUPS)
  group_by?: UsageGroup;

  @ApiPropertyOptional({
    enum: USAGE_GRANULARITIES,
    default: 'hour',
    description: 'Bucket size (UTC); a range spans at most 31 days by hour, 366 by day',
  })
  @IsOptional()
  @IsIn(USAGE_GRANULARITIES)
  granularity?: UsageGranularity;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  user_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  key_id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  model?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  host_id?: string;

  @ApiPropertyOptional({
    enum: ['json', 'csv'],
    default: 'json',
    description: 'csv: the series as text/csv (also chosen by Accept: text/csv)',
  })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}

export class UserUsageQueryDto extends OmitType(AdminUsageQueryDto, ['user_id'] as const) {}

export class RequestsQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

// ---- responses -----------------------------------------------------------------------------

export class UsageSumsResponse {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Id of the user / key / host, or the model; null: no key or no host (e.g. refused)',
  })
  group!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'User name, key name or prefix, host name' })
  label!: string | null;

  @ApiProperty({ type: 'integer' })
  requests!: number;

  @ApiProperty({ type: 'integer', description: 'Requests that failed' })
  errors!: number;

  @ApiProperty({ type: 'integer', description: 'Requests the client closed or cancelled' })
  aborted!: number;

  @ApiProperty({ type: 'integer' })
  input_tokens!: number;

  @ApiProperty({ type: 'integer' })
  output_tokens!: number;

  @ApiProperty({
    type: 'string',
    example: '1250',
    description: 'Credits charged: an integer as a string (exact)',
  })
  credits!: string;

  @ApiProperty({ type: 'integer', description: 'Sum of request durations' })
  duration_ms!: number;
}

export class UsagePointResponse extends UsageSumsResponse {
  @ApiProperty({ format: 'date-time', description: 'Start of the hour or UTC day' })
  bucket!: string;
}

export class UsageReportResponse {
  @ApiProperty({ format: 'date-time' })
  from!: string;

  @ApiProperty({ format: 'date-time' })
  to!: string;

  @ApiProperty({ enum: USAGE_GROUPS })
  group_by!: UsageGroup;

  @ApiProperty({ enum: USAGE_GRANULARITIES })
  granularity!: UsageGranularity;

  @ApiProperty({ type: [UsagePointResponse], description: 'Per bucket and group, oldest first' })
  series!: UsagePointResponse[];

  @ApiProperty({ type: [UsageSumsResponse], description: 'Per group over the period, most credits first' })
  totals!: UsageSumsResponse[];
}

export class UserUsageReportResponse extends UsageReportResponse {
  @ApiProperty({ example: true })
  success!: true;
}

export class RequestRecordResponse {
  @ApiProperty()
  id!: string;

  @ApiProperty()
  request_id!: string;

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  key_id!: string | null;

  @ApiProperty()
  model!: string;

  @ApiProperty({ type: String, nullable: true })
  host_name!: string | null;

  @ApiProperty({ example: 'openai' })
  surface!: string;

  @ApiProperty({ enum: ['chat', 'completion', 'embedding'] })
  operation!: string;

  @ApiProperty({ type: 'integer' })
  input_tokens!: number;

  @ApiProperty({ type: 'integer' })
  output_tokens!: number;

  @ApiProperty({ type: 'string', description: 'Credits charged (integer as a string)' })
  credits!: string;

  @ApiProperty({ type: 'integer' })
  duration_ms!: number;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Time to first token' })
  ttft_ms!: number | null;

  @ApiProperty({ enum: ['ok', 'error', 'client_closed', 'cancelled'] })
  status!: string;

  @ApiProperty({ type: String, nullable: true })
  error!: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;
}

export class RequestsPageResponse {
  @ApiProperty({ type: [RequestRecordResponse] })
  data!: RequestRecordResponse[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for older requests' })
  next_cursor!: string | null;
}

export class UserRequestsPageResponse extends RequestsPageResponse {
  @ApiProperty({ example: true })
  success!: true;
}
