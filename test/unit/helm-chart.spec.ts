import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { helmLint } from '../../deploy/tools/helm';
import {
  CHART_DIR,
  type Container,
  envValue,
  EVERYTHING,
  find,
  podLabels,
  podSpec,
  render,
  VARIANTS,
  workloads,
  type K8sObject,
} from '../support/chart';
import { schemaProblems } from '../support/k8s-schema';

/**
 * deploy/helm/llmendpoint rendered by Helm itself (helm template; the binary comes from npm:
 * deploy/tools/helm-bin) and every object checked against the Kubernetes OpenAPI schemas, strictly.
 */

describe('deploy/helm/llmendpoint', () => {
  const values = parseYaml(
    readFileSync(join(process.cwd(), 'deploy/helm/llmendpoint/values.yaml'), 'utf8'),
  ) as {
    secrets: { existingSecret: string };
  };

  it.each(Object.keys(VARIANTS))('helm lint --strict finds nothing in the %s values', (variant) => {
    expect(helmLint(CHART_DIR, VARIANTS[variant])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('helm refuses to render without the Secret to reference', () => {
    expect(() => render({ secrets: { existingSecret: '' } })).toThrow(/existingSecret/);
  });

  it.each(Object.keys(VARIANTS))(
    'every object of the %s rendering is valid for its Kubernetes schema',
    async (variant) => {
      const objects = render(VARIANTS[variant]);
      expect(objects.length).toBeGreaterThan(3);
      const problems: string[] = [];
      for (const object of objects)
        for (const problem of await schemaProblems(object))
          problems.push(`${object.kind} ${object.metadata.name}${problem}`);
      expect(problems).toEqual([]);
    },
  );

  it('the strict validation catches a misspelled field and a wrong type', async () => {
    const deployment = find(render(), 'Deployment', '-api');
    const broken = JSON.parse(JSON.stringify(deployment)) as K8sObject;
    const container = podSpec(broken).containers[0] as Container & Record<string, unknown>;
    container.readinesProbe = container.readinessProbe;
    (container.ports as { containerPort: unknown }[])[0]!.containerPort = '3000';
    const problems = await schemaProblems(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/containers\/0\/readinesProbe: not a field/),
        expect.stringMatching(/containerPort: type {"type":"integer"}/),
      ]),
    );
  });

  it('renders each kind the issue names, and all optional ones when switched on', () => {
    const kinds = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds(render())).toEqual([
      'ConfigMap/prod-llmendpoint',
      'Deployment/prod-llmendpoint-api',
      'Deployment/prod-llmendpoint-worker',
      'Job/prod-llmendpoint-migrate',
      'NetworkPolicy/prod-llmendpoint-api',
      'NetworkPolicy/prod-llmendpoint-backend',
      'PodDisruptionBudget/prod-llmendpoint-api',
      'PodDisruptionBudget/prod-llmendpoint-worker',
      'Service/prod-llmendpoint',
    ]);
    expect(kinds(render(EVERYTHING))).toEqual(
      expect.arrayContaining([
        'HorizontalPodAutoscaler/prod-llmendpoint-api',
        'HorizontalPodAutoscaler/prod-llmendpoint-worker',
        'Ingress/prod-llmendpoint',
        'ServiceMonitor/prod-llmendpoint',
        'Service/prod-llmendpoint-worker-metrics',
      ]),
    );
  });

  it('roles: the API Deployment runs APP_ROLE=api, the worker APP_ROLE=worker and never migrates', () => {
    const objects = render();
    const api = podSpec(find(objects, 'Deployment', '-api')).containers[0] as Container;
    const worker = podSpec(find(objects, 'Deployment', '-worker')).containers[0] as Container;
    expect(envValue(api, 'APP_ROLE')).toBe('api');
    expect(envValue(worker, 'APP_ROLE')).toBe('worker');
    expect(envValue(worker, 'DB_MIGRATE')).toBe('off');
  });

  it('migrations: a pre-install/pre-upgrade hook Job running the migrate CLI, or (job: false) the API at start', () => {
    const job = find(render(), 'Job', '-migrate');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job.metadata.annotations?.['helm.sh/hook-delete-policy']).toContain('before-hook-creation');
    const container = podSpec(job).containers[0] as Container;
    expect(container.command).toEqual(['node', 'dist/src/cli.js', 'migrate']);
    // That path is src/cli.ts compiled into the image, and `migrate` is one of its commands.
    expect(readFileSync(join(process.cwd(), 'src/cli.ts'), 'utf8')).toMatch(/^ {2}migrate: \{/m);
    expect(readFileSync(join(process.cwd(), 'docker/Dockerfile'), 'utf8')).toContain(
      '/app/dist/src ./dist/src',
    );
    // The hook runs before the chart's ConfigMap exists: nothing may come from it.
    expect(container.envFrom).toBeUndefined();
    expect(container.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['DATABASE_URL']));
    expect(
      envValue(podSpec(find(render(), 'Deployment', '-api')).containers[0] as Container, 'DB_MIGRATE'),
    ).toBe('off');

    const startup = render({ migrations: { job: false } });
    expect(startup.some((o) => o.kind === 'Job')).toBe(false);
    expect(
      envValue(podSpec(find(startup, 'Deployment', '-api')).containers[0] as Container, 'DB_MIGRATE'),
    ).toBe('on');
  });

  it.each([
    [30000, 5],
    [90000, 15],
    [1000, 0],
  ])(
    'grace periods: SHUTDOWN_GRACE_MS %i ms with a %i s preStop fit in terminationGracePeriodSeconds',
    (graceMs, preStop) => {
      const objects = render({
        shutdown: { graceMs },
        api: { preStopSeconds: preStop, drainMs: Math.min(5000, graceMs / 2) },
      });
      const config = find(objects, 'ConfigMap').data as Record<string, string>;
      expect(Number(config.SHUTDOWN_GRACE_MS)).toBe(graceMs);
      const api = podSpec(find(objects, 'Deployment', '-api'));
      const apiContainer = api.containers[0] as Container;
      expect(apiContainer.lifecycle?.preStop?.exec?.command).toEqual(['sleep', String(preStop)]);
      expect((api.terminationGracePeriodSeconds as number) * 1000).toBeGreaterThan(preStop * 1000 + graceMs);
      expect(Number(envValue(apiContainer, 'SHUTDOWN_DRAIN_MS'))).toBeLessThan(graceMs);
      const worker = podSpec(find(objects, 'Deployment', '-worker'));
      expect((worker.terminationGracePeriodSeconds as number) * 1000).toBeGreaterThan(graceMs);
    },
  );

  it('no secret value anywhere: the four secrets come from the existing Secret, which the chart never creates', () => {
    for (const variant of Object.values(VARIANTS)) {
      const objects = render(variant);
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      for (const workload of workloads(objects)) {
        const container = podSpec(workload).containers[0] as Container;
        const fromSecret = (container.env ?? []).filter((e) => e.valueFrom?.secretKeyRef);
        expect(fromSecret.map((e) => e.name).sort()).toEqual([
          'ADMIN_API_KEY',
          'DATABASE_URL',
          'REDIS_URL',
          'WEBHOOK_SECRET',
        ]);
        for (const e of fromSecret) {
          expect(e.valueFrom?.secretKeyRef?.name).toBe(values.secrets.existingSecret);
          expect([e.name, e.valueFrom?.secretKeyRef?.optional ?? false]).toEqual([
            e.name,
            e.name === 'ADMIN_API_KEY' || e.name === 'WEBHOOK_SECRET',
          ]);
        }
        for (const e of container.env ?? [])
          expect([e.name, /postgres:\/\/|redis:\/\/|sk-le-/.test(e.value ?? '')]).toEqual([e.name, false]);
      }
    }
    expect(() => render({ secrets: { existingSecret: '' } })).toThrow(/secrets.existingSecret/);
  });

  it('non-root, read-only root filesystem with an emptyDir for each writable path, resources on every container', () => {
    const dataDir = /ENV .*DATA_DIR=(\S+)/.exec(
      readFileSync(join(process.cwd(), 'docker/Dockerfile'), 'utf8'),
    )?.[1];
    expect(dataDir).toBe('/app/data');
    for (const variant of Object.values(VARIANTS))
      for (const workload of workloads(render(variant))) {
        const pod = podSpec(workload);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
        for (const container of pod.containers) {
          expect(container.securityContext).toMatchObject({
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          });
          expect(container.resources?.requests?.cpu).toBeDefined();
          expect(container.resources?.requests?.memory).toBeDefined();
          expect(container.resources?.limits?.memory).toBeDefined();
          const mounts = container.volumeMounts ?? [];
          expect(mounts.map((m) => m.mountPath).sort()).toEqual([dataDir, '/tmp']);
          for (const mount of mounts)
            expect(pod.volumes?.find((v) => v.name === mount.name)?.emptyDir).toBeDefined();
        }
      }
  });

  it('selectors: each Deployment selects its own pods, the Service and the API PDB the API pods only', () => {
    const objects = render(EVERYTHING);
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    const api = find(objects, 'Deployment', '-api');
    const worker = find(objects, 'Deployment', '-worker');
    for (const d of [api, worker])
      expect(
        matches(
          (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
          podLabels(d),
        ),
      ).toBe(true);
    const service = find(objects, 'Service', 'prod-llmendpoint');
    const selector = (service.spec as { selector: Record<string, string> }).selector;
    expect([matches(selector, podLabels(api)), matches(selector, podLabels(worker))]).toEqual([true, false]);
    const pdb = find(objects, 'PodDisruptionBudget', '-api').spec as {
      selector: { matchLabels: Record<string, string> };
    };
    expect([
      matches(pdb.selector.matchLabels, podLabels(api)),
      matches(pdb.selector.matchLabels, podLabels(worker)),
    ]).toEqual([true, false]);
  });

  it('ingress: routes to the Service port, and its proxy networks become TRUST_PROXY', () => {
    const objects = render(EVERYTHING);
    const ingress = find(objects, 'Ingress').spec as {
      ingressClassName: string;
      rules: { http: { paths: { backend: { service: { name: string; port: { number: number } } } }[] } }[];
    };
    const service = find(objects, 'Service', 'prod-llmendpoint');
    const backend = ingress.rules[0]?.http.paths[0]?.backend.service;
    expect(backend).toEqual({
      name: service.metadata.name,
      port: { number: (service.spec as { ports: { port: number }[] }).ports[0]?.port },
    });
    expect(ingress.ingressClassName).toBe('nginx');
    const api = podSpec(find(objects, 'Deployment', '-api')).containers[0] as Container;
    expect(envValue(api, 'TRUST_PROXY')).toBe('10.42.0.0/16,10.43.0.0/16');
    // Without the chart's Ingress, trustProxy (empty by default: trust no one).
    expect(
      envValue(podSpec(find(render(), 'Deployment', '-api')).containers[0] as Container, 'TRUST_PROXY'),
    ).toBe('');
  });

  it('autoscaling: CPU for the API, the queue-depth external metric for workers; replicas left to the HPA', () => {
    const objects = render(EVERYTHING);
    const apiHpa = find(objects, 'HorizontalPodAutoscaler', '-api').spec as Record<string, unknown>;
    expect(apiHpa.metrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ]);
    const workerHpa = find(objects, 'HorizontalPodAutoscaler', '-worker').spec as {
      scaleTargetRef: { name: string };
      metrics: {
        type: string;
        external: { metric: { name: string; selector: { matchLabels: Record<string, string> } } };
      }[];
    };
    expect(workerHpa.scaleTargetRef.name).toBe('prod-llmendpoint-worker');
    expect(workerHpa.metrics[0]?.external.metric).toEqual({
      name: 'le_queue_jobs',
      selector: { matchLabels: { queue: 'tasks', state: 'waiting' } },
    });
    for (const d of objects.filter((o) => o.kind === 'Deployment'))
      expect((d.spec as { replicas?: number }).replicas).toBeUndefined();
  });

  it('network policy: the API port only from the ingress controller and monitoring; egress to DNS, databases, hosts and extras only', () => {
    const objects = render(EVERYTHING);
    const api = find(objects, 'NetworkPolicy', '-api').spec as {
      podSelector: { matchLabels: Record<string, string> };
      ingress: { from: unknown[]; ports: unknown[] }[];
      egress: { to?: unknown[]; ports: { port: number }[] }[];
    };
    expect(api.podSelector.matchLabels).toEqual(
      expect.objectContaining({ 'app.kubernetes.io/component': 'api', 'app.kubernetes.io/instance': 'prod' }),
    );
    expect(api.ingress).toHaveLength(1);
    expect(api.ingress[0]?.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
    expect(api.egress.map((rule) => rule.ports.map((p) => p.port))).toEqual([
      [53, 53],
      [5432, 6379],
      [11434],
      [4318],
    ]);
    expect(api.egress[1]?.to).toEqual([{ ipBlock: { cidr: '10.9.0.0/16' } }]);
    const backend = find(objects, 'NetworkPolicy', '-backend').spec as { ingress: { from: unknown[] }[] };
    expect(backend.ingress[0]?.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  it('tracing env only when otel.endpoint is set; ServiceMonitor scrapes /metrics of API and workers', () => {
    const names = (objects: K8sObject[]) =>
      (podSpec(find(objects, 'Deployment', '-api')).containers[0] as Container).env?.map((e) => e.name);
    expect(names(render())).not.toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    const objects = render(EVERYTHING);
    const api = podSpec(find(objects, 'Deployment', '-api')).containers[0] as Container;
    expect(envValue(api, 'OTEL_EXPORTER_OTLP_ENDPOINT')).toBe('http://otel-collector.monitoring:4318');
    expect(envValue(api, 'OTEL_SERVICE_NAME')).toBe('llmendpoint-api');
    const monitor = find(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack');
    const spec = monitor.spec as {
      endpoints: { port: string; path: string }[];
      selector: { matchExpressions: { values: string[] }[] };
    };
    expect(spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
    expect(spec.selector.matchExpressions[0]?.values).toEqual(['api', 'worker']);
  });
});
