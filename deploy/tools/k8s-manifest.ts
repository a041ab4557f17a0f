import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { helmTemplate } from './helm';
import { CHART_DIR, MANIFEST, renderManifest } from './render-k8s';

/**
 * `npm run k8s:manifest`: writes docker/k8s/llmendpoint.yaml from the chart (helm template);
 * `-- --check` fails when the committed file differs; `-- -f FILE [-f FILE…] [--release NAME]
 * [--namespace NS]` prints any other rendering (`helm template NAME deploy/helm/llmendpoint -f FILE`).
 */
function main(): void {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean' },
      values: { type: 'string', short: 'f', multiple: true },
      release: { type: 'string', default: 'llmendpoint' },
      namespace: { type: 'string', default: 'default' },
    },
  });
  if (values.values?.length) {
    const release = { Name: values.release as string, Namespace: values.namespace as string };
    process.stdout.write(helmTemplate(CHART_DIR, release, {}, values.values));
    return;
  }
  const text = renderManifest();
  if (values.check) {
    if (readFileSync(MANIFEST, 'utf8') !== text) {
      process.stderr.write(`${MANIFEST} is not the chart's rendering: run npm run k8s:manifest\n`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(MANIFEST, text);
  process.stdout.write(`wrote ${MANIFEST}\n`);
}

main();
