import { parseArgs } from 'node:util';

/** Durations and sizes of one run; `--quick` shrinks everything to stay under two minutes. */
export interface BenchOptions {
  quick: boolean;
  /** Interleaved rounds of a, b, c per load scenario. */
  rounds: number;
  warmupSeconds: number;
  measureSeconds: number;
  latencySeconds: number;
  ttfbSeconds: number;
  /** Scenario 4. */
  openStreams: number;
  slowTokens: number;
  slowTokenDelayMs: number;
  holdSeconds: number;
  /** Scenario 5. */
  queuedTasks: number;
  /** Submitted and drained before the measured tasks (warm-up). */
  queuedWarmupTasks: number;
  queueWaitSeconds: number;
  /** Scenario ids to run (default all). */
  only: Set<string> | null;
  /** Also run the platform under --cpu-prof for scenarios 1, 3 and 2 and summarise the profile. */
  profile: boolean;
  updateReadme: boolean;
  /** What-if runs: extra platform environment (`--platform-env NAME=value`, repeatable). */
  platformEnv: Record<string, string>;
  /** What-if runs: PostgreSQL settings of the bench database (`--pg-set name=value`, repeatable). */
  pgSettings: Record<string, string>;
}

function pairs(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`${flag} wants NAME=value, got "${item}"`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function readOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'no-readme': { type: 'boolean', default: false },
      'platform-env': { type: 'string', multiple: true },
      'pg-set': { type: 'string', multiple: true },
    },
  });
  const quick = values.quick === true;
  const platformEnv = pairs(values['platform-env'], '--platform-env');
  const pgSettings = pairs(values['pg-set'], '--pg-set');
  return {
    quick,
    rounds: quick ? 1 : 2,
    warmupSeconds: quick ? 1 : 3,
    measureSeconds: quick ? 3 : 10,
    latencySeconds: quick ? 2 : 6,
    ttfbSeconds: quick ? 1 : 3,
    openStreams: quick ? 200 : 1000,
    slowTokens: quick ? 20 : 60,
    slowTokenDelayMs: 250,
    holdSeconds: quick ? 2 : 5,
    queuedTasks: quick ? 200 : 1000,
    queuedWarmupTasks: quick ? 50 : 200,
    queueWaitSeconds: quick ? 30 : 120,
    only: values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null,
    profile: values.profile === true,
    // A what-if run is not "the latest results".
    updateReadme:
      values['no-readme'] !== true &&
      Object.keys({ ...platformEnv, ...pgSettings }).length === 0 &&
      process.env.BENCH_PLATFORM_MAIN === undefined &&
      process.env.BENCH_PLATFORM_NODE_FLAGS === undefined,
    platformEnv,
    pgSettings,
  };
}
