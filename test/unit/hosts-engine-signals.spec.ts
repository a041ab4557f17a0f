import { readFileSync } from 'node:fs';
import {
  parseEngineMetrics,
  parseLlamaCppSlots,
  parseOllamaPs,
  sumPrometheus,
} from '../../src/hosts/engine-signals';

const AT = new Date('2026-01-02T03:04:05.000Z');
const fixture = (name: string) => readFileSync(`test/fixtures/engine-signals/${name}`, 'utf8');

describe('engine signals parsed from real payloads', () => {
  it('Ollama /api/ps: the loaded models with their expiry and VRAM', () => {
    const signals = parseOllamaPs(JSON.parse(fixture('ollama-ps.json')) as object, AT);
    expect(signals).toEqual({
      source: 'ollama-ps',
      readAt: '2026-01-02T03:04:05.000Z',
      loaded: [
        { name: 'mistral:latest', expiresAt: '2024-06-04T14:38:31.83753-07:00', sizeVram: 5137025024 },
        { name: 'llama3.1:8b', expiresAt: '2025-03-11T09:12:05.120447213Z', sizeVram: 6654289920 },
      ],
    });
    expect(parseOllamaPs(JSON.parse(fixture('ollama-ps-empty.json')) as object, AT).loaded).toEqual([]);
    // A malformed answer reads as nothing loaded, never a throw.
    expect(parseOllamaPs({ models: [{ size: 1 }] as never }, AT).loaded).toEqual([]);
  });

  it('vLLM V1 /metrics: running and waiting summed over engines, KV cache as their mean', () => {
    const signals = parseEngineMetrics(fixture('vllm-v1-metrics.txt'), AT);
    expect(signals).toEqual({
      source: 'vllm-metrics',
      readAt: '2026-01-02T03:04:05.000Z',
      running: 5,
      waiting: 5,
      kvCacheUsage: 0.5,
    });
  });

  it('vLLM V0 /metrics: gpu_cache_usage_perc when kv_cache_usage_perc is absent', () => {
    expect(parseEngineMetrics(fixture('vllm-v0-metrics.txt'), AT)).toEqual({
      source: 'vllm-metrics',
      readAt: '2026-01-02T03:04:05.000Z',
      running: 7,
      waiting: 12,
      kvCacheUsage: 0.9712,
    });
  });

  it('llama.cpp /metrics: requests processing, deferred and KV cache ratio', () => {
    expect(parseEngineMetrics(fixture('llamacpp-metrics.txt'), AT)).toEqual({
      source: 'llamacpp-metrics',
      readAt: '2026-01-02T03:04:05.000Z',
      running: 2,
      waiting: 5,
      kvCacheUsage: 0.41,
    });
  });

  it('a /metrics page of neither engine (here our own platform) gives no signals', () => {
    const own =
      '# HELP le_http_requests_total x\n# TYPE le_http_requests_total counter\nle_http_requests_total{a="b"} 3\n';
    expect(parseEngineMetrics(own, AT)).toBeUndefined();
    expect(parseEngineMetrics('<html>not found</html>', AT)).toBeUndefined();
  });

  it('llama.cpp /slots: slots and idle slots, new (is_processing) and old (state) builds', () => {
    expect(parseLlamaCppSlots(JSON.parse(fixture('llamacpp-slots.json')), AT)).toEqual({
      source: 'llamacpp-slots',
      readAt: '2026-01-02T03:04:05.000Z',
      slots: 3,
      idleSlots: 2,
      running: 1,
    });
    expect(parseLlamaCppSlots(JSON.parse(fixture('llamacpp-slots-old.json')), AT)).toMatchObject({
      slots: 2,
      idleSlots: 1,
    });
    expect(parseLlamaCppSlots({ error: 'This server does not support slots endpoint.' }, AT)).toBeUndefined();
    expect(parseLlamaCppSlots([], AT)).toBeUndefined();
  });

  it('Prometheus text: label values with spaces and braces, timestamps, NaN skipped', () => {
    const text = [
      'vllm:kv_cache_usage_perc{engine="1",model_name="my model {x}"} 0.5 1700000000000',
      'vllm:kv_cache_usage_perc{engine="2"} NaN',
      'vllm:kv_cache_usage_perc 0.25',
      'vllm:kv_cache_usage_perc_other 9',
    ].join('\n');
    expect(sumPrometheus(text, new Set(['vllm:kv_cache_usage_perc']))).toEqual(
      new Map([['vllm:kv_cache_usage_perc', 0.75]]),
    );
  });
});
