import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import type { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { HoldsService } from '../../src/billing/holds.service';
import { ReservationSweeper } from '../../src/billing/reservation-sweeper';
import { HostWaitQueue } from '../../src/hosts/host-wait-queue';
import { HostsMetrics } from '../../src/hosts/hosts-metrics';
import type { HostsService } from '../../src/hosts/hosts.service';
import { MetricsService } from '../../src/metrics/metrics.service';
import { TrafficMetrics } from '../../src/metrics/traffic-metrics';
import { TASKS_QUEUE } from '../../src/queue/queue.constants';
import { QueueMetrics } from '../../src/queue/queue-metrics';
import { RateLimitService } from '../../src/ratelimit/rate-limit.service';
import { CHART_DIR } from '../support/chart';
import { schemaProblems } from '../support/k8s-schema';

/**
 * deploy/grafana and deploy/prometheus query only series the app exports: the registry below is
 * built from the same classes the app registers its metrics with (and the test checks that no
 * metric declared under src/ is missing from it); queries are parsed with Prometheus' own PromQL
 * grammar (@prometheus-io/lezer-promql).
 */
const root = process.cwd();

function appRegistry(): Registry {
  const metrics = new MetricsService();
  const hosts = { list: () => [], healthyCount: () => 0, modelHealth: () => [] } as unknown as HostsService;
  const queue = { name: 'q', getJobCounts: () => Promise.resolve({}) } as never;
  new TrafficMetrics(metrics);
  new HostsMetrics(metrics, hosts);
  new HostWaitQueue({} as never, metrics);
  new QueueMetrics(metrics, queue, queue);
  new ReservationSweeper({} as never, {} as never, metrics);
  new HoldsService({} as never, {} as never, {} as never, { billingCreditLeases: false } as never, metrics);
  new RateLimitService({} as never, {} as never, metrics);
  return metrics.registry;
}

interface Series {
  labels: Set<string>;
}

/** Every series name a scrape can show (histograms: _bucket, _sum, _count), with its labels. */
async function exportedSeries(registry: Registry): Promise<Map<string, Series>> {
  const out = new Map<string, Series>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const declared = registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] };
    const labels = new Set(declared.labelNames ?? []);
    const suffixes =
      String(metric.type) === 'histogram'
        ? ['_bucket', '_sum', '_count']
        : String(metric.type) === 'summary'
          ? ['', '_sum', '_count']
          : [''];
    for (const suffix of suffixes)
      out.set(metric.name + suffix, { labels: suffix === '_bucket' ? new Set([...labels, 'le']) : labels });
  }
  return out;
}

interface Selector {
  metric: string;
  matchers: string[];
}

