/**
 * What an inference engine says about its own load, read by the health loop (never on the request
 * path) and used by the routing policy. Every field is optional: engines report different things.
 *
 * - Ollama `GET /api/ps`: models loaded in GPU memory and when they unload (`expires_at`). Ollama
 *   does not report its parallel slots (OLLAMA_NUM_PARALLEL) over the API.
 * - vLLM `GET /metrics` (Prometheus text): `vllm:num_requests_running`, `vllm:num_requests_waiting`,
 *   `vllm:kv_cache_usage_perc` (V1) or `vllm:gpu_cache_usage_perc` (V0), summed over engines.
 * - llama.cpp server `GET /slots` (one object per slot: `is_processing`, or `state` 0/1 in older
 *   builds) or `GET /metrics` (`llamacpp:requests_processing`, `llamacpp:requests_deferred`,
 *   `llamacpp:kv_cache_usage_ratio`).
 */
export interface EngineSignals {
  source: 'ollama-ps' | 'vllm-metrics' | 'llamacpp-metrics' | 'llamacpp-slots';
  /** ISO time of the read. */
  readAt: string;
  /** Models loaded now (Ollama), with when each unloads. */
  loaded?: { name: string; expiresAt: string | null; sizeVram: number | null }[];
  running?: number;
  waiting?: number;
  /** KV-cache in use, 0–1. */
  kvCacheUsage?: number;
  /** Parallel slots the engine has (llama.cpp /slots). */
  slots?: number;
  idleSlots?: number;
}

/** The `/api/ps` answer (ollama api.ProcessResponse), as far as routing reads it. */
export interface OllamaPsAnswer {
  models?: { name?: unknown; model?: unknown; expires_at?: unknown; size_vram?: unknown }[];
}

export function parseOllamaPs(answer: OllamaPsAnswer, readAt: Date): EngineSignals {
  const loaded = (Array.isArray(answer.models) ? answer.models : [])
    .filter((m) => typeof m?.name === 'string' || typeof m?.model === 'string')
    .map((m) => ({
      name: String(typeof m.name === 'string' ? m.name : m.model),
      expiresAt: typeof m.expires_at === 'string' ? m.expires_at : null,
      sizeVram: typeof m.size_vram === 'number' ? m.size_vram : null,
    }));
  return { source: 'ollama-ps', readAt: readAt.toISOString(), loaded };
}

/**
 * Sums of the samples of each named series in Prometheus text exposition (labels ignored; NaN and
 * ±Inf skipped). Only the names asked for are kept: a /metrics page has hundreds of series.
 */
export function sumPrometheus(text: string, names: ReadonlySet<string>): Map<string, number> {
  const sums = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const end = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (end <= 0) continue;
    const name = line.slice(0, end);
    if (!names.has(name)) continue;
    // The value follows the label set (whose values may hold spaces and braces) or the name.
    const rest = brace === end ? line.slice(line.lastIndexOf('}') + 1) : line.slice(end);
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
}

const VLLM = new Set([
  'vllm:num_requests_running',
  'vllm:num_requests_waiting',
  'vllm:kv_cache_usage_perc',
  'vllm:gpu_cache_usage_perc',
  'vllm:cache_config_info',
]);
const LLAMACPP = new Set([
  'llamacpp:requests_processing',
  'llamacpp:requests_deferred',
  'llamacpp:kv_cache_usage_ratio',
]);

/** A /metrics page of vLLM or llama.cpp; undefined when it is neither's (no series known). */
export function parseEngineMetrics(text: string, readAt: Date): EngineSignals | undefined {
  const vllm = sumPrometheus(text, VLLM);
  if (vllm.has('vllm:num_requests_running') || vllm.has('vllm:num_requests_waiting')) {
    const engines = countSeries(text, 'vllm:num_requests_running');
    const kv = vllm.get('vllm:kv_cache_usage_perc') ?? vllm.get('vllm:gpu_cache_usage_perc');
    return compact({
      source: 'vllm-metrics',
      readAt: readAt.toISOString(),
      running: vllm.get('vllm:num_requests_running'),
      waiting: vllm.get('vllm:num_requests_waiting'),
      // Per-engine fractions are summed above: their mean is the host's.
      kvCacheUsage: kv === undefined ? undefined : kv / Math.max(1, engines),
    });
  }
  const llama = sumPrometheus(text, LLAMACPP);
  if (llama.size === 0) return undefined;
  return compact({
    source: 'llamacpp-metrics',
    readAt: readAt.toISOString(),
    running: llama.get('llamacpp:requests_processing'),
    waiting: llama.get('llamacpp:requests_deferred'),
    kvCacheUsage: llama.get('llamacpp:kv_cache_usage_ratio'),
  });
}

/** llama.cpp `GET /slots`: an array of slots; undefined when the answer is not one. */
export function parseLlamaCppSlots(answer: unknown, readAt: Date): EngineSignals | undefined {
  if (!Array.isArray(answer) || answer.length === 0) return undefined;
  let busy = 0;
  for (const slot of answer as Record<string, unknown>[]) {
    if (slot === null || typeof slot !== 'object') return undefined;
    const processing = typeof slot.is_processing === 'boolean' ? slot.is_processing : slot.state === 1;
    if (processing) busy++;
  }
  return {
    source: 'llamacpp-slots',
    readAt: readAt.toISOString(),
    slots: answer.length,
    idleSlots: answer.length - busy,
    running: busy,
  };
}

function countSeries(text: string, name: string): number {
  let n = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name) && (line[name.length] === '{' || line[name.length] === ' ')) n++;
  return n;
}

function compact(signals: EngineSignals): EngineSignals {
  for (const key of Object.keys(signals) as (keyof EngineSignals)[])
    if (signals[key] === undefined) delete signals[key];
  return signals;
}
