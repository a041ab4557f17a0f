import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { AppConfig } from '../config/app-config';
import type { ProviderHost, ProviderKind } from '../providers/provider.types';
import { ProvidersService } from '../providers/providers.service';
import { toUpstreamError, UpstreamError } from '../providers/upstream-error';
import {
  applyCheckFailure,
  applyCheckSuccess,
  applyLiveFailure,
  applyLiveSuccess,
  isUsable,
  redactKey,
  servedModels,
  serves,
} from './host-rules';
import { ClusterSlots } from './cluster-slots';
import type { EngineSignals } from './engine-signals';
import type { HostInput, HostPatch, HostState, HostView } from './host.types';
import { normalizeBaseUrl, parseHostsEnv } from './hosts-env';
import { HostConfigRow, HostsRepository } from './hosts.repository';
import { HostRouter } from './routing-policy';
import type { AbortLike } from '../common/abort';

/** Unchanged health is still written this often, so last_check in the table stays roughly current. */
const HEALTH_PERSIST_MS = 60_000;
/** Reads of the table per reload while local changes keep overtaking them (then the round skips it). */
const RELOAD_TRIES = 5;
/** A host that exposed no engine signals is asked again after this many rounds (not every round). */
const SIGNALS_RETRY_ROUNDS = 12;

/** A slot taken on a host; `release` is idempotent. */
export interface HostLease {
  host: HostState;
  release(): void;
}

/**
 * The GPU host registry. The database holds configuration; this process holds the live state
 * (health, in-flight counts) in memory so choosing a host never queries the database. A health
 * loop reloads the table (other replicas' changes) and checks every host's listing endpoint.
 */
