import type { DiscoveredModel, ProviderKind } from '../providers/provider.types';
import type { HostLoad } from './cluster-slots';
import type { EngineSignals } from './engine-signals';

export type HostStatus = 'healthy' | 'unhealthy' | 'cooldown' | 'unknown';

export type HostLabels = Record<string, string | number | boolean>;

/** What an admin sets on a host (admin API body, HOSTS bootstrap). */
export interface HostInput {
  name: string;
  base_url: string;
  provider: ProviderKind;
  api_key?: string | null;
  /** Models this host serves; empty = whatever its listing endpoint reports. */
  models?: string[];
  max_concurrency?: number;
  weight?: number;
  labels?: HostLabels;
  enabled?: boolean;
  draining?: boolean;
}

export type HostPatch = Partial<HostInput>;

/** A host as the registry holds it in memory: configuration, health and load. */
export interface HostState {
  id: string;
  name: string;
  baseUrl: string;
  provider: ProviderKind;
  apiKey: string | null;
  enabled: boolean;
  draining: boolean;
  weight: number;
  maxConcurrency: number;
  labels: HostLabels;
  models: string[];
  status: HostStatus;
  consecutiveFailures: number;
  /** Epoch ms; the host takes no traffic before it. */
  cooldownUntil: number | null;
  lastCheckAt: Date | null;
  lastError: string | null;
  discovered: DiscoveredModel[];
  inFlight: number;
  /** Epoch ms of the last time the dispatcher chose it (tie-break: spread idle load). */
  lastPickedAt: number;
  createdAt: Date;
  updatedAt: Date;
  /** Slots shared with other replicas (cluster-slots.ts); absent until first used. */
  load?: HostLoad;
  /** The engine's last load report (health loop); absent when it exposes none. */
  signals?: EngineSignals;
}

/** A host as reads show it (admin API). Never the api key. */
export interface HostView {
  id: string;
  name: string;
  base_url: string;
  provider: ProviderKind;
  has_api_key: boolean;
  enabled: boolean;
  draining: boolean;
  weight: number;
  max_concurrency: number;
  labels: HostLabels;
  models: string[];
  status: HostStatus;
  consecutive_failures: number;
  cooldown_until: string | null;
  last_check: string | null;
  last_error: string | null;
  discovered_models: { name: string; warm: boolean }[];
  in_flight: number;
  /** Requests running on the host from every replica (this one's exact, others' at the last sync). */
  cluster_in_flight: number;
  /** The engine's own report, read by the health loop; null when it exposes none. */
  engine: EngineSignals | null;
  created_at: string;
  updated_at: string;
}
