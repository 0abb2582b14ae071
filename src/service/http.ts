/**
 * The daemon's optional HTTP endpoint (`daemon.http`, loopback by default):
 *
 * - `GET /healthz`: `{status, lastRun, version}`; 200 while alive, 503 when the last run could
 *   not run at all (outcome `error`). status: `starting` before the first run (lastRun null),
 *   `degraded` after a run that failed or errored, `ok` otherwise (a run whose verdict on the
 *   certificates is warning or critical still ran: that is what /metrics and /status tell).
 * - `GET /metrics`: Prometheus text format 0.0.4 (src/core/metrics.ts).
 * - `GET /status`: the document of `certs status --json`.
 * - `GET /`: the dashboard (src/web/page.ts over service/dashboard.ts dashboardData), and
 *   `GET /endpoint/<id>` one stored endpoint's detail (404 for an id that is not digits, not
 *   stored, or not shown by the inventory). HTML under a strict Content-Security-Policy (the
 *   page's one script and one style by their SHA-256, nothing else loads), gzip when the client
 *   accepts it. A 401 there also challenges with Basic on its own header line, which browsers
 *   parse (Chromium takes one challenge per header) to show their login prompt.
 *
 * GET and HEAD only (405 with `Allow` on a known path, 404 elsewhere). The store is opened
 * read-only per request, so the endpoint never holds a lock the run needs and always shows what
 * the last run stored. Nothing from the config is echoed (it holds secrets): only reports, the
 * run's outcome and the version; an internal error answers a bare 500 and goes to `log`.
 *
 * Access (src/service/http-access.ts): with `daemon.http.token` set, every page but `/healthz`
 * needs it (Bearer, or Basic with it as password), else 401; on a loopback listener a `Host` that
 * is not a loopback name gets 421 (DNS rebinding). A non-loopback address without a token is
 * refused at start, as at config load.
 *
 * Bounded cost per client (HttpLimits): header/request/keep-alive/inactivity timeouts, a cap on
 * connections, and on requests waiting on one connection: a client that pipelines and never
 * reads is cut off after `maxPipelined`, instead of making us render and hold a body for each.
 * `/status` and `/metrics` bodies are rendered once per change of the store, config or last run
 * (and at most `cacheMaxAgeMs` old): every response in flight shares one Buffer.
 */
import { statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { isLoopbackHost } from '../config/schema-extras.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { METRICS_CONTENT_TYPE, renderMetrics, type LastRun } from '../core/metrics.js';
import { databasePath } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import { authorized, hostAllowed, WWW_AUTHENTICATE } from './http-access.js';
import { clusterNodes, statusDocument, statusReports } from './status.js';
import { dashboardData, endpointDetail } from './dashboard.js';
import { renderDashboard } from '../web/page.js';
import { renderEndpointPage } from '../web/endpoint-page.js';
import { SCRIPT_SHA256, STYLE_SHA256 } from '../web/assets.js';


/** Where shared http-01 key authorisations are served (acme.challenge.shared). */
const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

export type { LastRun } from '../core/metrics.js';

export interface HttpLimits {
  /** Time to receive a request's headers (also closes a connection that never sends one). */
  headersTimeoutMs: number;
  /** Time to receive a whole request. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** A connection with nothing read or written for this long is destroyed (a client that stopped reading). */
  socketTimeoutMs: number;
  /** Connections at once; more are dropped on accept. */
  maxConnections: number;
  /** Requests waiting on one connection (pipelined ahead of the one being answered); one more and it is destroyed. */
  maxPipelined: number;
  /** A cached `/status` or `/metrics` body (or page) is rendered again after this long even if nothing changed (days left move). */
  cacheMaxAgeMs: number;
  /** Endpoint detail pages kept rendered at once (least recently used goes first). */
  cachedPages: number;
}

/**
 * Scrapers, health checks and a person with curl are local, quick and few, and none pipelines
 * more than a handful of requests: anything beyond these is a stuck or hostile client.
 */
export const HTTP_LIMITS: Readonly<HttpLimits> = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  socketTimeoutMs: 30_000,
  maxConnections: 128,
  maxPipelined: 16,
  cacheMaxAgeMs: 10_000,
  cachedPages: 64,
};