@Injectable()
export class HostsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HostsService.name);
  private readonly hosts = new Map<string, HostState>();
  /** The check running per host id, and the object it checks (a check is shared only by that object). */
  private readonly checks = new Map<string, { host: HostState; check: Promise<void> }>();
  /** What was last stored per host, to skip unchanged writes. */
  private readonly saved = new Map<string, { signature: string; at: number }>();
  private readonly stopping = new AbortController();
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  /** Creates, updates and removes done by this process so far (see reload). */
  private changes = 0;
  /** Rounds to skip before asking a host without engine signals again. */
  private readonly signalsSkip = new Map<string, number>();
  /** Called when a slot is given back here (the dispatcher's wait queue listens). */
  private onRelease: () => void = () => undefined;
  readonly router: HostRouter;

  constructor(
    private readonly config: AppConfig,
    private readonly repository: HostsRepository,
    private readonly providers: ProvidersService,
    private readonly slots: ClusterSlots,
  ) {
    this.router = new HostRouter(config.routingPolicy, slots);
    slots.track(() => this.hosts.values());
  }

  /** `listener` runs after every slot release of this process. */
  onSlotReleased(listener: () => void): void {
    this.onRelease = listener;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bootstrapFromEnv();
    await this.reload();
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.round;
    await Promise.allSettled([...this.checks.values()].map((c) => c.check));
  }

  list(): HostView[] {
    return [...this.hosts.values()].map((h) => this.view(h));
  }

  get(id: string): HostView {
    return this.view(this.require(id));
  }

  async create(input: HostInput): Promise<HostView> {
    const host = await this.repository.insert(toConfigRow(input));
    if (!host) throw new ApiError('conflict', 'A host with this name or base_url exists');
    this.changes++;
    // A health round may have read the new row already (and be checking it): keep that object.
    const registered = this.merge(host);
    this.logger.log(`Host ${registered.name} (${registered.provider} ${registered.baseUrl}) registered`);
    void this.checkHost(registered);
    return this.view(registered);
  }

  async update(id: string, patch: HostPatch): Promise<HostView> {
    this.require(id);
    const config = toConfigPatch(patch);
    if (await this.repository.taken(id, config.name, config.base_url))
      throw new ApiError('conflict', 'A host with this name or base_url exists');
    const updated = await this.repository.update(id, config);
    if (!updated) throw new ApiError('not_found', 'Host not found');
    this.changes++;
    const host = this.merge(updated);
    if (patch.base_url !== undefined || patch.provider !== undefined || patch.api_key !== undefined)
      void this.checkHost(host);
    return this.view(host);
  }

  async remove(id: string): Promise<void> {
    this.require(id);
    await this.repository.delete(id);
    this.changes++;
    this.hosts.delete(id);
    this.signalsSkip.delete(id);
  }

  /** Models served by at least one usable host (see host-rules.ts), from memory. */
  servedModels(): string[] {
    const now = Date.now();
    const models = new Set<string>();
    for (const host of this.hosts.values())
      if (isUsable(host, now)) servedModels(host).forEach((m) => models.add(m));
    return [...models].sort();
  }

  /** Enabled, non-draining hosts whose last check or answer succeeded (readiness). */
  healthyCount(): number {
    const now = Date.now();
    return [...this.hosts.values()].filter((h) => h.status !== 'unknown' && isUsable(h, now)).length;
  }

  /**
   * Per model: how many hosts serve it and how many of those are healthy (enabled, not draining,
   * checked and answering). From memory; /health/hosts and the metrics read it.
   */
  modelHealth(): { model: string; hosts: number; healthy: number }[] {
    const now = Date.now();
    const byModel = new Map<string, { hosts: number; healthy: number }>();
    for (const host of this.hosts.values()) {
      const healthy = host.status !== 'unknown' && isUsable(host, now);
      for (const model of servedModels(host)) {
        const entry = byModel.get(model) ?? { hosts: 0, healthy: 0 };
        entry.hosts += 1;
        if (healthy) entry.healthy += 1;
        byModel.set(model, entry);
      }
    }
    return [...byModel.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([model, n]) => ({ model, ...n }));
  }

  /** One health round: reload the table, check every host (tests call it instead of waiting). */
  async checkAll(): Promise<void> {
    await this.reload();
    await Promise.all([...this.hosts.values()].map((h) => this.checkHost(h)));
  }

  /** The protocols of the usable hosts that serve `model`. */
  providersServing(model: string): Set<ProviderKind> {
    const now = Date.now();
    const kinds = new Set<ProviderKind>();
    for (const host of this.hosts.values())
      if (isUsable(host, now) && serves(host, model)) kinds.add(host.provider);
    return kinds;
  }

  /**
   * Takes a slot on the best host for `model` (ROUTING_POLICY) not in `exclude` (and of one of
   * `providers`, when given), counted across replicas (HOST_SLOT_SCOPE); undefined when none is
   * free. A host found full in Redis is passed over for the next best.
   */
  async acquire(
    model: string,
    exclude: ReadonlySet<string>,
    providers?: ReadonlySet<ProviderKind>,
    affinity?: number,
    coldOk = true,
  ): Promise<HostLease | undefined> {
    const accept = providers && ((h: HostState) => providers.has(h.provider));
    let skip = exclude;
    for (;;) {
      const now = Date.now();
      const query = { model, exclude: skip, now, accept, affinity, coldOk };
      const host = this.router.choose(this.hosts.values(), query);
      if (!host) return undefined;
      const free = this.slots.take(host);
      if (free === true || (free !== false && (await free))) {
        // The engine loads the model for this request: the next choices count it as loaded there
        // (until the next check reads the engine's own list), so a burst does not load it everywhere.
        markLoaded(host, model);
        return this.lease(host, now);
      }
      if (skip === exclude) skip = new Set(exclude);
      (skip as Set<string>).add(host.id);
    }
  }

  /**
   * Whether a usable host serves `model` (of `providers`) outside `exclude`: when acquire found
   * none free, they are all full (the dispatcher may wait for one).
   */
  servedBusy(model: string, exclude: ReadonlySet<string>, providers?: ReadonlySet<ProviderKind>): boolean {
    const now = Date.now();
    for (const host of this.hosts.values())
      if (!exclude.has(host.id) && isUsable(host, now) && serves(host, model))
        if (!providers || providers.has(host.provider)) return true;
    return false;
  }

  /**
   * A request for `model` was answered by `host`: for affinity the conversation `key` is
   * remembered there.
   */
  served(host: HostState, model: string, key: number | undefined): void {
    if (this.router.served(key, host.id, Date.now()) && key !== undefined)
      this.slots.shareConversation(key, host.id);
  }

  /**
   * A multi-turn chat this process has not served: where another replica served it last, from
   * Redis (one GET, only for such requests, with slots shared; a failure is a miss).
   */
  async recallConversation(key: number): Promise<void> {
    if (this.router.knows(key, Date.now())) return;
    const hostId = await this.slots.recallConversation(key);
    if (hostId && this.hosts.has(hostId)) this.router.served(key, hostId, Date.now());
  }

  /** A slot ClusterSlots.take counted in host.inFlight already. */
  private lease(host: HostState, now: number): HostLease {
    host.lastPickedAt = now;
    let released = false;
    return {
      host,
      release: () => {
        if (released) return;
        released = true;
        host.inFlight -= 1;
        this.slots.release(host);
        this.onRelease();
      },
    };
  }

  /** Live traffic failed on `host` before or during an answer. */
  reportFailure(host: HostState, error: UpstreamError, model: string): void {
    const before = host.status;
    applyLiveFailure(
      host,
      error,
      model,
      { threshold: this.config.hostFailThreshold, cooldownMs: this.config.hostCooldownMs },
      Date.now(),
    );
    host.lastError = redactKey(error.message, host.apiKey);
    if (host.status !== before)
      this.logger.warn(`Host ${host.name} is now ${host.status}: ${host.lastError}`);
  }

  reportSuccess(host: HostState): void {
    const before = host.status;
    applyLiveSuccess(host, Date.now());
    if (host.status !== before) this.logger.log(`Host ${host.name} is now ${host.status}`);
  }

  /** What an adapter needs to call the host. */
  target(host: HostState): ProviderHost {
    return {
      id: host.id,
      name: host.name,
      baseUrl: host.baseUrl,
      apiKey: host.apiKey,
      provider: host.provider,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.round = this.checkAll()
        .catch((error: unknown) => this.logger.error(`Host health round failed: ${(error as Error).message}`))
        .finally(() => this.schedule(this.config.hostCheckIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Reloads configuration from the table: added, changed and removed hosts (other replicas). A
   * read that a create, update or remove of this process overtook is read again: applied, it
   * would drop the host just created (or undo the change) until the next round.
   */
  private async reload(): Promise<void> {
    let rows: HostState[] | undefined;
    for (let tries = 0; rows === undefined; tries++) {
      if (tries === RELOAD_TRIES) return;
      const changes = this.changes;
      const read = await this.repository.loadAll();
      if (changes === this.changes) rows = read;
    }
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      this.merge(row);
    }
    for (const id of this.hosts.keys()) if (!seen.has(id)) this.hosts.delete(id);
    for (const id of this.saved.keys()) if (!seen.has(id)) this.saved.delete(id);
  }

  /** Takes a row's configuration; keeps this process's health and load for a known host. */
  private merge(row: HostState): HostState {
    const known = this.hosts.get(row.id);
    if (!known) {
      this.hosts.set(row.id, row);
      return row;
    }
    Object.assign(known, {
      name: row.name,
      baseUrl: row.baseUrl,
      provider: row.provider,
      apiKey: row.apiKey,
      enabled: row.enabled,
      draining: row.draining,
      weight: row.weight,
      maxConcurrency: row.maxConcurrency,
      labels: row.labels,
      models: row.models,
      updatedAt: row.updatedAt,
    });
    return known;
  }

  /** Checks one host (listing endpoints only); a check already running for that object is shared. */
  private checkHost(host: HostState): Promise<void> {
    const running = this.checks.get(host.id);
    if (running?.host === host) return running.check;
    const check = this.runCheck(host).finally(() => {
      if (this.checks.get(host.id)?.check === check) this.checks.delete(host.id);
    });
    this.checks.set(host.id, { host, check });
    return check;
  }

  private async runCheck(host: HostState): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const before = host.status;
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.checkTimeoutMs())]);
    try {
      const models = await this.providers.get(host.provider).listModels(this.target(host), signal);
      applyCheckSuccess(host, models, Date.now());
      await this.readSignals(host, signal);
    } catch (error) {
      if (this.stopping.signal.aborted) return;
      const upstream = toUpstreamError(error);
      applyCheckFailure(
        host,
        redactKey(upstream.message, host.apiKey),
        this.config.hostFailThreshold,
        Date.now(),
      );
    }
    if (host.status !== before) {
      const why = host.status === 'unhealthy' ? `: ${host.lastError}` : '';
      this.logger.log(`Host ${host.name} is now ${host.status}${why}`);
    }
    if (this.hosts.get(host.id) === host && !this.stopping.signal.aborted) await this.persist(host);
  }

  /**
   * The engine's load report (Ollama /api/ps, vLLM or llama.cpp /metrics, llama.cpp /slots), in
   * the health round only. A host that has none is asked again every SIGNALS_RETRY_ROUNDS rounds;
   * a failed read keeps no stale figures but does not fail the check (the listing answered).
   */
  private async readSignals(host: HostState, signal: AbortLike): Promise<void> {
    const skip = this.signalsSkip.get(host.id) ?? 0;
    if (skip > 0) {
      this.signalsSkip.set(host.id, skip - 1);
      return;
    }
    let signals: EngineSignals | undefined;
    try {
      signals = await this.providers.get(host.provider).readSignals(this.target(host), signal);
    } catch {
      host.signals = undefined;
      return;
    }
    host.signals = signals;
    if (!signals) this.signalsSkip.set(host.id, SIGNALS_RETRY_ROUNDS);
  }

  /** Stores health when it changed, else at most once a minute (last_check): one UPDATE, not one per round. */
  private async persist(host: HostState): Promise<void> {
    const signature = JSON.stringify([
      host.status,
      host.consecutiveFailures,
      host.lastError,
      host.discovered,
    ]);
    const saved = this.saved.get(host.id);
    if (saved && saved.signature === signature && Date.now() - saved.at < HEALTH_PERSIST_MS) return;
    try {
      await this.repository.saveHealth(host);
      this.saved.set(host.id, { signature, at: Date.now() });
    } catch (error) {
      this.logger.warn(`Could not store the health of host ${host.name}: ${(error as Error).message}`);
    }
  }

  /** A listing call should answer fast: bounded by twice the connect timeout, not the first-byte one. */
  private checkTimeoutMs(): number {
    return Math.max(1000, 2 * this.config.hostConnectTimeoutMs);
  }

  private async bootstrapFromEnv(): Promise<void> {
    const entries = parseHostsEnv(this.config.hosts);
    if (entries.length === 0) return;
    const existing = new Set((await this.repository.loadAll()).map((h) => h.baseUrl));
    for (const entry of entries) {
      if (existing.has(entry.baseUrl)) continue;
      const name = `${entry.provider}-${new URL(entry.baseUrl).host}`;
      // Another replica may insert it first: the unique base_url keeps this idempotent.
      await this.repository.insert(toConfigRow({ name, base_url: entry.baseUrl, provider: entry.provider }));
    }
  }

  private require(id: string): HostState {
    const host = this.hosts.get(id);
    if (!host) throw new ApiError('not_found', 'Host not found');
    return host;
  }

  private view(host: HostState): HostView {
    return {
      id: host.id,
      name: host.name,
      base_url: host.baseUrl,
      provider: host.provider,
      has_api_key: host.apiKey !== null && host.apiKey !== '',
      enabled: host.enabled,
      draining: host.draining,
      weight: host.weight,
      max_concurrency: host.maxConcurrency,
      labels: host.labels,
      models: host.models,
      status: host.status,
      consecutive_failures: host.consecutiveFailures,
      cooldown_until: host.cooldownUntil === null ? null : new Date(host.cooldownUntil).toISOString(),
      last_check: host.lastCheckAt?.toISOString() ?? null,
      last_error: host.lastError,
      discovered_models: host.discovered.map((m) => ({ name: m.name, warm: m.warm ?? false })),
      in_flight: host.inFlight,
      cluster_in_flight: this.slots.clusterInFlight(host),
      engine: host.signals ?? null,
      created_at: host.createdAt.toISOString(),
      updated_at: host.updatedAt.toISOString(),
    };
  }
}

