import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** The owner is `userId` (a plain uuid column: no relation decorators on this stack). */
@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'user_id' })
  userId: string;

  @Column('text', { name: 'public_id' })
  publicId: string;

  /** Hex sha256 of the secret part; the secret itself is stored nowhere. */
  @Column('text', { name: 'secret_hash' })
  secretHash: string;

  @Column('text', { nullable: true })
  name: string | null;

  @Column('text', { name: 'ip_whitelist', array: true })
  ipWhitelist: string[];

  @Column('text', { array: true })
  models: string[];

  @Column('integer', { nullable: true })
  rpm: number | null;

  @Column('integer', { nullable: true })
  tpm: number | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
