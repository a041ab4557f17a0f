/**
 * Peer (b): the physical limit of a Node gateway on this machine. node:http in front of one
 * upstream through an undici keep-alive Pool; bodies are streamed through both ways, never parsed.
 * Usage: node dist/bench/plain-proxy.js --port <port> --upstream http://127.0.0.1:<port>
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } });
if (!values.port || !values.upstream) throw new Error('usage: plain-proxy --port <port> --upstream <url>');

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'host',
  'upgrade',
  'te',
  'trailer',
]);
const pool = new Pool(values.upstream, { keepAliveTimeout: 60_000, pipelining: 1 });

function forwardable(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

const server = createServer((req, res) => {
  pool.stream(
    {
      method: req.method as 'POST',
      path: req.url ?? '/',
      headers: forwardable(req.headers) as Record<string, string>,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, forwardable(headers));
      return res;
    },
    (error) => {
      if (!error) return;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy(error);
    },
  );
  // A client that hangs up closes the upstream request (the undici body ends with `res`).
  res.once('close', () => {
    if (!res.writableFinished) req.destroy();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1');

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
