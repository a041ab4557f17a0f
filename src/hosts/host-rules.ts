import type { DiscoveredModel } from '../providers/provider.types';
import type { UpstreamError } from '../providers/upstream-error';
import type { HostState } from './host.types';

/**
 * The registry's rules, pure so they are unit-tested:
 * - usable: enabled, not draining, and healthy, or "unknown" (registered, not checked yet: it may
 *   serve at once; its first failure decides), or in a cooldown that has expired;
 * - a host serves its configured `models`, or, when none are configured, the models it reported.
 */
export function isUsable(host: HostState, now: number): boolean {
  if (!host.enabled || host.draining) return false;
  if (host.status === 'healthy' || host.status === 'unknown') return true;
  return host.status === 'cooldown' && (host.cooldownUntil ?? 0) <= now;
}

export function servedModels(host: HostState): string[] {
  return host.models.length > 0 ? host.models : host.discovered.map((m) => m.name);
}

export function serves(host: HostState, model: string): boolean {
  return servedModels(host).includes(model);
}

export function isWarm(host: HostState, model: string): boolean {
  return host.discovered.some((m) => m.name === model && m.warm === true);
}

/** A successful health check: healthy again (an unexpired cooldown stays), models refreshed. */
export function applyCheckSuccess(host: HostState, models: DiscoveredModel[], now: number): void {
  host.discovered = models;
  host.consecutiveFailures = 0;
  host.lastCheckAt = new Date(now);
  if (host.status !== 'cooldown' || (host.cooldownUntil ?? 0) <= now) {
    host.status = 'healthy';
    host.cooldownUntil = null;
  }
}

/**
 * A failed health check: a healthy host turns unhealthy after `threshold` consecutive failures; a
 * host never seen healthy ("unknown") at its first.
 */
export function applyCheckFailure(host: HostState, message: string, threshold: number, now: number): void {
  host.consecutiveFailures += 1;
  host.lastCheckAt = new Date(now);
  host.lastError = message;
  if (host.status === 'unknown' || host.consecutiveFailures >= threshold) host.status = 'unhealthy';
}

/**
 * A failure seen by live traffic: a failed connect takes the host out at once; 429/503 put it in
 * cooldown; a 404 drops the model from its discovered list until the next check; other failures
 * count towards the threshold.
 */
export function applyLiveFailure(
  host: HostState,
  error: UpstreamError,
  model: string,
  limits: { threshold: number; cooldownMs: number },
  now: number,
): void {
  host.lastError = error.message;
  if (error.kind === 'aborted') return;
  if (error.kind === 'connect') {
    host.consecutiveFailures = Math.max(host.consecutiveFailures + 1, limits.threshold);
    host.status = 'unhealthy';
    return;
  }
  if (error.status === 429 || error.status === 503) {
    host.status = 'cooldown';
    host.cooldownUntil = now + limits.cooldownMs;
    return;
  }
  if (error.status === 404) {
    host.discovered = host.discovered.filter((m) => m.name !== model);
    return;
  }
  host.consecutiveFailures += 1;
  if (host.consecutiveFailures >= limits.threshold) host.status = 'unhealthy';
}

/** Live traffic got an answer: the host works. */
export function applyLiveSuccess(host: HostState, now: number): void {
  host.consecutiveFailures = 0;
  if (host.status === 'unknown' || host.status === 'unhealthy') host.status = 'healthy';
  if (host.status === 'cooldown' && (host.cooldownUntil ?? 0) <= now) {
    host.status = 'healthy';
    host.cooldownUntil = null;
  }
}

/** Removes a host's api key from a message (an upstream error may echo it). */
export function redactKey(message: string, apiKey: string | null): string {
  return apiKey ? message.split(apiKey).join('[redacted]') : message;
}
