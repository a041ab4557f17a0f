/**
 * One simulated GPU host for the fleet benchmark (bench/fleet/run.ts), as its own process. It
 * speaks Ollama's protocol (/api/tags, /api/ps, /api/version, streamed /api/chat) and models an
 * engine's costs, so routing choices show in time to first token:
 *
 * - `--slots` requests run at once; more wait in the engine's FIFO queue;
 * - a request for a model that is not loaded waits `--load-ms` for it to load; at most
 *   `--max-loaded` models are loaded (the least recently used idle one is evicted, with its cache);
 * - prefill takes `--prefill-us` per prompt token *not* in the prefix cache (the longest cached
 *   message prefix of the same model: a previous turn of the conversation served here);
 * - decode takes `--decode-ms` per output token.
 *
 * `GET /stats` answers its counters; an overload event is a request arriving while the host
 * already runs or queues `--max-concurrency` requests (the limit the platform was given).
 * `POST /reset` empties caches, loaded models and counters between runs.
 */
import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { readBody } from '../../test/fakes/fake-server';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    models: { type: 'string', default: 'm0,m1,m2,m3' },
    slots: { type: 'string', default: '4' },
    'max-concurrency': { type: 'string', default: '4' },
    'max-loaded': { type: 'string', default: '2' },
    'load-ms': { type: 'string', default: '2000' },
    'prefill-us': { type: 'string', default: '500' },
    'decode-ms': { type: 'string', default: '20' },
    'cache-tokens': { type: 'string', default: '50000' },
  },
});
const MODELS = values.models.split(',');
const SLOTS = Number(values.slots);
const MAX_CONCURRENCY = Number(values['max-concurrency']);
const MAX_LOADED = Number(values['max-loaded']);
const LOAD_MS = Number(values['load-ms']);
const PREFILL_US = Number(values['prefill-us']);
const DECODE_MS = Number(values['decode-ms']);
const CACHE_TOKENS = Number(values['cache-tokens']);

interface Message {
  role: string;
  content: string;
}
interface Job {
  model: string;
  messages: Message[];
  tokens: number;
  res: ServerResponse;
  gone: boolean;
}
interface Loaded {
  state: 'loading' | 'ready';
  usedAt: number;
  running: number;
}

const tokensOf = (text: string) => Math.ceil(text.length / 4);
let running = 0;
const queue: Job[] = [];
const loaded = new Map<string, Loaded>();
/** Prefix hash → its token count, least recently used first (Map order). */
const cache = new Map<string, number>();
let cachedTokens = 0;
const stats = { requests: 0, overloads: 0, peak: 0, loads: 0, promptTokens: 0, cachedPromptTokens: 0 };

function prefixHashes(model: string, messages: Message[]): { hash: string; tokens: number }[] {
  const out: { hash: string; tokens: number }[] = [];
  const hash = createHash('sha1').update(model);
  let tokens = 0;
  for (const m of messages) {
    hash.update(`\u0000${m.role}\u0000${m.content}`);
    tokens += tokensOf(m.content);
    out.push({ hash: `${model}:${hash.copy().digest('base64')}`, tokens });
  }
  return out;
}

function remember(model: string, messages: Message[]): void {
  for (const { hash, tokens } of prefixHashes(model, messages)) {
    const known = cache.get(hash);
    if (known !== undefined) {
      cache.delete(hash);
      cachedTokens -= known;
    }
    cache.set(hash, tokens);
    cachedTokens += tokens;
  }
  for (const [hash, tokens] of cache) {
    if (cachedTokens <= CACHE_TOKENS) break;
    cache.delete(hash);
    cachedTokens -= tokens;
  }
}

function forgetModel(model: string): void {
  for (const [hash, tokens] of cache)
    if (hash.startsWith(`${model}:`)) {
      cache.delete(hash);
      cachedTokens -= tokens;
    }
}

