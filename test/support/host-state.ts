import type { HostState } from '../../src/hosts/host.types';

/** A healthy host of the registry serving model 'm' (warm or not), for the hosts' unit tests. */
export function hostState(id: string, over: Partial<HostState> = {}, warm = false): HostState {
  return {
    id,
    name: id,
    baseUrl: `http://${id}`,
    provider: 'ollama',
    apiKey: null,
    enabled: true,
    draining: false,
    weight: 1,
    maxConcurrency: 4,
    labels: {},
    models: [],
    status: 'healthy',
    consecutiveFailures: 0,
    cooldownUntil: null,
    lastCheckAt: null,
    lastError: null,
    discovered: [{ name: 'm', warm }],
    inFlight: 0,
    lastPickedAt: 0,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...over,
  };
}
