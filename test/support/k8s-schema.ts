/**
 * Offline validation of Kubernetes objects against the OpenAPI schemas kubernetes-models ships
 * (and the prometheus-operator CRD schemas), strict like `kubeconform -strict`: besides types,
 * required fields and enums, a field the schema does not know (a typo such as `readinesProbe`)
 * is an error. The schemas' validators do not reject unknown fields themselves, so the object is
 * validated through a proxy that records which fields the validator looked up: a key of an
 * object whose schema names its fields, and that the validator never asked for, is unknown.
 */

import { join } from 'node:path';

type Validate = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string; keyword: string; params: unknown }[] | null;
};

const SCHEMAS: Record<string, string> = {
  'v1/ConfigMap': 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap',
  'v1/Secret': 'kubernetes-models/_schemas/IoK8sApiCoreV1Secret',
  'v1/Service': 'kubernetes-models/_schemas/IoK8sApiCoreV1Service',
  'apps/v1/Deployment': 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment',
  'batch/v1/Job': 'kubernetes-models/_schemas/IoK8sApiBatchV1Job',
  'networking.k8s.io/v1/Ingress': 'kubernetes-models/_schemas/IoK8sApiNetworkingV1Ingress',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/_schemas/IoK8sApiNetworkingV1NetworkPolicy',
  'autoscaling/v2/HorizontalPodAutoscaler':
    'kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget',
  'monitoring.coreos.com/v1/ServiceMonitor':
    '@kubernetes-models/prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule':
    '@kubernetes-models/prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1PrometheusRule',
};

async function validatorFor(apiVersion: string, kind: string): Promise<Validate> {
  const id = SCHEMAS[`${apiVersion}/${kind}`];
  if (!id) throw new Error(`no schema known for ${apiVersion} ${kind}`);
  // By file: prometheus-operator's package exports do not list its _schemas.
  const [scope, name, ...rest] = id.startsWith('@') ? id.split('/') : ['', ...id.split('/')];
  const file = join(process.cwd(), 'node_modules', scope as string, name as string, ...rest) + '.js';
  const mod = (await import(file)) as { validate: Validate };
  return mod.validate;
}

/** Problems of one object: schema errors and unknown fields, each as "path: message". Empty when valid. */
export async function schemaProblems(object: Record<string, unknown>): Promise<string[]> {
  const validate = await validatorFor(String(object.apiVersion), String(object.kind));
  const asked = new Map<object, Set<string | symbol>>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const known = proxies.get(value);
    if (known) return known;
    const keys = new Set<string | symbol>();
    asked.set(value, keys);
    const proxy = new Proxy(value, {
      get(target, prop, receiver) {
        keys.add(prop);
        return wrap(Reflect.get(target, prop, receiver));
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  const problems: string[] = [];
  if (!validate(wrap(object)))
    for (const e of validate.errors ?? [])
      problems.push(`${e.instancePath || '/'}: ${e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`}`);
  const walk = (value: unknown, path: string) => {
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${path}/${i}`));
    const keys = asked.get(value);
    // Nothing asked: a free-form object (labels are iterated, so they count as asked).
    if (!keys || keys.size === 0) return;
    for (const [key, child] of Object.entries(value)) {
      if (!keys.has(key)) problems.push(`${path}/${key}: not a field of the schema`);
      else walk(child, `${path}/${key}`);
    }
  };
  walk(object, '');
  return problems;
}
