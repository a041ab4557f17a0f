import 'reflect-metadata';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { manifests } from '../../deploy/tools/helm';
import { MANIFEST, renderManifest } from '../../deploy/tools/render-k8s';
import { IS_PUBLIC } from '../../src/auth/auth.decorators';
import { envSchema, validateEnv } from '../../src/config/env.schema';
import {
  type Container,
  envValue,
  find,
  type K8sObject,
  podSpec,
  render,
  VARIANTS,
  workloads,
} from '../support/chart';
import { schemaProblems } from '../support/k8s-schema';

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
const manifest = readFileSync(join(root, MANIFEST), 'utf8');

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
  const objects = manifests(manifest) as K8sObject[];

  it('is the Helm chart rendered with docker/k8s/values.yaml (one source of truth: npm run k8s:manifest)', () => {
    expect(manifest).toBe(renderManifest(root));
  });

  it('every object is valid for its Kubernetes schema', async () => {
    const problems: string[] = [];
    for (const object of objects)
      for (const problem of await schemaProblems(object))
        problems.push(`${object.kind} ${object.metadata.name}${problem}`);
    expect(problems).toEqual([]);
  });

  it('ships no Secret, no HOSTS (hosts are optional and readiness does not need one) and no migration Job', () => {
    expect(objects.map((o) => o.kind)).not.toContain('Secret');
    expect(objects.map((o) => o.kind)).not.toContain('Job');
    expect(manifest).not.toMatch(/^\s*HOSTS:/m);
    const api = podSpec(find(objects, 'Deployment', '-api')).containers[0] as Container;
    expect(envValue(api, 'DB_MIGRATE')).toBe('on');
  });

  it('the API pod sleeps in preStop and its grace period covers preStop + the app hard-exit deadline', () => {
    const api = podSpec(find(objects, 'Deployment', '-api'));
    const container = api.containers[0] as Container;
    const sleep = Number(container.lifecycle?.preStop?.exec?.command[1]);
    expect(container.lifecycle?.preStop?.exec?.command[0]).toBe('sleep');
    const grace = Number((find(objects, 'ConfigMap').data as Record<string, string>).SHUTDOWN_GRACE_MS);
    const drain = Number(envValue(container, 'SHUTDOWN_DRAIN_MS'));
    expect(drain).toBeGreaterThan(0);
    expect(drain).toBeLessThan(grace);
    expect((api.terminationGracePeriodSeconds as number) * 1000).toBeGreaterThan(sleep * 1000 + grace);
    const worker = podSpec(find(objects, 'Deployment', '-worker'));
    expect((worker.terminationGracePeriodSeconds as number) * 1000).toBeGreaterThan(grace);
  });
});

/** GET routes of every controller under src/, from Nest's own metadata, with whether they are @Public(). */
async function appRoutes(): Promise<Map<string, { isPublic: boolean }>> {
  const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.controller.ts'),
  );
  const routes = new Map<string, { isPublic: boolean }>();
  const join2 = (...parts: string[]) =>
    '/' +
    parts
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .filter(Boolean)
      .join('/');
  for (const file of files) {
    const mod = (await import(join(root, 'src', file))) as Record<string, unknown>;
    for (const exported of Object.values(mod)) {
      if (typeof exported !== 'function') continue;
      const base = Reflect.getMetadata(PATH_METADATA, exported) as string | string[] | undefined;
      if (base === undefined) continue;
      const prototype = exported.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        if (Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.GET) continue;
        const isPublic = Boolean(
          Reflect.getMetadata(IS_PUBLIC, handler) ?? Reflect.getMetadata(IS_PUBLIC, exported),
        );
        for (const b of [base].flat())
          for (const p of [Reflect.getMetadata(PATH_METADATA, handler) as string | string[]].flat())
            routes.set(join2(b, p), { isPublic });
      }
    }
  }
  return routes;
}

