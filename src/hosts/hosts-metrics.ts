import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import type { HostStatus } from './host.types';
import { HostsService } from './hosts.service';

const STATES: HostStatus[] = ['healthy', 'unhealthy', 'cooldown', 'unknown'];

/** GPU host state, load and healthy hosts per model on /metrics, read from the registry at scrape time. */
@Injectable()
export class HostsMetrics {
  constructor(metrics: MetricsService, hosts: HostsService) {
    const registers = [metrics.registry];
    new Gauge({
      name: 'le_host_state',
      help: '1 for the state each registered GPU host is in (healthy, unhealthy, cooldown, unknown), else 0',
      labelNames: ['host', 'state'],
      registers,
      collect() {
        this.reset();
        for (const host of hosts.list())
          for (const state of STATES) this.set({ host: host.name, state }, host.status === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'le_host_in_flight',
      help: 'Requests this process has running on each GPU host',
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        for (const host of hosts.list()) this.set({ host: host.name }, host.in_flight);
      },
    });
    new Gauge({
      name: 'le_host_cluster_in_flight',
      help: "Requests running on each GPU host from every replica (others' as of the last slot sync)",
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        for (const host of hosts.list()) this.set({ host: host.name }, host.cluster_in_flight);
      },
    });
    new Gauge({
      name: 'le_hosts_healthy',
      help: 'Healthy GPU hosts serving each model',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const m of hosts.modelHealth()) this.set({ model: m.model }, m.healthy);
      },
    });
    new Gauge({
      name: 'le_hosts_healthy_total',
      help: 'Healthy GPU hosts (0: completions cannot be served; readiness does not depend on it)',
      registers,
      collect() {
        this.set(hosts.healthyCount());
      },
    });
  }
}