export interface StatusServerOptions {
  /** The current config (it may change on SIGHUP): called on every request, `daemon.http.token` included. */
  config: () => Config;
  /** Opens the store read-only for one render (the CLI's composition root); null when nothing is stored yet. */
  readStore: (config: Config) => Promise<AsyncStore | null>;
  /** The last finished run (the daemon keeps the previous one while a run is in progress), or null before the first. */
  lastRun: () => Promise<LastRun | null>;
  address: string;
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  version: string;
  /** Where internal errors go (never to the client). */
  log?: (message: string) => void;
  /** Clock for `generatedAt` and the body cache's age (tests). */
  now?: () => Date;
  /** Overrides of HTTP_LIMITS (tests use small timeouts). */
  limits?: Partial<HttpLimits>;
}

export interface StatusServer {
  address: string;
  port: number;
  /** The Node server, to watch connections (tests, benchmarks). */
  server: Server;
  /** How many times a `/status`, `/metrics` or page body was rendered (the rest came from the cache). */
  renders(): number;
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

const ROUTES = new Set(['/healthz', '/metrics', '/status', '/']);
const ENDPOINT_PREFIX = '/endpoint/';
const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * The pages load nothing but their own inline script and style (by hash: no nonce to mint per
 * response, so one cached body serves every client) and data: images; no frames, forms or base.
 */
export const PAGE_CSP = `default-src 'none'; script-src 'sha256-${SCRIPT_SHA256}'; style-src 'sha256-${STYLE_SHA256}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** The challenges of a 401 on a page: Basic first and alone on its line (what browsers prompt for), then Bearer. */
const PAGE_CHALLENGES = ['Basic realm="certs", charset="UTF-8"', 'Bearer realm="certs"'];

/** A rendered page: its bytes, and their gzip once a client asked for it. */
interface Page {
  body: Buffer;
  gz?: Buffer;
}

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const now = opts.now ?? (() => new Date());
  const limits: HttpLimits = { ...HTTP_LIMITS, ...opts.limits };
  const startToken = opts.config().daemon?.http?.token;
  if (!isLoopbackHost(opts.address) && startToken === undefined) {
    throw new ConfigError(`${opts.address} is not a loopback address and daemon.http.token is not set; set a token or listen on 127.0.0.1`, { keyPath: 'daemon.http.address' });
  }
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the header and request deadlines on this interval (default 30 s, which would stretch them).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        opts.log?.(`http: ${req.method ?? '?'} ${pathOf(req)}: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) send(req, res, 500, TEXT, 'internal error\n');
        else res.destroy();
      });
    },
  );
  server.maxHeadersCount = 50;
  server.maxConnections = limits.maxConnections;
  server.timeout = limits.socketTimeoutMs;

  // Set once listening (before any request): the address actually bound (`localhost` → 127.0.0.1 or ::1).
  let boundAddress = opts.address;
  let loopback = isLoopbackHost(boundAddress);
  const waiting = new WeakMap<Socket, number>();
  const cache = new Map<string, { key: string; config: Config; at: number; body: Buffer }>();
  // Pages by path (`/`, `/endpoint/<id>`); null: that endpoint has no page (404), decided once per change too.
  const pages = new Map<string, { key: string; config: Config; at: number; page: Page | null }>();
  let renders = 0;
  const inflight = new Map<string, { key: string; config: Config; promise: Promise<unknown> }>();

  /** Counts the request against its connection; false (and the connection destroyed) past maxPipelined. */
  function admit(req: IncomingMessage, res: ServerResponse): boolean {
    const socket = req.socket;
    if (socket.destroyed) return false;
    const n = (waiting.get(socket) ?? 0) + 1;
    if (n > limits.maxPipelined) {
      // Node parses every request of a received chunk before it pauses the socket, and queues a
      // response for each: a client that never reads would have us hold them all.
      socket.destroy();
      return false;
    }
    waiting.set(socket, n);
    res.once('close', () => waiting.set(socket, (waiting.get(socket) ?? 1) - 1));
    // Node drops the socket's inactivity timeout after a keep-alive response; every request sets it again.
    socket.setTimeout(limits.socketTimeoutMs);
    return true;
  }

  /** The body for `path`, rendered again only when the store, the config or the last run changed, or it grew old. */
  async function cached(path: string, config: Config, extra: string, render: () => Promise<string>): Promise<Buffer> {
    const key = `${storeSignature(config)}|${extra}`;
    const t = now().getTime();
    const hit = cache.get(path);
    if (hit && hit.config === config && hit.key === key && t - hit.at >= 0 && t - hit.at < limits.cacheMaxAgeMs) return hit.body;
    return shared(`body ${path}`, key, config, async () => {
      renders++;
      const body = Buffer.from(await render());
      cache.set(path, { key, config, at: t, body });
      return body;
    });
  }

  /**
   * One render per path and store state at a time: requests that miss the cache while it renders
   * (a burst, or a pipelining client) wait for that render instead of starting their own.
   */
  function shared<T>(slot: string, key: string, config: Config, render: () => Promise<T>): Promise<T> {
    const running = inflight.get(slot);
    if (running && running.key === key && running.config === config) return running.promise as Promise<T>;
    const promise = render().finally(() => {
      if (inflight.get(slot)?.promise === promise) inflight.delete(slot);
    });
    inflight.set(slot, { key, config, promise });
    return promise;
  }

  /**
   * Like `cached`, for pages: at most `cachedPages` detail pages are kept (each hit moves its page
   * to the back of the Map, the front one goes first), so a crawler walking every id holds a few.
   */
  async function cachedPage(path: string, config: Config, render: () => Promise<string | null>): Promise<Page | null> {
    const key = storeSignature(config);
    const t = now().getTime();
    const hit = pages.get(path);
    if (hit) pages.delete(path);
    if (hit && hit.config === config && hit.key === key && t - hit.at >= 0 && t - hit.at < limits.cacheMaxAgeMs) {
      pages.set(path, hit);
      return hit.page;
    }
    return shared(`page ${path}`, key, config, async () => {
      renders++;
      const html = await render();
      const page = html === null ? null : { body: Buffer.from(html) };
      pages.set(path, { key, config, at: t, page });
      // The dashboard itself counts as one of them; it is requested most and stays near the back.
      while (pages.size > Math.max(1, limits.cachedPages)) pages.delete(pages.keys().next().value as string);
      return page;
    });
  }

  /** `/` and `/endpoint/<id>`: the page, or 404. */
  async function servePage(req: IncomingMessage, res: ServerResponse, path: string, config: Config): Promise<void> {
    let page: Page | null;
    if (path === '/') {
      page = await cachedPage(path, config, () =>
        // Rows link to `endpoint/<id>`, relative (the page's default in daemon mode), and the detail
        // page back to `../`: both keep working behind a reverse proxy that serves us under a prefix.
        withStore(opts, config, async (store) => renderDashboard(await dashboardData(config, store, now(), { version: opts.version }), { mode: 'daemon' })),
      );
    } else {
      const id = endpointIdOf(path);
      if (id === null) return send(req, res, 404, TEXT, 'not found\n');
      page = await cachedPage(`${ENDPOINT_PREFIX}${id}`, config, () =>
        withStore(opts, config, async (store) => {
          const detail = store ? await endpointDetail(config, store, id, now(), { version: opts.version }) : null;
          return detail ? renderEndpointPage(detail, { mode: 'daemon' }) : null;
        }),
      );
    }
    if (!page) return send(req, res, 404, TEXT, 'not found\n');
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    // One body per path whatever the client: caches must still keep the encodings apart.
    res.setHeader('Vary', 'Accept-Encoding');
    if (acceptsGzip(req.headers['accept-encoding'])) {
      // Compressed once per rendered page, on the first request that wants it.
      page.gz ??= gzipSync(page.body);
      res.setHeader('Content-Encoding', 'gzip');
      return send(req, res, 200, HTML_TYPE, page.gz);
    }
    return send(req, res, 200, HTML_TYPE, page.body);
  }

  /** `/.well-known/acme-challenge/<token>`: the key authorisation from the store, or 404. */
  async function serveChallenge(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(req, res, 405, TEXT, 'method not allowed\n');
    }
    const token = path.slice(CHALLENGE_PREFIX.length);
    // RFC 8555 §8.3: base64url; checked before anything is looked up.
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return send(req, res, 400, TEXT, 'bad token\n');
    const config = opts.config();
    const keyAuth = await withStore(opts, config, async (store) => (store ? store.challenges.get(token, now().getTime()) : null));
    if (keyAuth === null) return send(req, res, 404, TEXT, 'not found\n');
    return send(req, res, 200, TEXT, keyAuth);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // No request here has a body: drain whatever came so the connection stays usable.
    req.resume();
    if (!admit(req, res)) return;
    const path = pathOf(req);
    // Shared http-01 (issue 16): the CA fetches key authorisations through nginx's proxy, with
    // the validated name as Host and no credentials; they are public by design. Nothing else is.
    if (path.startsWith(CHALLENGE_PREFIX)) return serveChallenge(req, res, path);
    if (!hostAllowed(boundAddress, req.headers.host)) return send(req, res, 421, TEXT, 'misdirected request: this endpoint answers to localhost and loopback addresses only\n');
    const config = opts.config();
    if (path !== '/healthz') {
      // A reload that drops the token does not open a non-loopback listener: the starting token stays in force.
      const token = config.daemon?.http?.token ?? (loopback ? undefined : startToken);
      if (token !== undefined && !authorized(req.headers.authorization, token)) {
        res.setHeader('WWW-Authenticate', isPage(path) ? PAGE_CHALLENGES : WWW_AUTHENTICATE);
        return send(req, res, 401, TEXT, 'unauthorized: send the daemon.http.token as a Bearer token (or as the Basic password)\n');
      }
    }
    if (!ROUTES.has(path) && !path.startsWith(ENDPOINT_PREFIX)) return send(req, res, 404, TEXT, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(req, res, 405, TEXT, 'method not allowed\n');
    }
    if (isPage(path)) return servePage(req, res, path, config);
    if (path === '/healthz') {
      const h = healthOf(await opts.lastRun(), opts.version);
      return send(req, res, h.code, JSON_TYPE, `${JSON.stringify(h.body)}\n`);
    }
    if (path === '/status') {
      const body = await cached(path, config, '', () => withStore(opts, config, async (store) => {
        const at = now();
        const nodes = await clusterNodes(store, at);
        return `${JSON.stringify({ ...(await statusDocument(config, store, at)), ...(nodes.length > 0 ? { nodes } : {}) }, null, 2)}\n`;
      }));
      return send(req, res, 200, JSON_TYPE, body);
    }
    const lastRun = await opts.lastRun();
    const body = await cached(path, config, JSON.stringify(lastRun), () =>
      withStore(opts, config, async (store) => {
        const reports = await statusReports(config, store);
        const renewalFailures = new Map<string, number>();
        if (store) {
          // Every managed domain has a series (0 when healthy), so a rate over it starts at the first scrape.
          const states = await store.renewals.all();
          for (const d of config.domains) if (d.managed) renewalFailures.set(d.name, states.get(d.name)?.failures ?? 0);
        }
        return renderMetrics({ reports, renewalFailures, lastRun, pending: store ? await store.notifications.pendingCount() : 0, nodes: await clusterNodes(store, now()) });
      }),
    );
    return send(req, res, 200, METRICS_CONTENT_TYPE, body);
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
  boundAddress = bound.address;
  loopback = isLoopbackHost(boundAddress);

  let closing: Promise<void> | null = null;
  return {
    address: bound.address,
    port: bound.port,
    server,
    renders: () => renders,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function withStore<T>(opts: Pick<StatusServerOptions, 'readStore'>, config: Config, fn: (store: AsyncStore | null) => Promise<T>): Promise<T> {
  const store = await opts.readStore(config);
  try {
    return await fn(store);
  } finally {
    await store?.close();
  }
}

/**
 * Changes whenever the database is written, by this daemon or any other process (cron's `certs
 * run`, `certs scan`): a commit appends to the -wal file, a checkpoint rewrites the main file.
 * Not ctime: SQLite re-applies the database's owner and mode to the -wal at every open, reads too.
 */
function storeSignature(config: Config): string {
  // A PostgreSQL store has no file to watch: its bodies expire by age alone (cacheMaxAgeMs).
  if (config.store?.engine === 'postgres') return 'postgres';
  const db = databasePath(config.dataDir);
  return [db, `${db}-wal`]
    .map((p) => {
      const s = statSync(p, { bigint: true, throwIfNoEntry: false });
      // An empty -wal holds nothing: the one our own read-only open creates is no change.
      return s && s.size > 0n ? `${s.ino}:${s.size}:${s.mtimeNs}` : '-';
    })
    .join('|');
}

function isPage(path: string): boolean {
  return path === '/' || path.startsWith(ENDPOINT_PREFIX);
}

/** The id of `/endpoint/<id>`: digits only, no leading zero, a safe integer; null for anything else. */
export function endpointIdOf(path: string): number | null {
  const m = /^\/endpoint\/([1-9][0-9]{0,14})$/.exec(path);
  return m ? Number(m[1]) : null;
}

/**
 * Whether an `Accept-Encoding` header accepts gzip (RFC 9110 §12.5.3): `gzip` or `x-gzip` with a
 * non-zero weight, or `*` when gzip is not named.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let star = false;
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [name = '', ...params] = part.split(';');
    const coding = name.trim().toLowerCase();
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)).find((m) => m)?.[1];
    const weight = q === undefined ? 1 : Number(q);
    if (coding === 'gzip' || coding === 'x-gzip') return weight > 0;
    if (coding === '*') star = weight > 0;
  }
  return star;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // `/metrics/` is `/metrics`, as most scrapers and proxies would expect.
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function send(req: IncomingMessage, res: ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.statusCode = code;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(req.method === 'HEAD' ? undefined : body);
}
