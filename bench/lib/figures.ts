import type { PeerName } from './peers';
import { mean, round } from './stats';

/** One peer's numbers in one scenario, by metric name (rps, p50_ms, cpu_us_per_req, …). */
export type Figures = Record<string, number>;

export interface TargetCheck {
  name: string;
  /** The issue that set the target (8: the first bench, 19: the raised ratios). */
  issue?: string;
  value: number;
  /** Human form, e.g. "≥ 3000" or "≤ 1 ms". */
  target: string;
  met: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** The metric the ratios compare. */
  primary_metric: string;
  /** Figures per peer, or why the peer could not run it. */
  peers: Partial<Record<PeerName, Figures | { unavailable: string }>>;
  ratio_platform_to_plain: number | null;
  ratio_platform_to_direct: number | null;
  /** c/d: the platform against Portkey's gateway, when it ran the scenario. */
  ratio_platform_to_portkey?: number | null;
  targets: TargetCheck[];
  notes: string[];
  /** In-process measurements that have no peers (scenario 6), by case. */
  micro?: Record<string, Figures>;
}

/** Rounds of one peer into one set of figures: peaks are maxima, counts are sums, the rest means. */
export function combineRounds(rounds: Figures[]): Figures {
  const out: Figures = {};
  const keys = new Set(rounds.flatMap((r) => Object.keys(r)));
  for (const key of keys) {
    const values = rounds.map((r) => r[key]).filter((v): v is number => v !== undefined);
    if (key.startsWith('peak_') || key.startsWith('max_')) out[key] = round(Math.max(...values), 3);
    else if (key === 'ok' || key === 'failed') out[key] = values.reduce((s, v) => s + v, 0);
    else out[key] = round(mean(values), 3);
  }
  return out;
}

export function figuresOf(result: ScenarioResult, peer: PeerName): Figures | undefined {
  const value = result.peers[peer];
  return value && !('unavailable' in value) ? (value as Figures) : undefined;
}

/** c/b, c/a and c/d on the primary metric, once the figures are in. */
export function withRatios(result: ScenarioResult): ScenarioResult {
  const metric = result.primary_metric;
  const platform = figuresOf(result, 'platform')?.[metric];
  const base = (peer: PeerName) => figuresOf(result, peer)?.[metric];
  const ratio = (of: number | undefined) =>
    platform !== undefined && of !== undefined && of !== 0 ? round(platform / of, 3) : null;
  return {
    ...result,
    ratio_platform_to_plain: ratio(base('plain')),
    ratio_platform_to_direct: ratio(base('direct')),
    ratio_platform_to_portkey: ratio(base('portkey')),
  };
}

/** The same checks, marked with the issue that set them. */
export function fromIssue(issue: string, checks: TargetCheck[]): TargetCheck[] {
  return checks.map((c) => ({ ...c, issue }));
}

export function check(
  name: string,
  value: number | undefined,
  op: '>=' | '<=' | '<',
  limit: number,
  unit = '',
): TargetCheck[] {
  if (value === undefined || !Number.isFinite(value)) return [];
  const met = op === '>=' ? value >= limit : op === '<=' ? value <= limit : value < limit;
  const sign = op === '>=' ? '≥' : op === '<=' ? '≤' : '<';
  return [{ name, value: round(value, 3), target: `${sign} ${limit}${unit}`, met }];
}

export const MB = 1024 * 1024;
