import { Module } from '@nestjs/common';
import { ProvidersModule } from '../providers/providers.module';
import { ClusterSlots } from './cluster-slots';
import { DispatcherService } from './dispatcher.service';
import { HostWaitQueue } from './host-wait-queue';
import { HostsMetrics } from './hosts-metrics';
import { HostsRepository } from './hosts.repository';
import { HostsService } from './hosts.service';

/** GPU host registry (health loop, model discovery, load) and the dispatcher with failover. */
@Module({
  imports: [ProvidersModule],
  providers: [HostsRepository, ClusterSlots, HostsService, HostWaitQueue, DispatcherService, HostsMetrics],
  exports: [HostsService, DispatcherService],
})
export class HostsModule {}
