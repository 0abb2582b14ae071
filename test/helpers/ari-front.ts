// A loopback HTTPS reverse proxy in front of a Pebble started by startPebble(), adding what Pebble
// 2.4 lacks so those client flows can be tested against a real CA:
//   - ACME Renewal Information (RFC 9773): `renewalInfo` in the directory and
//     GET /renewal-info/<certId> answering with the window the test chooses (plus Retry-After),
//     for every certificate a client downloaded through the front (or registered with addCert);
//   - certificate profiles (draft-ietf-acme-profiles): `meta.profiles` in the directory, an
//     invalidProfile error for an unknown profile name, and `profile` echoed in order objects;
//   - a record of every newOrder payload (identifiers, profile, replaces) for assertions.
//
// Usage — stop in finally, before the Pebble it fronts:
//   const front = await startAriFront({ pebble, profiles: { shortlived: '6 days' },
//     window: (c) => ({ start: c.notBefore, end: new Date(c.notBefore.getTime() + 3_600_000) }) });
//   try { /* ACME client on front.directoryUrl, trusting front.caPem */ } finally { await front.stop(); }
//
// Everything else is forwarded to Pebble byte for byte with the client's Host header, so Pebble
// itself builds every URL (directory, Location, Link, JWS "url" checks) on the front's origin; any
// Pebble origin that still appears in a body or a Location/Link header is rewritten anyway.
// The front serves Pebble's own HTTPS certificate (SANs 127.0.0.1, localhost), so clients trust
// the same CA (pebble.caPem / pebble.caFile) for both.
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as X509Lib from '@peculiar/x509';
// pki.js installs the Reflect metadata polyfill @peculiar/x509 needs; import it first.
import './pki.js';
import type { PebbleInstance } from './pebble.js';

const x509: typeof X509Lib = await import('@peculiar/x509');

export interface AriCertInfo {
  der: Buffer;
  pem: string;
  notBefore: Date;
  notAfter: Date;
  /** RFC 9773 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial bytes). */
  certId: string;
  /** Serial as lowercase hex of the DER INTEGER content (may start with 00). */
  serialHex: string;
}

export interface AriWindow {
  start: Date;
  end: Date;
  explanationURL?: string;
}

export interface AriOrderRecord {
  identifiers: Array<{ type: string; value: string }>;
  profile?: string;
  replaces?: string;
  /** The whole decoded newOrder payload. */
  payload: Record<string, unknown>;
  /** HTTP status the front answered with (201 when Pebble created the order). */
  status: number;
  /** The order URL (Location), when created. */
  orderUrl?: string;
}

export interface AriFrontOptions {
  pebble: PebbleInstance;
  /** name → description, advertised in directory.meta.profiles. */
  profiles?: Record<string, string>;
  /**
   * With `profiles`, a newOrder naming a profile not in it is answered 400 invalidProfile without
   * reaching Pebble (default true). Without `profiles` every order is forwarded.
   */
  rejectUnknownProfile?: boolean;
  /**
   * The suggested renewal window for a certificate, asked on every GET /renewal-info request (so
   * a test can change its answer over time); null answers 404 as for an unknown certificate.
   * Default: the middle third of the lifetime.
   */
  window?: (cert: AriCertInfo) => AriWindow | null;
  /** Retry-After of renewal-info responses (seconds); default 21600. */
  retryAfterSeconds?: number;
  /**
   * Replaces each certificate chain Pebble serves (PEM, leaf first) before the client sees it,
   * e.g. a leaf re-issued with an empty subject as a `tlsserver` profile would (Pebble 2.4 always
   * sets a CN). What it returns is what the client downloads and the front records.
   */
  rewriteChain?: (pem: string) => string | Promise<string>;
}

