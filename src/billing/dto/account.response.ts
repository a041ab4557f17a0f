import { ApiProperty } from '@nestjs/swagger';

export class AccountResponse {
  @ApiProperty({ example: true })
  success!: true;

  @ApiProperty({ format: 'uuid' })
  user_id!: string;

  @ApiProperty({ type: 'integer', description: 'Balance in credits' })
  credits!: number;
}
