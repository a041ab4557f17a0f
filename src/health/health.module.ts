import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HostsModule } from '../hosts/hosts.module';
import { HealthController } from './health.controller';
import { ShutdownState } from './shutdown-state';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), HostsModule],
  controllers: [HealthController],
  providers: [ShutdownState],
  exports: [ShutdownState],
})
export class HealthModule {}