export interface AriFront {
  /** https://127.0.0.1:F/dir */
  directoryUrl: string;
  /** https://127.0.0.1:F/renewal-info */
  renewalInfoUrl: string;
  port: number;
  /** The CA to trust for the front's HTTPS (Pebble's test HTTPS CA). */
  caFile: string;
  caPem: string;
  /** newOrder payloads received, in order (requests refused only for a bad nonce are left out). */
  orders(): AriOrderRecord[];
  /** Certificates seen downloaded through the front (leaf of each chain) or added with addCert. */
  certs(): AriCertInfo[];
  /** certIds asked for on /renewal-info, in order. */
  renewalInfoRequests(): string[];
  /** Makes the front answer renewal-info for a certificate (PEM, leaf first) it did not see. */
  addCert(pemOrDer: string | Buffer): AriCertInfo;
  /** Closes the server and every connection. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_RETRY_AFTER = 21_600;

export async function startAriFront(opts: AriFrontOptions): Promise<AriFront> {
  const { pebble } = opts;
  const pebbleOrigin = new URL(pebble.directoryUrl).origin;
  const pebbleUrl = new URL(pebble.directoryUrl);
  const agent = new https.Agent({ keepAlive: true, ca: pebble.caPem });
  const orders: AriOrderRecord[] = [];
  const certs = new Map<string, AriCertInfo>();
  const renewalInfoRequests: string[] = [];
  /** finalize URL → fields Pebble drops but RFC 9773 / the profiles draft echo in the order. */
  const orderExtras = new Map<string, { profile?: string; replaces?: string }>();
  const retryAfter = opts.retryAfterSeconds ?? DEFAULT_RETRY_AFTER;
  const rejectUnknownProfile = opts.rejectUnknownProfile ?? true;
  let frontOrigin = '';
  let newOrderPath = '';
  let newNoncePath = '';

  const rewrite = (s: string): string => s.split(pebbleOrigin).join(frontOrigin);

