/**
 * The HTTP side of a node (:9090): `/metrics` (Prometheus text format), `/healthz` (the
 * process can keep its promises: 200 unless stopped or its WAL failed — after a failed
 * write or fsync nothing more can be made durable, so the node asks to be restarted) and `/readyz` (200 only while the node serves:
 * after start-up replay, before shutdown; 503 with the state otherwise).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LifecycleState } from './api/context.ts';
import { splitAddr } from './config.ts';
import type { Metrics } from './metrics.ts';

/** Starts the HTTP server; resolves to it once listening. */
export async function startHttpServer(
  address: string,
  metrics: Metrics,
  state: () => LifecycleState,
  walFailure: () => Error | undefined = () => undefined,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        })
        .catch((err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${err.message}\n`);
        });
      return;
    }
    if (url === '/healthz') {
      const failure = walFailure();
      const stopped = state() === 'stopped';
      const ok = !stopped && !failure;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          failure ? { status: 'wal_failed', error: failure.message } : { status: stopped ? 'stopped' : 'ok' },
        ),
      );
      return;
    }
    if (url === '/readyz') {
      const ok = state() === 'ready';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready: ok, state: state() }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /metrics, /healthz or /readyz\n');
  });
  const { host, port } = splitAddr(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot listen on ${address}: ${err.message}`, { cause: err })),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** The port an HTTP server is bound to. */
export function httpPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
