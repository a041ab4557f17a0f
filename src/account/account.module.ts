import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { BillingModule } from '../billing/billing.module';
import { OwnKeysController } from './own-keys.controller';

/** A user's self-service routes under /api/v1 (who am I, own keys). */
@Module({
  imports: [AuthModule, BillingModule],
  controllers: [OwnKeysController],
})
export class AccountModule {}
