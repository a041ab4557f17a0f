import { Module } from '@nestjs/common';
import { BillingModule } from '../billing/billing.module';
import { HostsModule } from '../hosts/hosts.module';
import { ModelsService } from './models.service';

@Module({
  imports: [BillingModule, HostsModule],
  providers: [ModelsService],
  exports: [ModelsService],
})
export class ModelsModule {}