/** Starts what can start: loads for queued models (evicting idle ones), jobs whose model is ready. */
function pump(): void {
  for (const job of queue) {
    if (loaded.has(job.model)) continue;
    if (loaded.size >= MAX_LOADED) {
      const idle = [...loaded.entries()]
        .filter(([name, l]) => l.state === 'ready' && l.running === 0 && !queue.some((j) => j.model === name))
        .sort((a, b) => a[1].usedAt - b[1].usedAt)[0];
      if (!idle) continue;
      loaded.delete(idle[0]);
      forgetModel(idle[0]);
    }
    const entry: Loaded = { state: 'loading', usedAt: Date.now(), running: 0 };
    loaded.set(job.model, entry);
    stats.loads++;
    setTimeout(() => {
      entry.state = 'ready';
      pump();
    }, LOAD_MS);
  }
  for (let i = 0; i < queue.length && running < SLOTS;) {
    const job = queue[i]!;
    const model = loaded.get(job.model);
    if (job.gone) {
      queue.splice(i, 1);
      continue;
    }
    if (model?.state !== 'ready') {
      i++;
      continue;
    }
    queue.splice(i, 1);
    void run(job, model);
  }
}

async function run(job: Job, model: Loaded): Promise<void> {
  running++;
  model.running++;
  model.usedAt = Date.now();
  const prompt = job.messages.reduce((n, m) => n + tokensOf(m.content), 0);
  let cached = 0;
  for (const p of prefixHashes(job.model, job.messages).slice(0, -1).reverse())
    if (cache.has(p.hash)) {
      cached = p.tokens;
      break;
    }
  stats.promptTokens += prompt;
  stats.cachedPromptTokens += cached;
  await sleep(((prompt - cached) * PREFILL_US) / 1000);
  let text = '';
  const started = new Date().toISOString();
  for (let i = 0; i < job.tokens && !job.gone; i++) {
    if (i > 0) await sleep(DECODE_MS);
    const piece = `w${i} `;
    text += piece;
    job.res.write(
      `${JSON.stringify({ model: job.model, created_at: started, message: { role: 'assistant', content: piece }, done: false })}\n`,
    );
  }
  if (!job.gone) {
    job.res.end(
      `${JSON.stringify({ model: job.model, created_at: started, message: { role: 'assistant', content: '' }, done_reason: 'stop', done: true, total_duration: 1, load_duration: 0, prompt_eval_count: prompt, prompt_eval_duration: 1, eval_count: job.tokens, eval_duration: 1 })}\n`,
    );
    remember(job.model, [...job.messages, { role: 'assistant', content: text }]);
  }
  running--;
  model.running--;
  model.usedAt = Date.now();
  pump();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  void (async () => {
    const key = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    const body = await readBody(req);
    if (key === 'GET /api/tags')
      return json(res, 200, { models: MODELS.map((name) => ({ name, model: name, size: 1, digest: name })) });
    if (key === 'GET /api/ps') {
      const expires = new Date(Date.now() + 300_000).toISOString();
      const models = [...loaded.entries()]
        .filter(([, l]) => l.state === 'ready')
        .map(([name]) => ({ name, model: name, size: 1, digest: name, expires_at: expires, size_vram: 1 }));
      return json(res, 200, { models });
    }
    if (key === 'GET /api/version') return json(res, 200, { version: '0.6.5' });
    if (key === 'GET /stats') return json(res, 200, { ...stats, running, queued: queue.length });
    if (key === 'POST /reset') {
      loaded.clear();
      cache.clear();
      cachedTokens = 0;
      Object.assign(stats, {
        requests: 0,
        overloads: 0,
        peak: 0,
        loads: 0,
        promptTokens: 0,
        cachedPromptTokens: 0,
      });
      return json(res, 200, { ok: true });
    }
    if (key === 'POST /api/chat') {
      const parsed = JSON.parse(body) as {
        model: string;
        messages: Message[];
        options?: { num_predict?: number };
      };
      if (!MODELS.includes(parsed.model))
        return json(res, 404, { error: `model "${parsed.model}" not found` });
      stats.requests++;
      const inFlight = running + queue.length;
      if (inFlight >= MAX_CONCURRENCY) stats.overloads++;
      stats.peak = Math.max(stats.peak, inFlight + 1);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const job: Job = {
        model: parsed.model,
        messages: parsed.messages,
        tokens: Math.max(1, parsed.options?.num_predict ?? 16),
        res,
        gone: false,
      };
      res.on('close', () => (job.gone = true));
      queue.push(job);
      pump();
      return;
    }
    json(res, 404, { error: 'not found' });
  })();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
