import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { figuresOf, type Figures, type ScenarioResult } from './figures';
import { PEER_NAMES } from './peers';

export interface Machine {
  cpu: string;
  cores: number;
  memory_gb: number;
  node: string;
  os: string;
  load_average_at_start: number[];
  commit: string;
}

export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

export function describeMachine(): Machine {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // Not a git checkout.
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory_gb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    load_average_at_start: loadAverage(),
    commit,
  };
}

export interface BenchReport {
  started_at: string;
  finished_at: string;
  mode: 'quick' | 'full';
  machine: Machine;
  /** Settings changed from the defaults for a what-if run (empty for a normal run). */
  /** Load average when the run ended: other work on the machine shows here (and at start). */
  load_average_at_end: number[];
  what_if: {
    platform_env: Record<string, string>;
    pg_settings: Record<string, string>;
    platform_main?: string;
    platform_node_flags?: string;
  };
  scenarios: ScenarioResult[];
  /** With --profile: the platform's CPU profile under scenario 1. */
  profile?: { file: string; summary: string };
}

const COLUMNS: Array<[string, string]> = [
  ['rps', 'req/s'],
  ['p50_ms', 'p50 ms'],
  ['p99_ms', 'p99 ms'],
  ['cpu_us_per_req', 'CPU µs/req'],
  ['peak_rss_mb', 'peak RSS MB'],
];

/** Figures not in the fixed columns, as "name=value" (TTFB, event loop, queue rates…). */
function extras(figures: Figures): string {
  const fixed = new Set([...COLUMNS.map(([key]) => key), 'ok']);
  return Object.entries(figures)
    .filter(([key]) => !fixed.has(key))
    .map(([key, value]) => `${key}=${format(value)}`)
    .join(', ');
}

function format(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return value.toFixed(value % 1 === 0 ? 0 : 2);
}

/** The results as a Markdown table (also readable as plain text on stdout). */
export function renderTable(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(`| scenario | peer | ${COLUMNS.map(([, label]) => label).join(' | ')} | more |`);
  lines.push(`| --- | --- | ${COLUMNS.map(() => '---:').join(' | ')} | --- |`);
  const scenarios = [...report.scenarios].sort((x, y) => x.id.localeCompare(y.id));
  for (const scenario of scenarios) {
    for (const peer of PEER_NAMES) {
      const value = scenario.peers[peer];
      if (!value) continue;
      const label = `${scenario.id}. ${scenario.title}`;
      if ('unavailable' in value) {
        lines.push(
          `| ${label} | ${peer} | ${COLUMNS.map(() => '').join(' | ')} | unavailable: ${value.unavailable} |`,
        );
        continue;
      }
      const figures = figuresOf(scenario, peer) as Figures;
      lines.push(
        `| ${label} | ${peer} | ${COLUMNS.map(([key]) => format(figures[key])).join(' | ')} | ${extras(figures)} |`,
      );
    }
    for (const [name, figures] of Object.entries(scenario.micro ?? {})) {
      const columns = COLUMNS.map(([key]) => (figures[key] === undefined ? '' : format(figures[key])));
      lines.push(
        `| ${scenario.id}. ${scenario.title} | ${name} | ${columns.join(' | ')} | ${extras(figures)} |`,
      );
    }
    if (scenario.ratio_platform_to_plain !== null || scenario.ratio_platform_to_direct !== null) {
      const portkey = scenario.ratio_platform_to_portkey;
      const ratios =
        `c/b = ${format(scenario.ratio_platform_to_plain ?? undefined)}, c/a = ${format(scenario.ratio_platform_to_direct ?? undefined)}` +
        (portkey === undefined ? '' : `, c/d = ${format(portkey ?? undefined)}`);
      lines.push(
        `| ${scenario.id}. ratios of ${scenario.primary_metric} | ${ratios} | ${COLUMNS.map(() => '').join(' | ')} | |`,
      );
    }
  }
  const targets = scenarios.flatMap((s) => s.targets.map((t) => ({ ...t, id: s.id })));
  if (targets.length > 0) {
    lines.push(
      '',
      '| scenario | issue | target | value | wanted | met |',
      '| --- | --- | --- | ---: | --- | --- |',
    );
    for (const t of targets)
      lines.push(
        `| ${t.id} | ${t.issue ?? ''} | ${t.name} | ${format(t.value)} | ${t.target} | ${t.met ? 'yes' : '**no**'} |`,
      );
  }
  const notes = scenarios.flatMap((s) => s.notes.map((n) => `- ${s.id}: ${n}`));
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}

export function renderMachine(report: BenchReport): string {
  const m = report.machine;
  const changed = Object.entries({
    ...report.what_if.platform_env,
    ...report.what_if.pg_settings,
    ...(report.what_if.platform_main ? { BENCH_PLATFORM_MAIN: report.what_if.platform_main } : {}),
    ...(report.what_if.platform_node_flags !== undefined
      ? { BENCH_PLATFORM_NODE_FLAGS: `'${report.what_if.platform_node_flags}'` }
      : {}),
  });
  const whatIf = changed.length > 0 ? ` What-if: ${changed.map(([k, v]) => `${k}=${v}`).join(', ')}.` : '';
  return (
    `${report.mode} run, ${report.started_at} → ${report.finished_at}, commit ${m.commit}. ` +
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB RAM, ${m.os}, Node ${m.node}; ` +
    `load average at start ${m.load_average_at_start.join(' / ')}, at end ${report.load_average_at_end.join(' / ')} ` +
    '(platform, load generator, host, PostgreSQL and Redis share these cores; anything above ~2 is other work).' +
    whatIf
  );
}

export function writeJson(report: BenchReport): string {
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${report.started_at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the text between the result markers of bench/README.md. */
export function updateReadme(report: BenchReport, file = 'bench/README.md'): boolean {
  if (!existsSync(file)) return false;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  const profile = report.profile
    ? `\n\nCPU profile of the platform (\`--profile\`).\n\n${report.profile.summary}`
    : '';
  const body = `${START}\n${renderMachine(report)}\n\n${renderTable(report)}${profile}\n${END}`;
  writeFileSync(file, text.slice(0, start) + body + text.slice(end + END.length));
  return true;
}
