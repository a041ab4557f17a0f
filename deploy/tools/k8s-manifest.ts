import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ChartRenderer, mergeValues, toStream } from './helm-template';
import { CHART_DIR, MANIFEST, renderManifest } from './render-k8s';

/**
 * `npm run k8s:manifest`: writes docker/k8s/llmendpoint.yaml from the chart; `-- --check` fails
 * when the committed file differs; `-- -f FILE [-f FILE…] [--release NAME] [--namespace NS]`
 * prints any other rendering, like `helm template NAME deploy/helm/llmendpoint -f FILE`.
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
    const renderer = new ChartRenderer(resolve(CHART_DIR));
    let merged: Record<string, unknown> = {};
    for (const file of values.values)
      merged = mergeValues(merged, parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>);
    const files = renderer.render(
      { Name: values.release as string, Namespace: values.namespace as string },
      merged,
    );
    process.stdout.write(toStream('llmendpoint', files) + '\n');
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
