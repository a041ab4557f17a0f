import { Module } from '@nestjs/common';
import { BillingModule } from '../billing/billing.module';
import { UsageAdminController } from './usage.admin.controller';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';

/** Usage reports (hourly aggregate) and recent requests, for admins and for each user. */
@Module({
  imports: [BillingModule],
  controllers: [UsageController, UsageAdminController],
  providers: [UsageService],
  exports: [UsageService],
})
export class UsageModule {}
