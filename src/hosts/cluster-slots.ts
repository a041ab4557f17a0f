import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import type { HostState } from './host.types';

/**
 * A host's slots as this replica sees them (kept on HostState.load).
 *
 * How max_concurrency holds across replicas without a Redis round trip per request: each replica
 * takes slots from a host in *blocks* (one Lua script: take up to N of what is free), uses them
 * locally, and gives back what it does not need. Redis never records more than max_concurrency
 * slots for a host, so the replicas together never exceed it. The trade-off is the block:
 *
 * - far from full, a block holds spare slots (`spare`: a share of what was free at the last read,
 *   at most 64), so most requests are admitted in memory and only every few pays the round trip;
 * - near full the spare is 0: every request takes its slot in Redis (~0.1–0.3 ms) and every
 *   release gives it back at once, so no replica sits on slots another one needs;
 * - a replica's spare slots go back after IDLE_MS without a take, and at worst a request is
 *   refused by a host whose spare slots another replica holds for that long.
 *
 * Slots belong to a replica id with a heartbeat (a sorted set scored by expiry): the sync tick
 * renews it every `tickMs`, and a replica whose heartbeat lapsed (SIGKILL, partition) loses its
 * slots to the next script that looks at the host, i.e. within HOST_SLOT_LEASE_MS + one tick.
 * The tick also reads every host's count held by others, for the routing policy's load figures.
 */
export interface HostLoad {
  /** Slots this replica holds in Redis for the host; host.inFlight ≤ held while Redis answers. */
  held: number;
  /** Slots the other replicas held at the last answer from Redis. */
  others: number;
  /** Redis calls about this host not yet answered (exact counts are sent only when none are). */
  pending: number;
  /** Slots given back while Redis did not answer: sent with the next sync. */
  owed: number;
  lastTakeAt: number;
}

/**
 * Spare slots a block keeps beyond the requests running, at most (and never more than a share of
 * what is free: near full the block is exact). 64 so that a busy replica far from a host's limit
 * does not release and re-take slots through Redis as its in-flight count swings (the bench's 64
 * connections cost ≈ 60 µs of CPU per request with 8).
 */
const MAX_SPARE = 64;
/** Spare slots with no take for this long are given back by the tick. */
const IDLE_MS = 1000;
/** One command's longest wait for Redis; without an offline queue a lost connection fails at once. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;
/** Where a conversation was served is shared this long (the affinity memory's own horizon). */
const CONVERSATION_TTL_MS = 30 * 60_000;
/** Longest wait for that look-up before routing without it. */
const RECALL_TIMEOUT_MS = 50;

const ACQUIRE = `
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
local now = tonumber(ARGV[4])
local others, mine = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local who, n = fields[i], tonumber(fields[i + 1])
  if who == ARGV[1] then
    mine = n
  else
    local alive = redis.call('ZSCORE', KEYS[2], who)
    if alive and tonumber(alive) >= now then others = others + n else redis.call('HDEL', KEYS[1], who) end
  end
end
local take = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - others - mine)
if take > 0 then mine = redis.call('HINCRBY', KEYS[1], ARGV[1], take) else take = 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {take, others, mine}
`;

const RELEASE = `
local mine = redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
if mine <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return mine
`;

const SYNC = `
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
local out = { redis.call('ZCARD', KEYS[1]) }
for k = 2, #KEYS do
  local mode, value = ARGV[3 + 2 * (k - 1)], tonumber(ARGV[4 + 2 * (k - 1)])
  if mode == 's' then
    if value > 0 then redis.call('HSET', KEYS[k], ARGV[1], value) else redis.call('HDEL', KEYS[k], ARGV[1]) end
  elseif value ~= 0 then
    local mine = redis.call('HINCRBY', KEYS[k], ARGV[1], value)
    if mine <= 0 then redis.call('HDEL', KEYS[k], ARGV[1]) end
  end
  local others = 0
  local fields = redis.call('HGETALL', KEYS[k])
  for i = 1, #fields, 2 do
    if fields[i] ~= ARGV[1] then
      if redis.call('ZSCORE', KEYS[1], fields[i]) then
        others = others + tonumber(fields[i + 1])
      else
        redis.call('HDEL', KEYS[k], fields[i])
      end
    end
  end
  if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('PEXPIRE', KEYS[k], ARGV[4]) end
  out[k] = others
end
return out
`;

type SlotsClient = Redis & {
  hostSlotsAcquire(...args: (string | number)[]): Promise<[number, number, number]>;
  hostSlotsRelease(...args: (string | number)[]): Promise<number>;
  hostSlotsSync(keys: number, ...args: (string | number)[]): Promise<number[]>;
};