  const forward = (req: http.IncomingMessage, body: Buffer, method = req.method ?? 'GET', path = req.url ?? '/'): Promise<Upstream> => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (HOP_BY_HOP.has(name) || name === 'accept-encoding' || value === undefined) continue;
      headers[name] = value;
    }
    headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const up = https.request({ host: pebbleUrl.hostname, port: pebbleUrl.port, method, path, headers, agent, timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      up.on('timeout', () => up.destroy(new Error(`${method} ${path} to Pebble timed out`)));
      up.on('error', reject);
      up.end(body);
    });
  };

  const send = (res: http.ServerResponse, up: Upstream, body: Buffer = up.body): void => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (HOP_BY_HOP.has(name) || name === 'content-length' || value === undefined) continue;
      headers[name] = name === 'location' || name === 'link'
        ? (Array.isArray(value) ? value.map(rewrite) : rewrite(value))
        : value;
    }
    const text = body.toString('latin1');
    const out = text.includes(pebbleOrigin) ? Buffer.from(rewrite(text), 'latin1') : body;
    headers['content-length'] = String(out.length);
    res.writeHead(up.status, headers);
    res.end(out);
  };

  const problem = (res: http.ServerResponse, status: number, type: string, detail: string, extra: http.OutgoingHttpHeaders = {}): void => {
    const body = Buffer.from(JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail, status }));
    res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': String(body.length), ...extra });
    res.end(body);
  };

  const serveRenewalInfo = (res: http.ServerResponse, certId: string): void => {
    renewalInfoRequests.push(certId);
    const cert = certs.get(certId);
    const win = cert ? (opts.window ?? defaultWindow)(cert) : null;
    if (!cert || !win) {
      problem(res, 404, 'malformed', `no renewal information for certificate ${certId}`);
      return;
    }
    const body = Buffer.from(JSON.stringify({
      suggestedWindow: { start: win.start.toISOString(), end: win.end.toISOString() },
      ...(win.explanationURL ? { explanationURL: win.explanationURL } : {}),
    }));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'retry-after': String(retryAfter),
      'cache-control': 'public, max-age=0, no-cache',
    });
    res.end(body);
  };

  const addCert = (pemOrDer: string | Buffer): AriCertInfo => {
    const info = certInfo(pemOrDer);
    certs.set(info.certId, info);
    return info;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';

    if (path.startsWith('/renewal-info/') && (req.method === 'GET' || req.method === 'HEAD')) {
      serveRenewalInfo(res, decodeURIComponent(path.slice('/renewal-info/'.length)));
      return;
    }

    if (path === pebbleUrl.pathname && req.method === 'GET') {
      const up = await forward(req, body);
      if (up.status !== 200) return send(res, up);
      const dir = JSON.parse(rewrite(up.body.toString('utf8'))) as { meta?: Record<string, unknown> } & Record<string, unknown>;
      dir.renewalInfo = `${frontOrigin}/renewal-info`;
      if (opts.profiles) dir.meta = { ...dir.meta, profiles: opts.profiles };
      return send(res, up, Buffer.from(JSON.stringify(dir, null, 2)));
    }

    if (path === newOrderPath && req.method === 'POST') {
      const payload = jwsPayload(body);
      const record: AriOrderRecord = {
        identifiers: Array.isArray(payload.identifiers) ? payload.identifiers as AriOrderRecord['identifiers'] : [],
        payload,
        status: 0,
      };
      if (typeof payload.profile === 'string') record.profile = payload.profile;
      if (typeof payload.replaces === 'string') record.replaces = payload.replaces;
      orders.push(record);
      if (opts.profiles && rejectUnknownProfile && record.profile !== undefined && !(record.profile in opts.profiles)) {
        // A fresh nonce from Pebble, as every ACME error response carries one.
        const nonce = await forward(req, Buffer.alloc(0), 'HEAD', newNoncePath);
        record.status = 400;
        problem(res, 400, 'invalidProfile', `profile "${record.profile}" is not offered (offered: ${Object.keys(opts.profiles).join(', ')})`, {
          'replay-nonce': nonce.headers['replay-nonce'] ?? '',
          link: `<${frontOrigin}${pebbleUrl.pathname}>;rel="index"`,
        });
        return;
      }
      const up = await forward(req, body);
      record.status = up.status;
      // A request Pebble refused for its nonce (PEBBLE_WFE_NONCEREJECT) is resent by the client
      // with a fresh one: it is the same order, so only the resent copy is recorded.
      if (up.status === 400 && up.body.toString('utf8').includes('urn:ietf:params:acme:error:badNonce')) orders.splice(orders.indexOf(record), 1);
      if (typeof up.headers.location === 'string') record.orderUrl = rewrite(up.headers.location);
      if (up.status === 201 && (record.profile !== undefined || record.replaces !== undefined)) {
        const order = JSON.parse(up.body.toString('utf8')) as Record<string, unknown>;
        if (typeof order.finalize === 'string') {
          const extras = { profile: record.profile, replaces: record.replaces };
          orderExtras.set(rewrite(order.finalize), extras);
          return send(res, up, Buffer.from(JSON.stringify(withExtras(order, extras), null, 2)));
        }
      }
      return send(res, up);
    }

    const up = await forward(req, body);
    const type = String(up.headers['content-type'] ?? '');
    if (up.status === 200 && type.startsWith('application/pem-certificate-chain')) {
      const chain = opts.rewriteChain ? await opts.rewriteChain(up.body.toString('utf8')) : up.body.toString('utf8');
      const leaf = firstPem(chain);
      if (leaf) addCert(leaf);
      if (opts.rewriteChain) return send(res, up, Buffer.from(chain));
    }
    if (orderExtras.size > 0 && type.startsWith('application/json')) {
      const text = rewrite(up.body.toString('utf8'));
      const finalize = /"finalize"\s*:\s*"([^"]+)"/.exec(text)?.[1];
      const extras = finalize ? orderExtras.get(finalize) : undefined;
      if (extras) return send(res, up, Buffer.from(JSON.stringify(withExtras(JSON.parse(text) as Record<string, unknown>, extras), null, 2)));
    }
    return send(res, up);
  };

  const server = https.createServer({ cert: pebble.tls.certPem, key: pebble.tls.keyPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      problem(res, 502, 'serverInternal', `ARI front: ${(err as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  frontOrigin = `https://127.0.0.1:${port}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    });
    return stopping;
  };

  try {
    // Learn Pebble's paths, asking with the front's Host as clients will.
    const dir = await new Promise<Record<string, string>>((resolve, reject) => {
      const r = https.request({ host: pebbleUrl.hostname, port: pebbleUrl.port, path: pebbleUrl.pathname, headers: { host: `127.0.0.1:${port}` }, agent, timeout: 5000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text) as Record<string, string>);
          } catch (err) {
            reject(new Error(`Pebble directory is not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`, { cause: err }));
          }
        });
      });
      r.on('timeout', () => r.destroy(new Error('Pebble directory request timed out')));
      r.on('error', reject);
      r.end();
    });
    if (!dir.newOrder || !dir.newNonce) throw new Error(`Pebble directory lacks newOrder/newNonce: ${JSON.stringify(dir)}`);
    newOrderPath = new URL(dir.newOrder).pathname;
    newNoncePath = new URL(dir.newNonce).pathname;
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    directoryUrl: `${frontOrigin}${pebbleUrl.pathname}`,
    renewalInfoUrl: `${frontOrigin}/renewal-info`,
    port,
    caFile: pebble.caFile,
    caPem: pebble.caPem,
    orders: () => orders.map((o) => ({ ...o })),
    certs: () => [...certs.values()],
    renewalInfoRequests: () => [...renewalInfoRequests],
    addCert,
    stop,
  };
}

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length']);

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The decoded payload of a flattened JWS ({protected, payload, signature}); {} if there is none. */
function jwsPayload(body: Buffer): Record<string, unknown> {
  try {
    const jws = JSON.parse(body.toString('utf8')) as { payload?: unknown };
    if (typeof jws.payload !== 'string' || jws.payload === '') return {};
    const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as unknown;
    return payload !== null && typeof payload === 'object' ? payload as Record<string, unknown> : {};
  } catch (err) {
    // Pebble will reject the request itself; the record just stays empty.
    if (err instanceof SyntaxError) return {};
    throw err;
  }
}

