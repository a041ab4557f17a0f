import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { BillingModule } from '../billing/billing.module';
import { HostsModule } from '../hosts/hosts.module';
import { BillingAdminController } from './billing.admin.controller';
import { HostsAdminController } from './hosts.admin.controller';
import { UsersAdminController } from './users.admin.controller';

/** The admin API (CONTRACT §4): thin controllers over the auth, billing and hosts services. */
@Module({
  imports: [AuthModule, BillingModule, HostsModule],
  controllers: [UsersAdminController, BillingAdminController, HostsAdminController],
})
export class AdminModule {}