/** Parses a PromQL expression (Grafana's $__ variables as durations); fails on a syntax error. */
function selectors(expr: string): Selector[] {
  const query = expr.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$__range/g, '1h');
  const tree = parser.parse(query);
  const found: Selector[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from} in ${query}`);
      if (node.name === 'VectorSelector') {
        const text = query.slice(node.from, node.to);
        const metric = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(text)?.[0] ?? '';
        const matchers = [
          ...text.slice(metric.length).matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g),
        ].map((m) => m[1] as string);
        found.push({ metric, matchers });
      }
    },
  });
  expect(errors).toEqual([]);
  return found;
}

const dashboard = JSON.parse(
  readFileSync(join(root, 'deploy/grafana/llmendpoint-dashboard.json'), 'utf8'),
) as {
  uid: string;
  panels: {
    id: number;
    type: string;
    title: string;
    targets?: { expr: string; datasource: { uid: string } }[];
  }[];
  templating: { list: { name: string; type: string }[] };
};
const rules = parseYaml(readFileSync(join(root, 'deploy/prometheus/llmendpoint-rules.yaml'), 'utf8')) as {
  groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[];
};
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));

describe('metric names the deployment files use', () => {
  let series: Map<string, Series>;
  beforeAll(async () => {
    series = await exportedSeries(appRegistry());
  });

  it('the registry built here holds every metric declared under src/', () => {
    const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    const declared = files.flatMap((f) =>
      [...readFileSync(join(root, 'src', f), 'utf8').matchAll(/name: '(le_[a-z0-9_]+)'/g)].map(
        (m) => m[1] as string,
      ),
    );
    expect(declared.length).toBeGreaterThan(15);
    // Histograms are declared by their base name and scraped as _bucket, _sum and _count.
    const registered = new Set([...series.keys()].map((k) => k.replace(/_(bucket|sum|count)$/, '')));
    for (const name of declared)
      expect([name, series.has(name) || registered.has(name)]).toEqual([name, true]);
  });

  it.each([
    ['the Grafana dashboard', dashboardExprs],
    ['the Prometheus rules', ruleExprs],
  ])('every query of %s parses and names exported series with their labels', (_what, exprs) => {
    expect(exprs.length).toBeGreaterThan(5);
    for (const expr of exprs) {
      const used = selectors(expr);
      expect([expr, used.length > 0]).toEqual([expr, true]);
      for (const { metric, matchers } of used) {
        expect([metric, series.has(metric)]).toEqual([metric, true]);
        for (const label of matchers)
          expect([metric, label, series.get(metric)?.labels.has(label)]).toEqual([metric, label, true]);
      }
    }
  });

  it('the dashboard covers requests, latency, TTFT, tokens, credits, hosts and queue; one datasource variable', () => {
    const used = new Set(dashboardExprs.flatMap((e) => selectors(e).map((s) => s.metric)));
    for (const name of [
      'le_http_requests_total',
      'le_http_request_duration_seconds_bucket',
      'le_time_to_first_token_seconds_bucket',
      'le_tokens_input_total',
      'le_tokens_output_total',
      'le_credits_charged_total',
      'le_hosts_healthy',
      'le_host_state',
      'le_upstream_latency_seconds_bucket',
      'le_queue_jobs',
    ])
      expect([name, used.has(name)]).toEqual([name, true]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toEqual([
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    ]);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      for (const target of panel.targets ?? []) expect(target.datasource.uid).toBe('${datasource}');
  });

  it('the rule file is a valid prometheus-operator rule spec with the four alerts the issue names', async () => {
    expect(
      await schemaProblems({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'llmendpoint' },
        spec: rules,
      }),
    ).toEqual([]);
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'LlmEndpointNoHealthyHostForModel',
        'LlmEndpointReservationSweepRefunding',
        'LlmEndpointQueueBacklog',
        'LlmEndpointHigh5xxRate',
      ]),
    );
    const byName = (name: string) =>
      rules.groups.flatMap((g) => g.rules).find((r) => r.alert === name)?.expr ?? '';
    expect(selectors(byName('LlmEndpointNoHealthyHostForModel')).map((s) => s.metric)).toEqual([
      'le_hosts_healthy',
    ]);
    expect(selectors(byName('LlmEndpointReservationSweepRefunding')).map((s) => s.metric)).toEqual([
      'le_reservation_sweep_refunds_total',
    ]);
    expect(byName('LlmEndpointQueueBacklog')).toContain(`queue="${TASKS_QUEUE}"`);
    expect(byName('LlmEndpointHigh5xxRate')).toMatch(/status=~"5\.\."/);
  });

  it("the worker autoscaler's external metric is the queue depth series, with its labels and the tasks queue", () => {
    const worker = (
      parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as {
        worker: {
          autoscaling: { metricName: string; metricSelector: { matchLabels: Record<string, string> } };
        };
      }
    ).worker.autoscaling;
    const metric = series.get(worker.metricName);
    expect(metric).toBeDefined();
    for (const label of Object.keys(worker.metricSelector.matchLabels))
      expect(metric?.labels.has(label)).toBe(true);
    expect(worker.metricSelector.matchLabels.queue).toBe(TASKS_QUEUE);
    // Bull's getJobCounts() states, which the gauge reports.
    expect(['waiting', 'active', 'delayed', 'completed', 'failed']).toContain(
      worker.metricSelector.matchLabels.state,
    );
  });
});