function withExtras(order: Record<string, unknown>, extras: { profile?: string; replaces?: string }): Record<string, unknown> {
  const out = { ...order };
  if (extras.profile !== undefined && out.profile === undefined) out.profile = extras.profile;
  if (extras.replaces !== undefined && out.replaces === undefined) out.replaces = extras.replaces;
  return out;
}

function firstPem(text: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
}

/** Middle third of the lifetime. */
function defaultWindow(cert: AriCertInfo): AriWindow {
  const nb = cert.notBefore.getTime();
  const life = cert.notAfter.getTime() - nb;
  return { start: new Date(nb + life / 3), end: new Date(nb + (2 * life) / 3) };
}

/** Parses a certificate (PEM — the first block — or DER) into what renewal-info needs. */
export function certInfo(pemOrDer: string | Buffer): AriCertInfo {
  const source = typeof pemOrDer === 'string' ? firstPem(pemOrDer) : pemOrDer;
  if (source === undefined) throw new Error('certInfo: no PEM certificate block found');
  const cert = new X509Certificate(source);
  const der = cert.raw;
  const serial = serialBytes(der);
  return {
    der,
    pem: cert.toString(),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    certId: `${akiKeyId(der).toString('base64url')}.${serial.toString('base64url')}`,
    serialHex: serial.toString('hex'),
  };
}

/** RFC 9773 §4.1 certificate identifier of a certificate (PEM or DER). */
export function ariCertId(pemOrDer: string | Buffer): string {
  return certInfo(pemOrDer).certId;
}

function akiKeyId(der: Buffer): Buffer {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error(`certificate ${cert.subject}: no Authority Key Identifier keyIdentifier, so no ARI certId`);
  return Buffer.from(aki.keyId, 'hex');
}

/**
 * Content octets of the serialNumber INTEGER, derived from the serial's value as @peculiar/x509
 * (a parser independent of the code under test, src/core/der.ts) reads it: DER writes a positive
 * INTEGER in the fewest octets, with a leading 00 when the top bit would otherwise be set.
 */
function serialBytes(der: Buffer): Buffer {
  let hex = new x509.X509Certificate(new Uint8Array(der)).serialNumber.replace(/^(00)+/, '');
  if (hex.length % 2) hex = `0${hex}`;
  if (hex === '') hex = '00';
  const bytes = Buffer.from(hex, 'hex');
  return (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}
