import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { ROLES, type Role } from '../../auth/auth.types';
import { IsIpOrCidr } from '../../auth/ip-whitelist.validator';

const MAX_INT = 2147483647;

// ---- requests ------------------------------------------------------------------------------

export class CreateUserDto {
  @ApiProperty({ example: 'Ada', maxLength: 200 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ example: 'ada@example.com', nullable: true })
  @IsOptional()
  @IsEmail()
  email?: string | null;

  @ApiPropertyOptional({ enum: ROLES, default: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @ValidateIf((o: UpdateUserDto) => o.name !== undefined)
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ nullable: true, description: 'null removes the email' })
  @IsOptional()
  @IsEmail()
  email?: string | null;

  @ApiPropertyOptional({ enum: ROLES })
  @ValidateIf((o: UpdateUserDto) => o.role !== undefined)
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ description: 'A disabled user’s keys are refused (within AUTH_CACHE_TTL_MS)' })
  @ValidateIf((o: UpdateUserDto) => o.disabled !== undefined)
  @IsBoolean()
  disabled?: boolean;
}

/** Key settings; on PATCH an absent field is kept and null clears it. */
export class KeySettingsDto {
  @ApiPropertyOptional({ example: 'production', maxLength: 200, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string | null;

  @ApiPropertyOptional({
    type: [String],
    example: ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32'],
    description: 'Exact IPv4/IPv6 addresses or CIDR ranges; empty = any address',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsIpOrCidr({ each: true })
  ip_whitelist?: string[] | null;

  @ApiPropertyOptional({ example: '2030-01-01T00:00:00Z', nullable: true, format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expires_at?: string | null;

  @ApiPropertyOptional({ type: [String], example: ['llama3.1'], description: 'Allowed models; empty = all' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  models?: string[] | null;

  @ApiPropertyOptional({ minimum: 1, nullable: true, description: 'Requests per minute; null = no limit' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_INT)
  rpm?: number | null;

  @ApiPropertyOptional({ minimum: 1, nullable: true, description: 'Tokens per minute; null = no limit' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_INT)
  tpm?: number | null;
}

export class CreateKeyDto extends KeySettingsDto {}

export class UpdateKeyDto extends KeySettingsDto {}

// ---- responses -----------------------------------------------------------------------------

export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ type: String, nullable: true })
  email: string | null;

  @ApiProperty({ enum: ROLES })
  role: Role;

  @ApiProperty()
  disabled: boolean;

  @ApiProperty({ type: 'integer', description: 'Credit balance' })
  credits: number;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;
}

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  user_id: string;

  @ApiProperty({ example: 'sk-le-3kTMd9Qa1bZx', description: 'Identifies the key; not a secret' })
  prefix: string;

  @ApiProperty({ type: String, nullable: true })
  name: string | null;

  @ApiProperty({ type: [String] })
  ip_whitelist: string[];

  @ApiProperty({ type: [String] })
  models: string[];

  @ApiProperty({ type: 'integer', nullable: true })
  rpm: number | null;

  @ApiProperty({ type: 'integer', nullable: true })
  tpm: number | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expires_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revoked_at: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Updated every few seconds',
  })
  last_used_at: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({ description: 'The key itself: shown only in this response, stored nowhere' })
  key: string;
}
