import { helmTemplate } from './helm';

/**
 * The plain manifest docker/k8s/llmendpoint.yaml: the Helm chart rendered by helm with
 * docker/k8s/values.yaml (one source of truth; deploy/helm/llmendpoint/README.md).
 */
export const CHART_DIR = 'deploy/helm/llmendpoint';
export const MANIFEST = 'docker/k8s/llmendpoint.yaml';
export const MANIFEST_VALUES = 'docker/k8s/values.yaml';

const HEADER =
  '# Generated from the Helm chart deploy/helm/llmendpoint with docker/k8s/values.yaml by\n' +
  '# `npm run k8s:manifest` (helm template): do not edit (test/unit/deployment-files.spec.ts compares them).\n' +
  '# Create the Secret first: kubectl create secret generic llmendpoint \\\n' +
  '#   --from-literal=DATABASE_URL=postgres://… --from-literal=REDIS_URL=redis://… \\\n' +
  '#   [--from-literal=ADMIN_API_KEY=sk-le-… --from-literal=WEBHOOK_SECRET=…]\n';

/** The plain manifest's text, as committed. */
export function renderManifest(root = process.cwd()): string {
  const stream = helmTemplate(
    CHART_DIR,
    { Name: 'llmendpoint', Namespace: 'default' },
    {},
    [MANIFEST_VALUES],
    root,
  );
  return HEADER + stream.replace(/\n*$/, '\n');
}
