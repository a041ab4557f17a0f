import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  frame: string;
  self_ms: number;
  percent: number;
}

export interface ProfileSummary {
  total_ms: number;
  top_functions: FrameTime[];
  /** Self time grouped by package (node_modules/<name>), app directory (src/<dir>) or Node internals. */
  by_area: FrameTime[];
  /** Self time grouped by what the code is for (HTTP framework, logging, database client, …). */
  by_layer: FrameTime[];
}

function shortUrl(url: string): string {
  const cwd = `file://${process.cwd()}/`;
  return url.startsWith(cwd) ? url.slice(cwd.length) : url.replace(/^file:\/\//, '');
}

function areaOf(url: string): string {
  const path = shortUrl(url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1] as string;
  const app = /^dist\/(src\/[^/]+)/.exec(path);
  if (app) return app[1] as string;
  if (path.startsWith('node:')) return 'node internals';
  return path === '' ? '(native / gc / idle)' : path;
}

/** Which job a frame does, by its package or Node module; first match wins. */
const LAYERS: Array<[string, RegExp]> = [
  ['socket writes (writev: incl. loopback delivery to the peer)', /^writev$|^writeBuffer$|^writeUtf8String$/],
  ['garbage collector', /^\(garbage collector\)$/],
  ['async context (async_hooks, AsyncLocalStorage)', /node:(internal\/)?async_hooks/],
  [
    'AbortController / AbortError / stack traces',
    /abort_controller|domexception|node:internal\/errors|event_target/,
  ],
  [
    'logging and metrics (pino, nestjs-pino, prom-client)',
    /pino|@pinojs|prom-client|dist\/src\/(logging|metrics)\//,
  ],
  [
    'HTTP server and framework (node:http, express, router, Nest, body-parser, validation)',
    /node:_http|\/(express|router|@nestjs|body-parser|raw-body|type-is|content-type|on-finished|finalhandler|etag|mime-types|mime-db|path-to-regexp|parseurl|qs|iconv-lite|depd|reflect-metadata|class-validator|class-transformer|validator|rxjs|send|fresh|proxy-addr|accepts|negotiator|vary|cookie|statuses|http-errors)\//,
  ],
  ['database client (TypeORM, pg)', /\/(typeorm|pg|pg-protocol|pg-pool|pg-types|postgres-[a-z]+)\//],
  ['upstream client (undici, SSE/NDJSON parsing, providers)', /\/undici\/|wasm:|dist\/src\/providers\//],
  ['crypto (hashing, random ids)', /node:internal\/crypto/],
  ['platform code (dist/src, other)', /dist\/src\//],
  ['other node internals (streams, events, timers, buffers)', /^node:/],
];

function layerOf(functionName: string, url: string): string {
  const path = shortUrl(url);
  for (const [name, pattern] of LAYERS) if (pattern.test(path) || pattern.test(functionName)) return name;
  return path === '' ? 'other native (program, microtask queue, JSON)' : 'other packages';
}

function top(map: Map<string, number>, total: number, n: number): FrameTime[] {
  return [...map.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([frame, micros]) => ({
      frame,
      self_ms: Math.round(micros / 100) / 10,
      percent: Math.round((micros / total) * 1000) / 10,
    }));
}

/** A stretch of CLOCK_MONOTONIC in µs (`process.hrtime.bigint() / 1000n` in any process of the machine). */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
}

/**
 * Self time per function and per area of a V8 .cpuprofile (from `node --cpu-prof`). With a window,
 * only samples inside it count (V8 stamps samples with the same monotonic clock as hrtime), so the
 * start-up and warm-up of the profiled process stay out.
 */
export function summariseProfile(file: string, topN = 15, window?: ProfileWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  const layers = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const micros = profile.timeDeltas[i] ?? 0;
    at += micros;
    if (window && (at < window.startUs || at > window.endUs)) return;
    if (!node || micros <= 0) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') return;
    total += micros;
    const frame =
      `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
    functions.set(frame, (functions.get(frame) ?? 0) + micros);
    const area = areaOf(url);
    areas.set(area, (areas.get(area) ?? 0) + micros);
    const layer = layerOf(functionName, url);
    layers.set(layer, (layers.get(layer) ?? 0) + micros);
  });
  return {
    total_ms: Math.round(total / 1000),
    top_functions: top(functions, total, topN),
    by_area: top(areas, total, topN),
    by_layer: top(layers, total, LAYERS.length + 2),
  };
}

/** Markdown tables; with `requests`, each row also shows its share per request in µs. */
export function renderProfile(summary: ProfileSummary, requests = 0): string {
  const perRequest = requests > 0;
  const head = (what: string) => [
    `| self % | self ms |${perRequest ? ' µs/request |' : ''} ${what} |`,
    `| ---: | ---: |${perRequest ? ' ---: |' : ''} --- |`,
  ];
  const rows = (list: FrameTime[]) =>
    list.map(
      (f) =>
        `| ${f.percent}% | ${f.self_ms} |${perRequest ? ` ${Math.round((f.self_ms * 1000) / requests)} |` : ''} ${f.frame} |`,
    );
  return [
    `Busy CPU of the main thread in the profile: ${summary.total_ms} ms (idle excluded)` +
      (perRequest
        ? `, ${requests} requests: ${Math.round((summary.total_ms * 1000) / requests)} µs per request.`
        : '.'),
    '',
    ...head('layer'),
    ...rows(summary.by_layer),
    '',
    ...head('function'),
    ...rows(summary.top_functions),
    '',
    ...head('area'),
    ...rows(summary.by_area),
  ].join('\n');
}