/** Counts `model` as loaded on `host` (engine signals, Ollama's warm flag) from now on. */
function markLoaded(host: HostState, model: string): void {
  const loaded = host.signals?.loaded;
  if (loaded && !loaded.some((m) => m.name === model))
    loaded.push({ name: model, expiresAt: null, sizeVram: null });
  const listed = host.discovered.find((m) => m.name === model);
  if (listed && listed.warm === false) listed.warm = true;
}

function toConfigRow(input: HostInput): HostConfigRow {
  assertSane(input);
  return {
    name: input.name,
    base_url: baseUrlOf(input.base_url),
    provider: input.provider,
    api_key: input.api_key || null,
    enabled: input.enabled ?? true,
    draining: input.draining ?? false,
    weight: input.weight ?? 1,
    max_concurrency: input.max_concurrency ?? 16,
    labels: input.labels ?? {},
    models: input.models ?? [],
  };
}

function toConfigPatch(patch: HostPatch): Partial<HostConfigRow> {
  assertSane(patch);
  return {
    name: patch.name,
    base_url: patch.base_url === undefined ? undefined : baseUrlOf(patch.base_url),
    provider: patch.provider,
    // null or "" removes the key; undefined leaves it.
    api_key: patch.api_key === undefined ? undefined : patch.api_key || null,
    enabled: patch.enabled,
    draining: patch.draining,
    weight: patch.weight,
    max_concurrency: patch.max_concurrency,
    labels: patch.labels,
    models: patch.models,
  };
}

function baseUrlOf(value: string): string {
  try {
    return normalizeBaseUrl(value);
  } catch (error) {
    throw new ApiError('invalid_request', `base_url: ${(error as Error).message}`, 'base_url');
  }
}

/** The table's CHECKs, enforced before SQL for callers that skip the DTO (bootstrap, other services). */
function assertSane(input: HostPatch): void {
  // Only the api key may be cleared with null; the other columns are NOT NULL.
  for (const [field, value] of Object.entries(input))
    if (value === null && field !== 'api_key')
      throw new ApiError('invalid_request', `${field}: must not be null`, field);
  if (input.provider !== undefined && input.provider !== 'ollama' && input.provider !== 'openai')
    throw new ApiError('invalid_request', 'provider: must be ollama or openai', 'provider');
  if (
    input.max_concurrency !== undefined &&
    !(Number.isInteger(input.max_concurrency) && input.max_concurrency > 0)
  )
    throw new ApiError('invalid_request', 'max_concurrency: must be a positive integer', 'max_concurrency');
  if (input.weight !== undefined && !(Number.isInteger(input.weight) && input.weight >= 0))
    throw new ApiError('invalid_request', 'weight: must be a non-negative integer', 'weight');
}
