import { ApiProperty } from '@nestjs/swagger';
import { ApiKeyResponse, CreatedApiKeyResponse } from '../admin/dto/users.dto';
import { ROLES, type Role } from '../auth/auth.types';

export class MeResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ format: 'uuid' })
  user_id!: string;

  @ApiProperty()
  name!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;

  @ApiProperty({ type: 'string', example: '1000000', description: 'Balance: an integer as a string (exact)' })
  credits!: string;

  @ApiProperty({ type: ApiKeyResponse, description: 'The key of this request' })
  key!: ApiKeyResponse;

  @ApiProperty({ type: 'integer', description: 'Live keys the user may hold (SELF_SERVICE_MAX_KEYS)' })
  max_keys!: number;
}

export class OwnKeysResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ type: [ApiKeyResponse] })
  data!: ApiKeyResponse[];
}

export class OwnKeyResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ type: ApiKeyResponse })
  key!: ApiKeyResponse;
}

export class CreatedOwnKeyResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ type: CreatedApiKeyResponse, description: 'key.key is the plaintext, shown only here' })
  key!: CreatedApiKeyResponse;
}

export class OwnLedgerEntryResponse {
  @ApiProperty()
  id!: string;

  @ApiProperty({ type: 'string', example: '-1200', description: 'Signed credits (integer as a string)' })
  amount!: string;

  @ApiProperty({ enum: ['topup', 'reserve', 'settle', 'refund', 'adjustment'] })
  kind!: string;

  @ApiProperty({ type: String, nullable: true })
  request_id!: string | null;

  @ApiProperty({ type: String, nullable: true })
  reference!: string | null;

  @ApiProperty({ type: 'string', description: 'Balance after this entry (integer as a string)' })
  balance_after!: string;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;
}

export class OwnLedgerPageResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ type: [OwnLedgerEntryResponse] })
  data!: OwnLedgerEntryResponse[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for older entries' })
  next_cursor!: string | null;
}
