import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

/** Non-negative, plain decimal notation, at most 12 integer digits and 10 decimal places. */
const RATE_PATTERN = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,10})?$/;
const RATE_MESSAGE =
  '$property must be a non-negative decimal with at most 10 decimal places, e.g. "0.015" ' +
  '(send very small rates as strings, not in exponent notation)';

/** A JSON number becomes its shortest decimal text (0.015 → "0.015"); strings pass unchanged. */
const numberToText = ({ value }: { value: unknown }): unknown =>
  typeof value === 'number' ? String(value) : value;

// ---- requests ------------------------------------------------------------------------------

export class TopUpDto {
  @ApiProperty({ type: 'integer', minimum: 1, example: 1_000_000, description: 'Credits to add' })
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  amount!: number;

  @ApiPropertyOptional({ example: 'invoice 2024-117', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reference?: string;
}

export class LedgerQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  cursor?: string;
}

export class SetRateDto {
  @ApiProperty({
    type: 'string',
    example: '0.01',
    description: 'Cents per input token (decimal string or number)',
  })
  @Transform(numberToText)
  @IsString()
  @Matches(RATE_PATTERN, { message: RATE_MESSAGE })
  input_rate!: string;

  @ApiProperty({
    type: 'string',
    example: '0.02',
    description: 'Cents per output token (decimal string or number)',
  })
  @Transform(numberToText)
  @IsString()
  @Matches(RATE_PATTERN, { message: RATE_MESSAGE })
  output_rate!: string;
}

// ---- responses -----------------------------------------------------------------------------

export class TopUpResponse {
  @ApiProperty({ type: 'integer', description: 'Balance after the top-up' })
  credits!: number;

  @ApiProperty({ description: 'Ledger entry id' })
  entry_id!: string;
}

export class LedgerEntryResponse {
  @ApiProperty()
  id!: string;

  @ApiProperty({ type: 'integer', description: 'Signed credits' })
  amount!: number;

  @ApiProperty({ enum: ['topup', 'reserve', 'settle', 'refund', 'adjustment'] })
  kind!: string;

  @ApiProperty({ type: 'string', nullable: true })
  request_id!: string | null;

  @ApiProperty({ type: 'string', nullable: true })
  reference!: string | null;

  @ApiProperty({ type: 'integer' })
  balance_after!: number;

  @ApiProperty({ type: 'string', format: 'date-time' })
  created_at!: string;
}

export class LedgerPageResponse {
  @ApiProperty({ type: [LedgerEntryResponse] })
  data!: LedgerEntryResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as cursor for older entries' })
  next_cursor!: string | null;
}

export class RateResponse {
  @ApiProperty({ example: 'llama3.1' })
  model!: string;

  @ApiProperty({ example: '0.01', description: 'Cents per input token, exact decimal' })
  input_rate!: string;

  @ApiProperty({ example: '0.02', description: 'Cents per output token, exact decimal' })
  output_rate!: string;

  @ApiProperty({ type: 'string', format: 'date-time' })
  updated_at!: string;
}
