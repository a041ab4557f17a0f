import { Pool } from 'undici';
import { check, fromIssue, MB, type Figures, type ScenarioResult } from '../lib/figures';
import type { BenchOptions } from '../lib/options';
import type { Peer } from '../lib/peers';
import { ProcessWindow } from '../lib/proc-stats';
import { queuedBody, QUEUE_PATH } from '../lib/requests';
import { sleep } from '../lib/stats';
import { CHUNKS } from './throughput';

const SUBMIT_CONNECTIONS = 16;
const POLL_BATCH = 32;

interface Outcome {
  figures: Figures;
  notes: string[];
}

function unavailable(reason: string): ScenarioResult {
  return {
    id: '5',
    title: 'queued completions, one worker',
    primary_metric: 'completion_rate',
    peers: {
      direct: { unavailable: 'no queue' },
      plain: { unavailable: 'no queue' },
      platform: { unavailable: reason },
      portkey: { unavailable: 'no queue' },
    },
    ratio_platform_to_plain: null,
    ratio_platform_to_direct: null,
    targets: [],
    notes: [],
  };
}

/** Whether the route exists: an empty body gets a validation error, a missing route 404. */
export async function queueRouteExists(peer: Peer): Promise<boolean> {
  const res = await fetch(peer.baseUrl + QUEUE_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...peer.headers },
    body: '{}',
  });
  await res.text();
  return res.status !== 404;
}

async function submitAndDrain(
  peer: Peer,
  workerPid: number,
  options: BenchOptions,
  tasks = options.queuedTasks,
): Promise<Outcome> {
  const pool = new Pool(peer.baseUrl, { connections: SUBMIT_CONNECTIONS + POLL_BATCH, pipelining: 1 });
  const headers = { 'content-type': 'application/json', ...peer.headers };
  const body = queuedBody(CHUNKS);
  const ids: string[] = [];
  let submitFailed = 0;
  let firstError = '';
  const apiWindow = new ProcessWindow(peer.pids);
  const workerWindow = new ProcessWindow([workerPid]);
  const started = Date.now();
  let next = 0;
  const submitter = async () => {
    while (next < tasks) {
      next++;
      const res = await pool.request({ method: 'POST', path: QUEUE_PATH, headers, body });
      const text = await res.body.text();
      const taskId = res.statusCode < 300 ? (JSON.parse(text) as { task_id?: string }).task_id : undefined;
      if (taskId) ids.push(taskId);
      else {
        submitFailed++;
        firstError ||= `${res.statusCode} ${text.slice(0, 200)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: SUBMIT_CONNECTIONS }, submitter));
  const submitMs = Date.now() - started;
  const apiUsage = apiWindow.finish();

  // Tasks finish roughly in submit order: poll the oldest unfinished ones, a batch at a time.
  const pending = [...ids];
  const statuses = new Map<string, number>();
  const deadline = started + options.queueWaitSeconds * 1000;
  while (pending.length > 0 && Date.now() < deadline) {
    const batch = pending.slice(0, POLL_BATCH);
    const states = await Promise.all(
      batch.map(async (id) => {
        const res = await pool.request({ method: 'GET', path: `${QUEUE_PATH}/${id}`, headers: peer.headers });
        return ((await res.body.json()) as { status?: string }).status ?? 'unknown';
      }),
    );
    batch.forEach((id, i) => {
      const status = states[i] as string;
      if (status === 'completed' || status === 'failed' || status === 'cancelled') {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        pending.splice(pending.indexOf(id), 1);
      }
    });
    if (batch.length === states.filter((s) => s === 'completed' || s === 'failed').length) continue;
    await sleep(100);
  }
  const drainMs = Date.now() - started;
  const workerUsage = workerWindow.finish();
  await pool.destroy();
  const completed = statuses.get('completed') ?? 0;
  const notes: string[] = [];
  if (firstError) notes.push(`first failed submit: ${firstError}`);
  if (pending.length > 0)
    notes.push(`${pending.length} tasks still unfinished after ${options.queueWaitSeconds} s`);
  return {
    figures: {
      tasks,
      submit_rate: ids.length / (submitMs / 1000),
      completion_rate: completed / (drainMs / 1000),
      completed,
      failed: (statuses.get('failed') ?? 0) + submitFailed,
      unfinished: pending.length,
      api_cpu_us_per_submit: apiUsage.cpuMicros / Math.max(1, ids.length),
      worker_cpu_us_per_task: workerUsage.cpuMicros / Math.max(1, completed),
      peak_rss_mb: apiUsage.peakRssBytes / MB,
      worker_peak_rss_mb: workerUsage.peakRssBytes / MB,
    },
    notes,
  };
}

/**
 * Scenario 5: after `queuedWarmupTasks` submitted and drained the same way (not measured),
 * submit `queuedTasks` through 16 connections (submit rate), while one worker process
 * drains them (completion rate = completed / time from the first submit to the last completion seen).
 */
export async function queuedCompletions(
  peer: Peer | undefined,
  startWorker: () => Promise<{ pid: number; concurrency: number }>,
  options: BenchOptions,
  log: (l: string) => void,
): Promise<ScenarioResult> {
  if (!peer) return unavailable('platform not running');
  if (!(await queueRouteExists(peer))) return unavailable(`not available: POST ${QUEUE_PATH} answers 404`);
  const worker = await startWorker();
  // Warm-up, as every other measurement has: the submit and worker paths are compiled and the
  // pools filled before the measured tasks; these are drained before the window opens.
  const warm = await submitAndDrain(peer, worker.pid, options, options.queuedWarmupTasks);
  if (warm.figures.unfinished) log(`    warm-up: ${warm.figures.unfinished} tasks unfinished`);
  const outcome = await submitAndDrain(peer, worker.pid, options);
  log(`    platform: ${JSON.stringify(outcome.figures)}`);
  const result = unavailable('');
  result.peers.platform = outcome.figures;
  result.targets = fromIssue('19', [
    ...check('API CPU per submit (µs)', outcome.figures.api_cpu_us_per_submit, '<=', 400, ' µs'),
    ...check('worker CPU per task (µs)', outcome.figures.worker_cpu_us_per_task, '<=', 800, ' µs'),
  ]);
  result.notes = [`one worker process, QUEUE_CONCURRENCY=${worker.concurrency}`, ...outcome.notes];
  return result;
}
