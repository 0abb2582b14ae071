/**
 * Loopback stand-ins for a broken CA, with Pebble's HTTPS identity: a server that answers every
 * request the same way, and a recording proxy in front of Pebble that may answer some requests
 * itself (a fault). Used by the renewal-fault and error-attribution tests.
 */
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request, type PebbleInstance } from './pebble.js';

export interface Server {
  url: string;
  stop(): Promise<void>;
}

async function listen(server: https.Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function stopper(server: https.Server): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
}

/** A "CA" with Pebble's HTTPS identity that answers every request with the same response. */
export async function startFixedCa(pebble: PebbleInstance, status: number, headers: http.OutgoingHttpHeaders, body: string): Promise<Server> {
  const server = https.createServer({ cert: pebble.tls.certPem, key: pebble.tls.keyPem }, (_req, res) => {
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  });
  const origin = await listen(server);
  return { url: `${origin}/dir`, stop: stopper(server) };
}

export interface Exchange {
  method: string;
  path: string;
  /** Decoded JWS payload of a POST ('' for POST-as-GET). */
  payload: string;
  status: number;
}

export interface Canned {
  status: number;
  headers?: http.OutgoingHttpHeaders;
  body: string;
}

export interface Proxy extends Server {
  exchanges: Exchange[];
  /** Every challenge URL path seen in an authorization the CA sent. */
  challengePaths: Set<string>;
  newOrderPath: string;
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'te', 'trailer']);

/**
 * A recording HTTPS proxy in front of Pebble; `fault` may answer a request itself. The client's
 * Host header is passed through, so Pebble builds every URL on the proxy's origin.
 */
export type Fault = (method: string, path: string, newOrderPath: string, payload: string) => Canned | undefined | Promise<Canned | undefined>;

export async function startProxy(pebble: PebbleInstance, fault?: Fault): Promise<Proxy> {
  const dir = JSON.parse((await request(pebble.directoryUrl, { ca: pebble.caPem })).body.toString('utf8')) as Record<string, string>;
  const newOrderPath = new URL(dir['newOrder'] as string).pathname;
  const target = new URL(pebble.directoryUrl);
  const agent = new https.Agent({ ca: pebble.caPem, keepAlive: false });
  const exchanges: Exchange[] = [];
  const challengePaths = new Set<string>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    let payload = '';
    if (method === 'POST') {
      const jws = JSON.parse(body.toString('utf8')) as { payload?: string };
      payload = Buffer.from(jws.payload ?? '', 'base64url').toString('utf8');
    }
    const exchange: Exchange = { method, path, payload, status: 0 };
    exchanges.push(exchange);
    const canned = await fault?.(method, path, newOrderPath, payload);
    if (canned) {
      exchange.status = canned.status;
      res.writeHead(canned.status, { 'content-length': String(Buffer.byteLength(canned.body)), ...canned.headers });
      res.end(canned.body);
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
    headers['content-length'] = String(body.length);
    const up = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const r = https.request({ host: target.hostname, port: target.port, method, path, headers, agent, timeout: 15_000 }, (upRes) => {
        const parts: Buffer[] = [];
        upRes.on('data', (c: Buffer) => parts.push(c));
        upRes.on('end', () => resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: Buffer.concat(parts) }));
        upRes.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new Error(`${method} ${path}: Pebble timed out`)));
      r.on('error', reject);
      r.end(body);
    });
    exchange.status = up.status;
    if (String(up.headers['content-type'] ?? '').includes('json')) {
      const json = JSON.parse(up.body.toString('utf8')) as { challenges?: Array<{ url?: string }> };
      for (const c of json.challenges ?? []) if (c.url) challengePaths.add(new URL(c.url).pathname);
    }
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(up.headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
    out['content-length'] = String(up.body.length);
    res.writeHead(up.status, out);
    res.end(up.body);
  };

  const server = https.createServer({ cert: pebble.tls.certPem, key: pebble.tls.keyPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy(err as Error);
      else res.writeHead(502).end(`proxy: ${(err as Error).message}`);
    });
  });
  const origin = await listen(server);
  const stop = stopper(server);
  return {
    url: `${origin}${target.pathname}`,
    exchanges,
    challengePaths,
    newOrderPath,
    stop: async () => {
      await stop();
      agent.destroy();
    },
  };
}

/**
 * Orders the CA behind `proxy` created (201 to newOrder). A POST Pebble refused for a bad nonce on
 * purpose (PEBBLE_WFE_NONCEREJECT) is retried by the client: that is not a second order.
 */
export function ordersCreated(proxy: Proxy, name?: string): number {
  return proxy.exchanges.filter((e) => e.method === 'POST' && e.path === proxy.newOrderPath && e.status === 201 && (name === undefined || e.payload.includes(`"${name}"`))).length;
}

/** Every newOrder POST the CA behind `proxy` received, accepted or not: "never asked" means none. */
export function newOrderPosts(proxy: Proxy): number {
  return proxy.exchanges.filter((e) => e.method === 'POST' && e.path === proxy.newOrderPath).length;
}