/**
 * Host slots shared by every replica through Redis (HOST_SLOT_SCOPE=cluster, the default), or
 * counted per process (`process`, the old behaviour). Redis unreachable: each process keeps to
 * max_concurrency divided by the replicas alive at the last heartbeat read, with a warning.
 */
/** Counts one more request on `host` when it runs fewer than `limit`. */
function claim(host: HostState, limit: number): boolean {
  if (host.inFlight >= limit) return false;
  host.inFlight += 1;
  return true;
}

@Injectable()
export class ClusterSlots implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ClusterSlots.name);
  readonly replicaId = randomUUID();
  private client: SlotsClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private hosts: () => Iterable<HostState> = () => [];
  /** Replicas whose heartbeat was alive at the last sync (this one included). */
  private live = 1;
  private degraded = false;
  private stopped = false;
  readonly tickMs: number;

  constructor(
    private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    this.tickMs = Math.max(50, Math.min(1000, Math.floor(config.hostSlotLeaseMs / 4)));
  }

  get shared(): boolean {
    return this.config.hostSlotScope === 'cluster';
  }

  /** Replicas alive at the last heartbeat read. */
  get liveReplicas(): number {
    return this.live;
  }

  /** True while Redis does not answer (per-process limits apply). */
  get isDegraded(): boolean {
    return this.degraded;
  }

  /** The registry whose hosts the tick keeps in step (HostsService calls it once). */
  track(hosts: () => Iterable<HostState>): void {
    this.hosts = hosts;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.shared) return;
    const client = this.connection();
    // The first decisions must see the other replicas: wait (briefly) for the connection and a sync.
    if (client.status !== 'ready')
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, 2000);
        client.once('ready', done);
      });
    await this.sync();
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.syncing;
    // Give this replica's slots back now rather than after the lease.
    if (this.client && !this.degraded) {
      for (const host of this.hosts()) if (host.load && host.load.held > 0) host.load.held = 0;
      await this.sync().catch(() => undefined);
      await this.client
        .zrem(this.replicasKey(), this.replicaId)
        .then(() => undefined)
        .catch(() => undefined);
    }
  }

  /** This process's limit on a host when slots are not shared (or Redis is down). */
  localLimit(host: HostState): number {
    if (!this.shared) return host.maxConcurrency;
    return Math.max(1, Math.floor(host.maxConcurrency / Math.max(1, this.live)));
  }

  /** Requests running on the host across the cluster, as far as this replica knows. */
  clusterInFlight(host: HostState): number {
    if (!this.shared) return host.inFlight;
    return host.inFlight + (host.load?.others ?? 0);
  }

  /** Whether the host may have a free slot (the choice skips hosts known to be full). */
  hasRoom(host: HostState): boolean {
    if (!this.shared || this.degraded) return host.inFlight < this.localLimit(host);
    const load = host.load;
    if (!load) return host.inFlight < host.maxConcurrency;
    return host.inFlight < load.held || load.others + load.held < host.maxConcurrency;
  }

  /**
   * Takes a slot for one more request on `host` when one is free: true, and host.inFlight counts
   * it already (check and count in one synchronous step, so two requests never get one slot). In
   * memory while this replica's block has a spare slot; else one script.
   */
  take(host: HostState): boolean | Promise<boolean> {
    if (!this.shared || this.degraded) return claim(host, this.localLimit(host));
    const load = this.loadOf(host);
    load.lastTakeAt = Date.now();
    if (claim(host, load.held)) return true;
    return this.reserve(host, load);
  }

  /** After host.inFlight went down by one: spare slots beyond the block's share go back. */
  release(host: HostState): void {
    const load = host.load;
    if (!this.shared || !load) return;
    const surplus = load.held - host.inFlight;
    const give = surplus - this.spare(host, load);
    if (give > 0) this.giveBack(host, load, give);
  }

  private async reserve(host: HostState, load: HostLoad): Promise<boolean> {
    // A reply can land while other requests wait on the same host: loop until one is ours.
    while (!claim(host, load.held)) {
      const want = 1 + this.spare(host, load);
      load.pending++;
      let taken: number;
      try {
        const [take, others] = await this.connection().hostSlotsAcquire(
          this.hostKey(host),
          this.replicasKey(),
          this.replicaId,
          want,
          host.maxConcurrency,
          Date.now(),
          Date.now() + this.config.hostSlotLeaseMs,
          this.keyTtlMs(),
        );
        taken = Number(take);
        load.others = Number(others);
        load.held += taken;
        this.recovered();
      } catch (error) {
        this.unreachable(error);
        return claim(host, this.localLimit(host));
      } finally {
        load.pending--;
      }
      if (taken === 0) return false;
    }
    return true;
  }

  private giveBack(host: HostState, load: HostLoad, count: number): void {
    load.held -= count;
    if (this.degraded) {
      load.owed += count;
      return;
    }
    load.pending++;
    this.connection()
      .hostSlotsRelease(this.hostKey(host), this.replicaId, count)
      .then(
        () => this.recovered(),
        (error: unknown) => {
          load.owed += count;
          this.unreachable(error);
        },
      )
      .finally(() => load.pending--);
  }

  /** Spare slots a block may keep: a share of what was free at the last read, never more than MAX_SPARE. */
  private spare(host: HostState, load: HostLoad): number {
    const free = host.maxConcurrency - load.others - host.inFlight - 1;
    if (free <= 0) return 0;
    return Math.min(MAX_SPARE, Math.floor(free / (2 * Math.max(1, this.live))));
  }

  /** Where a conversation was served, for the other replicas (fire-and-forget, 30 min). */
  shareConversation(key: number, hostId: string): void {
    if (!this.shared || this.degraded) return;
    this.connection()
      .set(this.conversationKey(key), hostId, 'PX', CONVERSATION_TTL_MS)
      .catch(() => undefined);
  }

  /**
   * Where another replica served a conversation last; undefined when unknown, when Redis fails or
   * does not answer within RECALL_TIMEOUT_MS (a slow Redis must not hold the request).
   */
  async recallConversation(key: number): Promise<string | undefined> {
    if (!this.shared || this.degraded) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), RECALL_TIMEOUT_MS)));
    try {
      const found = this.connection()
        .get(this.conversationKey(key))
        .catch(() => null);
      return (await Promise.race([found, late])) ?? undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One script: heartbeat, idle spares back, counts set or corrected, others' counts read. */
  private async sync(): Promise<void> {
    const hosts = [...this.hosts()];
    const now = Date.now();
    const keys = [this.replicasKey(), ...hosts.map((h) => this.hostKey(h))];
    const args: (string | number)[] = [
      this.replicaId,
      now,
      now + this.config.hostSlotLeaseMs,
      this.keyTtlMs(),
    ];
    const sent: { load: HostLoad; owed: number }[] = [];
    for (const host of hosts) {
      const load = this.loadOf(host);
      // Back from an outage: what runs here is held, whatever Redis thinks.
      if (this.degraded) load.held = Math.max(load.held, host.inFlight);
      if (load.held > host.inFlight && now - load.lastTakeAt > IDLE_MS) load.held = host.inFlight;
      // Nothing in flight about this host: the exact count is safe to set (it heals any drift, a
      // reply lost to a timeout included); otherwise only what is owed is given back.
      if (load.pending === 0) args.push('s', load.held);
      else args.push('d', -load.owed);
      sent.push({ load, owed: load.owed });
      load.owed = 0;
    }
    try {
      const out = await this.connection().hostSlotsSync(keys.length, ...keys, ...args);
      this.live = Math.max(1, Number(out[0]));
      sent.forEach((s, i) => (s.load.others = Number(out[i + 1] ?? 0)));
      this.recovered();
    } catch (error) {
      for (const s of sent) s.load.owed += s.owed;
      this.unreachable(error);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.syncing = this.sync().finally(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  private loadOf(host: HostState): HostLoad {
    host.load ??= { held: 0, others: 0, pending: 0, owed: 0, lastTakeAt: 0 };
    return host.load;
  }

  private unreachable(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(
      `Redis unreachable for host slots (${error instanceof Error ? error.message : String(error)}): ` +
        `each process keeps to max_concurrency / ${this.live} live replica(s) until it answers again`,
    );
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.log('Redis reachable again: host slots are counted across replicas');
  }

  private hostKey(host: HostState): string {
    return `${this.redis.prefix}:slots:${host.id}`;
  }

  private conversationKey(key: number): string {
    return `${this.redis.prefix}:conv:${key}`;
  }

  private replicasKey(): string {
    return `${this.redis.prefix}:slots:replicas`;
  }

  private keyTtlMs(): number {
    return 3 * this.config.hostSlotLeaseMs;
  }

  private connection(): SlotsClient {
    if (this.client) return this.client;
    const client = this.redis.create('client', {
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
    });
    client.defineCommand('hostSlotsAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    client.defineCommand('hostSlotsRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('hostSlotsSync', { lua: SYNC });
    this.client = client as SlotsClient;
    return this.client;
  }
}
