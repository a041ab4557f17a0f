import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HostsModule } from '../hosts/hosts.module';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), HostsModule],
  controllers: [HealthController],
})
export class HealthModule {}
