import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Where deploy/tools/helm-bin/ensure-helm.mjs puts Helm (from npm; `npm test` runs it first). */
export function helmBinary(root = process.cwd()): string {
  const helm = resolve(root, 'deploy/tools/helm-bin/bin/helm');
  if (!existsSync(helm))
    throw new Error(`no helm at ${helm}: run node deploy/tools/helm-bin/ensure-helm.mjs (npm test does)`);
  return helm;
}

export interface Release {
  Name: string;
  Namespace: string;
}

/** Runs helm with the given values (written to a temporary file, applied after any `valueFiles`). */
function withValues<T>(values: Record<string, unknown>, run: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'helm-values-'));
  try {
    const file = join(dir, 'values.json');
    writeFileSync(file, JSON.stringify(values));
    return run(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template NAME CHART --namespace NS -f FILE… -f values`: the rendered stream. */
export function helmTemplate(
  chartDir: string,
  release: Release,
  values: Record<string, unknown> = {},
  valueFiles: string[] = [],
  root = process.cwd(),
): string {
  return withValues(values, (file) =>
    execFileSync(
      helmBinary(root),
      [
        'template',
        release.Name,
        resolve(root, chartDir),
        '--namespace',
        release.Namespace,
        ...valueFiles.flatMap((f) => ['-f', resolve(root, f)]),
        '-f',
        file,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
}

/** `helm lint --strict CHART -f values`: throws with helm's output when it finds anything. */
export function helmLint(
  chartDir: string,
  values: Record<string, unknown> = {},
  root = process.cwd(),
): string {
  return withValues(values, (file) =>
    execFileSync(helmBinary(root), ['lint', '--strict', resolve(root, chartDir), '-f', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** The Kubernetes objects of a rendered stream (empty documents dropped). */
export function manifests(stream: string): Record<string, unknown>[] {
  return parseAllDocuments(stream)
    .map((doc) => doc.toJS() as Record<string, unknown> | null)
    .filter((doc): doc is Record<string, unknown> => doc !== null && typeof doc === 'object');
}
