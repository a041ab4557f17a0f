import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../src/config/app-config';
import { ClusterSlots } from '../../src/hosts/cluster-slots';
import type { HostState } from '../../src/hosts/host.types';
import type { RedisService } from '../../src/redis/redis.service';

/** A Redis client whose scripts answer what the test says (or fail, as an unreachable Redis does). */
function fakeRedis() {
  const calls: { name: string; args: (string | number)[] }[] = [];
  const state = { down: false, live: 2, others: 0, mine: 0 };
  const fail = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  const client = {
    status: 'ready',
    defineCommand: () => undefined,
    once: () => undefined,
    hostSlotsSync: (...args: (string | number)[]) => {
      calls.push({ name: 'sync', args });
      if (state.down) return fail();
      const hosts = (Number(args[0]) - 1) as number;
      return Promise.resolve([state.live, ...Array.from({ length: hosts }, () => state.others)]);
    },
    hostSlotsAcquire: (...args: (string | number)[]) => {
      calls.push({ name: 'acquire', args });
      if (state.down) return fail();
      const want = Number(args[3]);
      const max = Number(args[4]);
      const take = Math.max(0, Math.min(want, max - state.others - state.mine));
      state.mine += take;
      return Promise.resolve([take, state.others, state.mine]);
    },
    hostSlotsRelease: (...args: (string | number)[]) => {
      calls.push({ name: 'release', args });
      if (state.down) return fail();
      state.mine -= Number(args[2]);
      return Promise.resolve(state.mine);
    },
    zrem: () => Promise.resolve(1),
  };
  const redis = { prefix: 't', create: () => client } as unknown as RedisService;
  return { redis, calls, state };
}

function host(over: Partial<HostState> = {}): HostState {
  return { id: 'h', maxConcurrency: 4, inFlight: 0, ...over } as HostState;
}

const config = { hostSlotScope: 'cluster', hostSlotLeaseMs: 10_000 } as AppConfig;

describe('ClusterSlots', () => {
  let warn: ReturnType<typeof jest.spyOn>;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it('takes slots in blocks: far from full most takes are in memory, near full each is a script', async () => {
    const { redis, calls } = fakeRedis();
    const slots = new ClusterSlots({ ...config } as AppConfig, redis);
    const h = host({ maxConcurrency: 20 });
    slots.track(() => [h]);
    await slots.onApplicationBootstrap();
    for (let i = 0; i < 20; i++) expect(await slots.take(h)).toBe(true);
    expect(h.inFlight).toBe(20);
    const acquires = calls.filter((c) => c.name === 'acquire').length;
    expect(acquires).toBeLessThan(20);
    expect(await slots.take(h)).toBe(false);
    await slots.onModuleDestroy();
  });

  it('Redis down: each process keeps to max_concurrency / live replicas, with one warning', async () => {
    const { redis, state, calls } = fakeRedis();
    const slots = new ClusterSlots(config, redis);
    const h = host();
    slots.track(() => [h]);
    await slots.onApplicationBootstrap(); // the sync reads 2 live replicas
    expect(slots.liveReplicas).toBe(2);
    state.down = true;
    expect(await slots.take(h)).toBe(true); // the script fails: 4 / 2 = 2 here
    expect(slots.isDegraded).toBe(true);
    expect(await slots.take(h)).toBe(true);
    expect(await slots.take(h)).toBe(false);
    expect(h.inFlight).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/max_concurrency \/ 2 live replica/);

    // Back: the next sync sets this replica's exact count (2 running) in Redis.
    state.down = false;
    await (slots as unknown as { sync(): Promise<void> }).sync();
    expect(slots.isDegraded).toBe(false);
    const last = calls.filter((c) => c.name === 'sync').pop()!;
    expect(last.args.slice(-2)).toEqual(['s', 2]);
    await slots.onModuleDestroy();
  });

  it('per process (HOST_SLOT_SCOPE=process): the old limit, no Redis at all', async () => {
    const { redis, calls } = fakeRedis();
    const slots = new ClusterSlots({ ...config, hostSlotScope: 'process' } as AppConfig, redis);
    const h = host();
    await slots.onApplicationBootstrap();
    for (let i = 0; i < 4; i++) expect(slots.take(h)).toBe(true);
    expect(slots.take(h)).toBe(false);
    expect(calls).toHaveLength(0);
  });
});
