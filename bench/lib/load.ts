import autocannon from 'autocannon';
import { Client } from 'undici';

/** One HTTP call the load generators repeat: same bytes for every peer, only the base URL differs. */
export interface Target {
  baseUrl: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface CannonResult {
  /** Successful (2xx) responses per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
}

/** Closed-loop load with `connections` keep-alive connections for `seconds`. */
export async function cannon(target: Target, connections: number, seconds: number): Promise<CannonResult> {
  const result = await autocannon({
    url: target.baseUrl + target.path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
    connections,
    duration: seconds,
    timeout: 30,
  });
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok,
    failed: result.non2xx + result.errors,
  };
}

export interface Timing {
  /** Whole response, milliseconds (high resolution). */
  totalMs: number[];
  /** Until the first body bytes arrived, milliseconds. */
  firstByteMs: number[];
  failed: number;
}

/**
 * Requests one after another on one keep-alive connection for `ms` (at most `maxRequests`),
 * timing each with hrtime: autocannon's whole-millisecond histogram cannot show sub-ms overheads.
 * `gapMs` > 0 spaces the requests (a light sampler beside a load run).
 */
export async function timeSequential(
  target: Target,
  ms: number,
  maxRequests: number,
  gapMs = 0,
): Promise<Timing> {
  const client = new Client(target.baseUrl, { pipelining: 1, keepAliveTimeout: 30_000 });
  const timing: Timing = { totalMs: [], firstByteMs: [], failed: 0 };
  const headers = { 'content-type': 'application/json', ...target.headers };
  const deadline = Date.now() + ms;
  try {
    for (let i = 0; i < maxRequests && Date.now() < deadline; i++) {
      const start = process.hrtime.bigint();
      let firstByte = 0n;
      try {
        const res = await client.request({ method: 'POST', path: target.path, headers, body: target.body });
        for await (const chunk of res.body) {
          if (firstByte === 0n && (chunk as Buffer).length > 0) firstByte = process.hrtime.bigint();
        }
        const end = process.hrtime.bigint();
        if (res.statusCode >= 300) {
          timing.failed++;
        } else {
          timing.totalMs.push(Number(end - start) / 1e6);
          timing.firstByteMs.push(Number((firstByte || end) - start) / 1e6);
        }
      } catch {
        timing.failed++;
      }
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  } finally {
    await client.close();
  }
  return timing;
}
