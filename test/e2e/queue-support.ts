// Helpers shared by the queue e2e specs (queue*.e2e-spec.ts).
import { randomBytes } from 'node:crypto';
import { HostsService } from '../../src/hosts/hosts.service';
import type { FakeHost } from '../fakes';
import { eventually } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

export const ask = (model: string, content: string, extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'user', content }],
  model,
  max_tokens: 100,
  ...extra,
});

async function call(t: TestApp, method: string, path: string, key: string, body?: unknown, headers = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: key, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export const submit = (t: TestApp, key: string, body: unknown, headers: Record<string, string> = {}) =>
  call(t, 'POST', '/api/v1/qcompletions', key, body, headers);

export const getTask = (t: TestApp, key: string, id: string) =>
  call(t, 'GET', `/api/v1/qcompletions/${id}`, key);

export const cancelTask = (t: TestApp, key: string, id: string) =>
  call(t, 'DELETE', `/api/v1/qcompletions/${id}`, key);

/** Submits and returns the task id, failing loudly on anything but seed 000's success body. */
export async function submitOk(t: TestApp, key: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await submit(t, key, body, headers);
  if (res.status !== 200) throw new Error(`submit answered ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task_id as string;
}

/** Polls the task until its status is one of `statuses`; returns the last body. */
export async function waitForStatus(
  t: TestApp,
  key: string,
  id: string,
  statuses: string[],
  ms = 20000,
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await eventually(async () => {
    last = (await getTask(t, key, id)).body;
    return statuses.includes(last.status as string);
  }, ms);
  return last;
}

/** Completions a fake Ollama host received (health checks excluded). */
export const chatsOf = (host: FakeHost) => host.requests.filter((r) => r.path === '/api/chat').length;

export async function ledgerOf(t: TestApp, requestId: string): Promise<{ kind: string; amount: bigint }[]> {
  const rows = (await t.dataSource.query(
    `SELECT kind, amount::text AS amount FROM credit_ledger WHERE request_id = $1 ORDER BY id`,
    [requestId],
  )) as { kind: string; amount: string }[];
  return rows.map((r) => ({ kind: r.kind, amount: BigInt(r.amount) }));
}

/** Seed 000 pricing: credits = (in × input_rate + out × output_rate) / 0.0001, rates in cents. */
export function credits(rates: [input: number, output: number], inputTokens: number, outputTokens: number) {
  return BigInt(Math.round(inputTokens * rates[0] * 10000) + Math.round(outputTokens * rates[1] * 10000));
}

/**
 * An API replica and worker replicas sharing one Redis prefix (and the run's database).
 * `workers` start with APP_ROLE=worker; more can be added with `addWorker`.
 */
export class QueueCluster {
  readonly prefix = `le-test-q-${randomBytes(4).toString('hex')}`;
  api!: TestApp;
  readonly workers: TestApp[] = [];

  constructor(private readonly env: Record<string, string | undefined> = {}) {}

  async start(workers: number): Promise<this> {
    this.api = await startTestApp(this.envFor('api'));
    for (let i = 0; i < workers; i++) await this.addWorker();
    return this;
  }

  async addWorker(extra: Record<string, string> = {}): Promise<TestApp> {
    const worker = await startTestApp({ ...this.envFor('worker'), ...extra });
    // Hosts registered through another replica are read from the table on the next health round.
    await worker.app.get(HostsService).checkAll();
    this.workers.push(worker);
    return worker;
  }

  async closeWorker(worker: TestApp): Promise<void> {
    this.workers.splice(this.workers.indexOf(worker), 1);
    await worker.close();
  }

  async closeWorkers(): Promise<void> {
    for (const w of [...this.workers]) await this.closeWorker(w);
  }

  async close(): Promise<void> {
    await this.closeWorkers();
    await this.api?.close();
  }

  private envFor(role: string): Record<string, string | undefined> {
    return {
      HOST_CHECK_INTERVAL_MS: '60000',
      QUEUE_BACKOFF_MS: '50',
      QUEUE_MAINTENANCE_INTERVAL_MS: '500',
      ...this.env,
      APP_ROLE: role,
      REDIS_PREFIX: this.prefix,
    };
  }
}