describe('the chart and the plain manifest against the app (routes, port, configuration)', () => {
  const renderings: Record<string, K8sObject[]> = {
    'docker/k8s/llmendpoint.yaml': manifests(manifest) as K8sObject[],
    ...Object.fromEntries(
      Object.entries(VARIANTS).map(([name, values]) => [`chart (${name})`, render(values)]),
    ),
  };
  const schemaKeys = new Set(Object.keys((envSchema.describe() as { keys: Record<string, unknown> }).keys));
  const port = (envSchema.describe() as { keys: Record<string, { flags?: { default?: unknown } }> }).keys.PORT
    ?.flags?.default;

  it.each(Object.keys(renderings))(
    '%s: every probe and scrape path is a public GET route of the app, on its port',
    async (name) => {
      const routes = await appRoutes();
      expect(routes.get('/health')).toEqual({ isPublic: true });
      expect(port).toBe(3000);
      expect(dockerfile).toMatch(/^ENV .*PORT=3000/m);
      expect(dockerfile).toMatch(/^EXPOSE 3000$/m);
      const objects = renderings[name] as K8sObject[];
      let probes = 0;
      for (const workload of workloads(objects)) {
        const pod = podSpec(workload);
        const annotations = (
          workload.spec as { template: { metadata: { annotations?: Record<string, string> } } }
        ).template.metadata.annotations;
        if (annotations?.['prometheus.io/scrape']) {
          expect(routes.get(annotations['prometheus.io/path'] as string)).toEqual({ isPublic: true });
          expect(Number(annotations['prometheus.io/port'])).toBe(port);
        }
        for (const container of pod.containers) {
          for (const probe of [container.readinessProbe, container.livenessProbe]) {
            if (!probe?.httpGet) continue;
            probes++;
            expect([probe.httpGet.path, routes.get(probe.httpGet.path)]).toEqual([
              probe.httpGet.path,
              { isPublic: true },
            ]);
            const named = container.ports?.find((p) => p.name === probe.httpGet?.port);
            expect(named?.containerPort ?? probe.httpGet.port).toBe(port);
          }
          for (const p of container.ports ?? []) expect(p.containerPort).toBe(port);
          expect(envValue(container, 'PORT')).toBeUndefined();
        }
      }
      expect(probes).toBeGreaterThanOrEqual(2);
      for (const service of objects.filter((o) => o.kind === 'Service'))
        for (const p of (service.spec as { ports: { targetPort: string | number }[] }).ports)
          expect(p.targetPort === 'http' || p.targetPort === port).toBe(true);
      for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor'))
        for (const e of (monitor.spec as { endpoints: { path: string }[] }).endpoints)
          expect(routes.get(e.path)).toEqual({ isPublic: true });
    },
  );

  it.each(Object.keys(renderings))(
    "%s: every env name is in the config schema and every container's env passes it",
    (name) => {
      const objects = renderings[name] as K8sObject[];
      const configMaps = new Map(
        objects
          .filter((o) => o.kind === 'ConfigMap')
          .map((o) => [o.metadata.name, (o.data ?? {}) as Record<string, string>]),
      );
      for (const data of configMaps.values())
        for (const key of Object.keys(data)) expect([key, schemaKeys.has(key)]).toEqual([key, true]);
      const secrets: Record<string, string> = {
        DATABASE_URL: 'postgres://u:p@postgres:5432/db',
        REDIS_URL: 'redis://redis:6379',
        ADMIN_API_KEY: 'sk-le-Ab3dE5gH7jK9-' + 'q8W2e4R6t8Y0u1I3o5P7a9S2d4F6g8H0j2K4l6Z8x0C',
        WEBHOOK_SECRET: 'whsec',
      };
      for (const workload of workloads(objects))
        for (const container of podSpec(workload).containers) {
          const env: Record<string, string> = {};
          for (const from of container.envFrom ?? [])
            Object.assign(env, configMaps.get(from.configMapRef?.name ?? '') ?? {});
          for (const e of container.env ?? []) {
            expect([e.name, schemaKeys.has(e.name)]).toEqual([e.name, true]);
            env[e.name] = e.value ?? secrets[e.name] ?? '';
          }
          expect(() => validateEnv(env)).not.toThrow();
        }
    },
  );
});
