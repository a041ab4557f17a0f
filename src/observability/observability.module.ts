import { Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { HostsModule } from '../hosts/hosts.module';
import { HostsService } from '../hosts/hosts.service';
import { startTracing, stopTracing } from './tracing';

/** Starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushes it on shutdown. */
@Injectable()
export class TracingLifecycle implements OnModuleInit, OnApplicationShutdown {
  private started = false;

  constructor(
    private readonly config: AppConfig,
    private readonly hosts: HostsService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.otelEndpoint) return;
    await startTracing({
      endpoint: this.config.otelEndpoint,
      serviceName: this.config.otelServiceName,
      sampleRatio: this.config.otelSampleRatio,
      // server.address of the host call: the host's URL, from the in-memory registry.
      hostUrl: (id) => this.hosts.list().find((h) => h.id === id)?.base_url,
    });
    this.started = true;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.started) await stopTracing();
  }
}

@Module({ imports: [HostsModule], providers: [TracingLifecycle] })
export class ObservabilityModule {}
