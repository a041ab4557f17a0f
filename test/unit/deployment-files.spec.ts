import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * No Docker engine or Kubernetes cluster runs in CI: these check statically what a build or an
 * apply would trip over.
 */
const root = process.cwd();
const dockerfile = readFileSync(join(root, 'docker/Dockerfile'), 'utf8');
const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const manifest = readFileSync(join(root, 'docker/k8s/llmendpoint.yaml'), 'utf8');

/** Docker's .dockerignore rules (last match wins, `!` re-includes, `**` any depth, a dir covers its contents). */
function ignored(path: string): boolean {
  let result = false;
  for (const rule of ignore) {
    const negate = rule.startsWith('!');
    const pattern = (negate ? rule.slice(1) : rule).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      '^' +
        pattern
          .split('/')
          .map((part) =>
            part === '**'
              ? '(?:.*)'
              : part
                  .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                  .replace(/\*/g, '[^/]*')
                  .replace(/\?/g, '[^/]'),
          )
          .join('/')
          .replace(/\(\?:\.\*\)\//g, '(?:.*/)?') +
        '(?:/.*)?$',
    );
    if (regex.test(path)) result = !negate;
  }
  return result;
}

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

function stages(): Stage[] {
  const args = Object.fromEntries(
    [...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
  const out: Stage[] = [];
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM (\S+) AS (\S+)/.exec(line);
    if (from) {
      const image = (from[1] as string).replace(/\$\{(\w+)\}/g, (_m, name: string) => args[name] ?? '');
      out.push({ name: from[2] as string, from: image, lines: [] });
    } else out[out.length - 1]?.lines.push(line);
  }
  return out;
}

describe('docker/Dockerfile and .dockerignore', () => {
  it('every stage is on Node 22 LTS', () => {
    const all = stages();
    expect(all.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    for (const s of all) expect(s.from).toMatch(/^node:22-/);
  });

  it('every COPY from the build context exists and is not excluded by .dockerignore', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      (m[1] as string).split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect([source, existsSync(join(root, source))]).toEqual([source, true]);
      expect([source, ignored(source)]).toEqual([source, false]);
    }
  });

  it('.dockerignore keeps the heavy and private folders out of the context', () => {
    for (const path of [
      'node_modules',
      'node_modules/x/y.js',
      'dist/src/main.js',
      'data/pglite',
      '.git/HEAD',
      'test-results/a',
      'bench/results/x.json',
      '.env',
    ])
      expect([path, ignored(path)]).toEqual([path, true]);
    for (const path of [
      'src/main.ts',
      'package.json',
      'package-lock.json',
      'migrations/index.ts',
      '.ci/fix-lock.js',
    ])
      expect([path, ignored(path)]).toEqual([path, false]);
  });

  it('the runtime stage carries production dependencies and the compiled app only', () => {
    const runtime = stages().find((s) => s.name === 'runtime') as Stage;
    const copies = runtime.lines.filter((l) => l.startsWith('COPY'));
    expect(copies).toEqual([
      'COPY --from=deps --chown=node:node /app/node_modules ./node_modules',
      'COPY --from=build --chown=node:node /app/dist/src ./dist/src',
      'COPY --from=build --chown=node:node /app/dist/migrations ./dist/migrations',
      'COPY --from=build --chown=node:node /app/dist/console ./dist/console',
      'COPY --chown=node:node package.json ./',
    ]);
    const deps = stages().find((s) => s.name === 'deps') as Stage;
    expect(deps.lines).toContain('RUN npm ci --omit=dev --omit=optional && npm cache clean --force');
    // What that install leaves out, by the lock's flags: TypeScript (an optional peer of
    // @nestjs/swagger) and every dev tool; what it keeps: the runtime dependencies.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
    };
    const omitted = (name: string) => {
      const entry = lock.packages[`node_modules/${name}`] ?? {};
      return Boolean(entry.dev || entry.devOptional || entry.optional);
    };
    for (const name of ['typescript', 'ts-jest', 'jest', 'playwright-core', 'autocannon', '@nestjs/testing'])
      expect([name, omitted(name)]).toEqual([name, true]);
    for (const name of ['@nestjs/core', 'typeorm', 'redoc', 'swagger-ui-dist', 'passport-headerapikey', 'pg'])
      expect([name, omitted(name)]).toEqual([name, false]);
    expect(runtime.lines).toContain('USER node');
  });

  it('npm run cli works without a build (the image has no TypeScript) and engines match what runs', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      engines: { node: string };
      dependencies: Record<string, string>;
    };
    expect(pkg.scripts.cli).toBe('node dist/src/cli.js');
    // require(esm) of the ESM-only NestJS 12 packages from the CommonJS build: Node >= 20.19.
    expect(pkg.engines.node).toBe('>=20.19');
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
    expect(pkg.dependencies.typescript).toBeUndefined();
  });
});

describe('docker/k8s/llmendpoint.yaml', () => {
  const deployment = (role: string) => {
    const start = manifest.indexOf(`name: llmendpoint-${role}\n`);
    const end = manifest.indexOf('\n---', start);
    return manifest.slice(start, end === -1 ? undefined : end);
  };
  const seconds = (text: string, key: string) => Number(new RegExp(`${key}: (\\d+)`).exec(text)?.[1]);
  const configMs = (key: string) => Number(new RegExp(`${key}: "(\\d+)"`).exec(manifest)?.[1]);

  it('ships no HOSTS: "" (hosts are optional and readiness does not need one)', () => {
    expect(manifest).not.toMatch(/^\s*HOSTS:/m);
  });

  it('the API pod sleeps in preStop and its grace period covers preStop + the app hard-exit deadline', () => {
    const api = deployment('api');
    expect(api).toContain('command: ["sleep", "5"]');
    const drain = Number(/SHUTDOWN_DRAIN_MS, value: "(\d+)"/.exec(api)?.[1]);
    const grace = configMs('SHUTDOWN_GRACE_MS');
    expect(drain).toBeGreaterThan(0);
    expect(drain).toBeLessThan(grace);
    expect(seconds(api, 'terminationGracePeriodSeconds') * 1000).toBeGreaterThan(5000 + grace);
    expect(api).toContain('path: /health/ready');
  });

  it('the worker grace period is above the app hard-exit deadline', () => {
    expect(seconds(deployment('worker'), 'terminationGracePeriodSeconds') * 1000).toBeGreaterThan(
      configMs('SHUTDOWN_GRACE_MS'),
    );
  });
});
