import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = readClockTicks();

function readClockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

/** user + system CPU time of a process so far, in microseconds (/proc/<pid>/stat utime + stime). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS;
}

/** Resident set size now, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Samples the RSS of some processes every `intervalMs` until stopped; reports each one's peak. */
export class RssSampler {
  private readonly peaks = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: number[],
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): Map<number, number> {
    clearInterval(this.timer);
    this.sample();
    return this.peaks;
  }

  private sample(): void {
    for (const pid of this.pids) {
      try {
        this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, rssBytes(pid)));
      } catch {
        // The process is gone; its last peak stands.
      }
    }
  }
}

/** CPU so far of the processes still alive; a process that ended counts as 0 on both ends. */
function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuMicros(pid));
    } catch {
      // Gone (a database backend closed by its pool).
    }
  }
  return out;
}

/** CPU and peak RSS of the processes of one peer over one measured window. */
export class ProcessWindow {
  private readonly cpuStart: Map<number, number>;
  private readonly sampler: RssSampler;

  constructor(private readonly pids: number[]) {
    this.cpuStart = cpuOf(pids);
    this.sampler = new RssSampler(pids);
  }

  finish(): { cpuMicros: number; peakRssBytes: number } {
    const peaks = this.sampler.stop();
    let cpu = 0;
    for (const [pid, end] of cpuOf(this.pids)) cpu += end - (this.cpuStart.get(pid) ?? end);
    const peakRssBytes = [...peaks.values()].reduce((sum, peak) => sum + peak, 0);
    return { cpuMicros: cpu, peakRssBytes };
  }
}

/** CPU of a peer's PostgreSQL backends over a window (empty for peers without a database). */
export class DatabaseWindow {
  private constructor(private readonly window: ProcessWindow | null) {}

  static async open(peer: { databasePids?: () => Promise<number[]> }): Promise<DatabaseWindow> {
    const pids = peer.databasePids ? await peer.databasePids() : [];
    return new DatabaseWindow(pids.length > 0 ? new ProcessWindow(pids) : null);
  }

  finish(requests: number): { pg_cpu_us_per_req?: number } {
    if (!this.window) return {};
    return { pg_cpu_us_per_req: this.window.finish().cpuMicros / Math.max(1, requests) };
  }
}

/** Process ids whose parent is `ppid` (field 4 of /proc/<pid>/stat): a cluster primary's workers. */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}
