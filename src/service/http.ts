/**
 * The daemon's optional HTTP endpoint (`daemon.http`, loopback by default):
 *
 * - `GET /healthz`: `{status, lastRun, version}`; 200 while alive, 503 when the last run could
 *   not run at all (outcome `error`). status: `starting` before the first run (lastRun null),
 *   `degraded` after a run that failed or errored, `ok` otherwise (a run whose verdict on the
 *   certificates is warning or critical still ran: that is what /metrics and /status tell).
 * - `GET /metrics`: Prometheus text format 0.0.4 (src/core/metrics.ts).
 * - `GET /status`: the document of `certs status --json`.
 *
 * GET and HEAD only (405 with `Allow` on a known path, 404 elsewhere). The store is opened
 * read-only per request, so the endpoint never holds a lock the run needs and always shows what
 * the last run stored. Nothing from the config is echoed (it holds secrets): only reports, the
 * run's outcome and the version; an internal error answers a bare 500 and goes to `log`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/types.js';
import { METRICS_CONTENT_TYPE, renderMetrics, type LastRun } from '../core/metrics.js';
import { openStore } from '../store/index.js';
import { statusDocument, statusReports } from './status.js';

export type { LastRun } from '../core/metrics.js';

export interface StatusServerOptions {
  /** The current config (it may change on SIGHUP): called on every request. */
  config: () => Config;
  /** The last finished run (the daemon keeps the previous one while a run is in progress), or null before the first. */
  lastRun: () => LastRun | null;
  address: string;
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  version: string;
  /** Where internal errors go (never to the client). */
  log?: (message: string) => void;
  /** Clock for `generatedAt` (tests). */
  now?: () => Date;
}

export interface StatusServer {
  address: string;
  port: number;
  /** Stops listening and closes open connections; resolves once the server is closed. */
  close(): Promise<void>;
}

export interface Health {
  status: 'ok' | 'degraded' | 'starting';
  lastRun: LastRun | null;
  version: string;
}

/** `/healthz` as data: the body and its HTTP status. */
export function healthOf(lastRun: LastRun | null, version: string): { code: 200 | 503; body: Health } {
  // Copied field by field: whatever else the daemon keeps about a run is not published.
  const run = lastRun ? { startedAt: lastRun.startedAt, finishedAt: lastRun.finishedAt, outcome: lastRun.outcome, exitCode: lastRun.exitCode } : null;
  const status: Health['status'] = !run ? 'starting' : run.outcome === 'failed' || run.outcome === 'error' ? 'degraded' : 'ok';
  return { code: run?.outcome === 'error' ? 503 : 200, body: { status, lastRun: run, version } };
}

const ROUTES = new Set(['/healthz', '/metrics', '/status']);

/** Budgets for one request: scrapers are local and quick, a stuck client must not hold a socket. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const now = opts.now ?? (() => new Date());
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      opts.log?.(`http: ${req.method ?? '?'} ${pathOf(req)}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  });
  server.maxHeadersCount = 50;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    // No request here has a body: drain whatever came so the connection stays usable.
    req.resume();
    const path = pathOf(req);
    if (!ROUTES.has(path)) return send(req, res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(req, res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (path === '/healthz') {
      const h = healthOf(opts.lastRun(), opts.version);
      return send(req, res, h.code, 'application/json; charset=utf-8', `${JSON.stringify(h.body)}\n`);
    }
    const config = opts.config();
    const store = openStore(config.dataDir, { readonly: true });
    try {
      if (path === '/status') {
        return send(req, res, 200, 'application/json; charset=utf-8', `${JSON.stringify(statusDocument(config, store, now()), null, 2)}\n`);
      }
      const reports = statusReports(config, store);
      const renewalFailures = new Map<string, number>();
      if (store) {
        // Every managed domain has a series (0 when healthy), so a rate over it starts at the first scrape.
        const states = store.renewals.all();
        for (const d of config.domains) if (d.managed) renewalFailures.set(d.name, states.get(d.name)?.failures ?? 0);
      }
      const body = renderMetrics({ reports, renewalFailures, lastRun: opts.lastRun(), pending: store ? store.notifications.pendingCount() : 0 });
      return send(req, res, 200, METRICS_CONTENT_TYPE, body);
    } finally {
      store?.close();
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.address, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => opts.log?.(`http: ${err.message}`));
  const bound = server.address() as AddressInfo;

  let closing: Promise<void> | null = null;
  return {
    address: bound.address,
    port: bound.port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // `/metrics/` is `/metrics`, as most scrapers and proxies would expect.
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function send(req: IncomingMessage, res: ServerResponse, code: number, type: string, body: string): void {
  res.statusCode = code;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(req.method === 'HEAD' ? undefined : body);
}
