import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeHost, startFakeOpenAI } from '../fakes';
import { fundedUser } from '../support/platform';
import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';
import { startTestApp } from '../support/test-app';

/** One span as an OTLP/HTTP JSON export carries it, flattened. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  attributes: Record<string, string | number | boolean>;
  events: { name: string; timeNs: bigint }[];
  status: number;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type OtlpAttribute = { key: string; value: OtlpValue };

/** OTLP ids come hex-encoded in the JS exporter's JSON, base64 in the spec's protobuf-JSON mapping. */
function hexId(id: string | undefined): string {
  if (!id) return '';
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)
    ? id.toLowerCase()
    : Buffer.from(id, 'base64').toString('hex');
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? [])
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.doubleValue ??
      (value.boolValue as boolean);
  return out;
}

/** A minimal OTLP/HTTP trace receiver: POST /v1/traces with the exporter's JSON body. */
async function startReceiver(): Promise<{
  url: string;
  spans: ReceivedSpan[];
  paths: string[];
  close(): Promise<void>;
}> {
  const spans: ReceivedSpan[] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const data = JSON.parse(body) as {
        resourceSpans: {
          resource: { attributes: OtlpAttribute[] };
          scopeSpans: {
            spans: {
              traceId: string;
              spanId: string;
              parentSpanId?: string;
              name: string;
              kind: number;
              startTimeUnixNano: string | number;
              attributes: OtlpAttribute[];
              events?: { name: string; timeUnixNano: string | number }[];
              status?: { code?: number };
            }[];
          }[];
        }[];
      };
      for (const rs of data.resourceSpans) {
        const service = String(attributes(rs.resource.attributes)['service.name']);
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              service,
              traceId: hexId(s.traceId),
              spanId: hexId(s.spanId),
              parentSpanId: hexId(s.parentSpanId),
              name: s.name,
              kind: s.kind,
              startNs: BigInt(s.startTimeUnixNano),
              attributes: attributes(s.attributes),
              events: (s.events ?? []).map((e) => ({ name: e.name, timeNs: BigInt(e.timeUnixNano) })),
              status: s.status?.code ?? 0,
            });
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** POST with a chunked body: express and Nest serve it, never the fast path (common/fast-path.ts). */
function postChunked(url: string, body: object, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'Transfer-Encoding': 'chunked' } });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
    req.end(JSON.stringify(body));
  });
}

describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let host: FakeHost;

  afterAll(async () => {
    await host?.close();
  });

  it('a completion gives one GenAI span with reserve, host call (first-token event) and settle children; its trace id is in the log line', async () => {
    const receiver = await startReceiver();
    host = await startFakeOpenAI({ models: ['llama3.1'], tokens: 5 });
    const setup = await startTestApp();
    await setup.dataSource.query('DELETE FROM hosts');
    const rich = await fundedUser(setup, 10_000_000n);
    const poor = await fundedUser(setup, 1n);
    await setup.close();
    const port = randomPort();
    const p = spawnBuilt('dist/src/main.js', [], {
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? '',
      REDIS_PREFIX: `le-test-trace-${port}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOSTS: `openai=${host.url}`,
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_MS: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'llmendpoint-test',
    });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health/hosts`, 30000);
      const base = `http://127.0.0.1:${port}`;
      const messages = [{ role: 'user', content: 'hello there' }];
      const headers = (key: string, id: string) => ({
        'Content-Type': 'application/json',
        Authorization: `Bearer ${key}`,
        'X-Request-Id': id,
      });
      // Content-Length and plain JSON: the fast path serves it.
      const fast = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: headers(rich.key, 'trace-fast'),
        body: JSON.stringify({ model: 'llama3.1', messages, max_tokens: 16 }),
      });
      expect(fast.status).toBe(200);
      await fast.text();
      await postChunked(
        `${base}/v1/chat/completions`,
        { model: 'llama3.1', messages, max_tokens: 16, stream: true },
        headers(rich.key, 'trace-express'),
      );
      const refused = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: headers(poor.key, 'trace-402'),
        body: JSON.stringify({ model: 'llama3.1', messages, max_tokens: 16 }),
      });
      expect(refused.status).toBe(402);
      await refused.text();
      p.child.kill('SIGTERM');
      expect((await p.exit)[0]).toBe(0);

      // The exporter's JSON mode on the standard path; the shutdown flushed every span.
      expect(receiver.paths[0]).toMatch(/^POST \/v1\/traces application\/json/);
      const lines = p
        .out()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const line = (id: string) => lines.find((l) => (l.req as { id?: string } | undefined)?.id === id) ?? {};
      const hostPort = Number(new URL(host.url).port);

      for (const id of ['trace-fast', 'trace-express']) {
        const log = line(id) as {
          traceId?: string;
          tokensIn: number;
          tokensOut: number;
          credits: string;
          host: string;
        };
        expect(log.traceId).toMatch(/^[0-9a-f]{32}$/);
        const spans = receiver.spans.filter((s) => s.traceId === log.traceId);
        const root = spans.find((s) => s.parentSpanId === '') as ReceivedSpan;
        expect(root).toBeDefined();
        expect(root.service).toBe('llmendpoint-test');
        expect(root.name).toBe('chat llama3.1');
        expect(root.kind).toBe(2); // SERVER
        expect(root.attributes).toMatchObject({
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'llama3.1',
          'gen_ai.request.max_tokens': 16,
          'gen_ai.usage.input_tokens': log.tokensIn,
          'gen_ai.usage.output_tokens': 5,
          'llmendpoint.credits': Number(log.credits),
          'llmendpoint.status': 'ok',
          'llmendpoint.host': log.host,
          'server.address': '127.0.0.1',
          'server.port': hostPort,
        });
        expect(log.tokensOut).toBe(5);
        expect(Number(log.credits)).toBeGreaterThan(0);
        const children = spans.filter((s) => s.parentSpanId === root.spanId);
        expect(children.map((s) => s.name).sort()).toEqual(['host call', 'reserve', 'settle']);
        const call = children.find((s) => s.name === 'host call') as ReceivedSpan;
        expect(call.kind).toBe(3); // CLIENT
        expect(call.attributes['server.port']).toBe(hostPort);
        const firstToken = call.events.find((e) => e.name === 'gen_ai.first_token');
        expect(firstToken).toBeDefined();
        expect((firstToken as { timeNs: bigint }).timeNs).toBeGreaterThanOrEqual(call.startNs);
        expect(children.find((s) => s.name === 'settle')?.attributes['llmendpoint.credits']).toBe(
          Number(log.credits),
        );
        for (const span of spans) expect([span.name, span.status]).toEqual([span.name, 0]);
      }
      const streamed = receiver.spans.find(
        (s) => s.traceId === (line('trace-express') as { traceId?: string }).traceId && s.parentSpanId === '',
      );
      expect(streamed?.attributes['llmendpoint.stream']).toBe(true);

      // Refused at the reservation: the request span and its reserve span end in error, no host call.
      const refusedTrace = (line('trace-402') as { traceId?: string }).traceId;
      expect(refusedTrace).toMatch(/^[0-9a-f]{32}$/);
      const refusedSpans = receiver.spans.filter((s) => s.traceId === refusedTrace);
      expect(refusedSpans.map((s) => [s.name, s.status]).sort()).toEqual(
        expect.arrayContaining([
          ['chat llama3.1', 2],
          ['reserve', 2],
        ]),
      );
      expect(refusedSpans.find((s) => s.name === 'reserve')?.attributes['error.type']).toBe(
        'insufficient_credits',
      );
      expect(refusedSpans.some((s) => s.name === 'settle')).toBe(false);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await receiver.close();
    }
  });
});
