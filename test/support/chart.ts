import { join } from 'node:path';
import { helmTemplate, manifests } from '../../deploy/tools/helm';

/** Shared by the chart's unit tests: deploy/helm/llmendpoint rendered by `helm template`. */
export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

export interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; emptyDir?: object }[];
}

export const CHART_DIR = join(process.cwd(), 'deploy/helm/llmendpoint');
export const RELEASE = { Name: 'prod', Namespace: 'llm' };

/** Everything optional switched on, with the kinds of values operators set. */
export const EVERYTHING = {
  commonLabels: { team: 'ml-platform' },
  serviceAccountName: 'llmendpoint',
  imagePullSecrets: [{ name: 'registry' }],
  image: { repository: 'registry.example.com/llmendpoint', tag: '1.2.3' },
  env: { LOG_LEVEL: 'debug', HOSTS: 'ollama=http://gpu-1:11434', RESERVATION_TIMEOUT_MS: '900000' },
  ingress: {
    enabled: true,
    className: 'nginx',
    annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '600' },
    hosts: [{ host: 'llm.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }],
    tls: [{ secretName: 'llm-tls', hosts: ['llm.example.com'] }],
    proxyCidrs: ['10.42.0.0/16', '10.43.0.0/16'],
  },
  api: {
    autoscaling: { enabled: true, maxReplicas: 20 },
    podAnnotations: { 'example.com/owner': 'ml' },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'llm', effect: 'NoSchedule' }],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'api' } },
            },
          },
        ],
      },
    },
  },
  worker: { autoscaling: { enabled: true }, tolerations: [{ operator: 'Exists' }] },
  metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } },
  otel: { endpoint: 'http://otel-collector.monitoring:4318', sampleRatio: '0.25' },
  networkPolicy: {
    databases: { to: [{ ipBlock: { cidr: '10.9.0.0/16' } }] },
    gpuHosts: { to: [{ ipBlock: { cidr: '192.168.50.0/24' } }], ports: [11434] },
    extraEgress: [
      { to: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }], ports: [{ port: 4318 }] },
    ],
  },
};

export const VARIANTS: Record<string, Record<string, unknown>> = {
  defaults: {},
  everything: EVERYTHING,
  'no worker, no policy, migrations at start': {
    worker: { enabled: false },
    networkPolicy: { enabled: false },
    migrations: { job: false },
    metrics: { podAnnotations: false },
  },
};

export function render(values: Record<string, unknown> = {}): K8sObject[] {
  return manifests(helmTemplate(CHART_DIR, RELEASE, values)) as K8sObject[];
}

export function find(objects: K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (!found) throw new Error(`no ${kind} *${nameSuffix} in ${objects.map((o) => o.kind).join(', ')}`);
  return found;
}

/** The pod spec of a Deployment or Job. */
export function podSpec(object: K8sObject): PodSpec {
  return (object.spec as { template: { spec: PodSpec } }).template.spec;
}

export function podLabels(object: K8sObject): Record<string, string> {
  return (object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
    .labels;
}

export function workloads(objects: K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job');
}

export function envValue(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}
