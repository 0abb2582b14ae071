/**
 * http-01 preflight: fetch the challenge URL the way the CA will, before the CA is asked, so a
 * misconfigured web server costs no CA rate limit (a failed authorization counts against the
 * "failed validations" limit at Let's Encrypt).
 *
 * What the CA does, and what we copy (Let's Encrypt's Boulder, va/http.go):
 * - It resolves A and AAAA itself and connects to an address, sending `Host: <identifier>` (no
 *   port) and `Accept: *\/*`. It prefers IPv6 and falls back to IPv4 only on a network error, and
 *   other CAs (and Let's Encrypt's secondary vantage points) may pick either family, so we check
 *   EVERY address and fail when any one of them does not serve the token.
 * - It follows at most 10 redirects, only to http:// or https:// URLs, only to the http port (80)
 *   or the https port (443), and only to names, not IP literals. A relative Location is resolved
 *   against the current URL. For https targets it does NOT verify the certificate
 *   (`InsecureSkipVerify: true`: the server has, by definition, no valid certificate yet); so we
 *   do not verify either.
 * - A 200 is needed; the body, with trailing whitespace removed (Boulder trims the right side
 *   only, so leading whitespace fails there and here), must equal the key authorization. Boulder
 *   reads a few hundred bytes at most; we read up to MAX_BODY_BYTES and call more an error.
 *
 * The resolver: with `resolver` ("host:port") we ask that DNS server; otherwise the servers of
 * the system configuration (/etc/resolv.conf), through DNS, never /etc/hosts: the CA does not
 * see this machine's hosts file either.
 */
import type { PreflightConfig } from '../../config/types.js';
import type { Resolver } from 'node:dns/promises';
import { budgetedResolver } from '../../lib/dns-resolver.js';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { AcmeError, errorMessage } from '../../core/errors.js';
import type { ChallengeTask } from '../types.js';

/** Tokens are base64url (RFC 8555 §8.3): this pattern keeps them inside one path segment. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;
/** A response body longer than this is an error (a key authorization is < 100 bytes). */
export const MAX_BODY_BYTES = 8192;
/** Like Let's Encrypt. */
export const MAX_REDIRECTS = 10;

/** AcmeError code of a preflight that could not observe what the CA will see: logged, not fatal. */
export const PREFLIGHT_INCONCLUSIVE = 'preflight-inconclusive';
/** How much of an unexpected body an error message shows. */
const BODY_EXCERPT_BYTES = 200;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface HttpPreflightOptions {
  /** Port of the first request (80 for every public CA; Pebble uses its httpPort). */
  port: number;
  /** Port https redirects may go to (default 443). */
  httpsPort?: number;
  /** DNS server "host:port" (or "host", "[v6]:port"); default the system's DNS servers. */
  resolver?: string;
  /** Budget of the whole check: DNS, every address, every redirect. */
  timeoutMs: number;
  /** Aborting it rejects with its reason (not an AcmeError: the caller cancelled). */
  signal?: AbortSignal;
}

/** Throws an AcmeError unless task.token is a non-empty base64url string. */
export function assertValidToken(task: ChallengeTask, who: string): void {
  if (typeof task.token !== 'string' || !TOKEN_PATTERN.test(task.token)) {
    throw new AcmeError(
      'challenge',
      `domain "${task.domain}": ${who}: refusing token ${JSON.stringify(task.token)} for ${task.identifier}: expected base64url characters [A-Za-z0-9_-] only (the CA sent a malformed token)`,
      { domain: task.domain },
    );
  }
}

/** `http://<identifier>[:port]/.well-known/acme-challenge/<token>`, as the CA would write it. */
export function challengeUrl(identifier: string, token: string, port: number): string {
  return formatUrl('http', identifier, port, `/.well-known/acme-challenge/${token}`);
}

type FailureKind = 'dns' | 'connect' | 'timeout' | 'http' | 'redirect';

interface Failure {
  kind: FailureKind;
  /** What happened, without the domain prefix. */
  text: string;
}

interface Hop {
  scheme: 'http' | 'https';
  host: string;
  address: string;
  port: number;
  path: string;
  /** IPv4 address to retry on a network error (a redirect to another name, like the CA). */
  fallback?: string;
}

interface Fetched {
  status: number;
  location: string | undefined;
  body: Buffer;
  tooLarge: boolean;
}

/**
 * Resolves task.identifier and GETs the challenge URL from each of its addresses. Resolves when
 * every address serves task.keyAuthorization; otherwise throws AcmeError('challenge') naming the
 * domain, the URL, each failing address and what came back, with a hint.
 */
export async function checkHttpToken(task: ChallengeTask, opts: HttpPreflightOptions): Promise<void> {
  assertValidToken(task, 'http-01 preflight');
  opts.signal?.throwIfAborted();
  const deadline = AbortSignal.timeout(Math.max(1, opts.timeoutMs));
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const ctx: Ctx = {
    task,
    port: opts.port,
    httpsPort: opts.httpsPort ?? 443,
    resolver: opts.resolver,
    timeoutMs: opts.timeoutMs,
    signal,
    callerSignal: opts.signal,
  };
  const url = challengeUrl(task.identifier, task.token, opts.port);
  const via = opts.resolver ? `DNS server ${opts.resolver}` : 'the system DNS servers';

  const resolved = await resolveAddresses(ctx, task.identifier);
  if ('failure' in resolved) {
    throw fail(ctx, `cannot fetch ${url}: ${resolved.failure.text}`, resolved.failure.kind, via);
  }

  const path = `/.well-known/acme-challenge/${task.token}`;
  const outcomes = await Promise.all(
    resolved.addresses.map((address) => followChain(ctx, { scheme: 'http', host: task.identifier, address, port: opts.port, path })),
  );
  ctx.callerSignal?.throwIfAborted();
  const failures = outcomes.flatMap((o, i) => (o ? [{ address: resolved.addresses[i] as string, failure: o }] : []));
  if (failures.length === 0) return;

  const n = resolved.addresses.length;
  const summary = n === 1 ? '' : ` (${failures.length} of ${n} addresses failed; every address must serve the token, the CA may use any of them)`;
  const parts = failures.map(({ address, failure }) => `from ${bracket(address)}: ${failure.text}`);
  throw fail(ctx, `GET ${url} did not return the key authorization${summary}: ${parts.join('; ')}`, (failures[0] as { failure: Failure }).failure.kind, via);
}

interface Ctx {
  task: ChallengeTask;
  port: number;
  httpsPort: number;
  resolver: string | undefined;
  timeoutMs: number;
  signal: AbortSignal;
  callerSignal: AbortSignal | undefined;
}

function fail(ctx: Ctx, what: string, kind: FailureKind, via: string): AcmeError {
  ctx.callerSignal?.throwIfAborted();
  const { task } = ctx;
  // Not finding or not reaching the name from here says little about what the CA will see
  // (split-horizon DNS, NAT, a firewall open only to the outside, a test CA with its own resolver)
  // unless the operator told us which resolver matches the CA's view. A server that answered with
  // the wrong thing, though, is what the CA will get too.
  const conclusive = kind === 'http' || kind === 'redirect' || ctx.resolver !== undefined;
  return new AcmeError(conclusive ? 'challenge' : PREFLIGHT_INCONCLUSIVE, `domain "${task.domain}": http-01 preflight for ${task.identifier} failed: ${what}`, { domain: task.domain }, { hint: hintFor(kind, ctx, via) });
}

function hintFor(kind: FailureKind, ctx: Ctx, via: string): string {
  switch (kind) {
    case 'dns':
      return `does ${ctx.task.identifier} have an A or AAAA record pointing at this server? (asked ${via})`;
    case 'connect':
    case 'timeout':
      return `is a web server listening on port ${ctx.port} of that address, reachable through the firewall from the internet?`;
    case 'redirect':
      return `the CA follows at most ${MAX_REDIRECTS} redirects, only to http:// or https:// on ports ${ctx.port} and ${ctx.httpsPort}, only to names: serve /.well-known/acme-challenge/ without a redirect`;
    case 'http':
      return `is the webroot served by the web server for this name on port ${ctx.port}? nginx: include templates/nginx/acme-challenge.conf (location ^~ /.well-known/acme-challenge/ { root <webroot>; }) in the server block for ${ctx.task.identifier}`;
  }
}

// ---------------------------------------------------------------------------------------------
// DNS

type Resolved = { addresses: string[] } | { failure: Failure };

/** AAAA then A addresses of `name` (an IP literal stands for itself). */
async function resolveAddresses(ctx: Ctx, name: string): Promise<Resolved> {
  const bare = unbracket(name);
  if (isIP(bare)) return { addresses: [bare] };
  let resolver: Resolver;
  try {
    resolver = budgetedResolver(ctx.timeoutMs, ctx.resolver || undefined);
  } catch (err) {
    return { failure: { kind: 'dns', text: `invalid resolver ${JSON.stringify(ctx.resolver)} (expected "host:port"): ${errorMessage(err)}` } };
  }
  const onAbort = (): void => resolver.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let v6: PromiseSettledResult<string[]>;
  let v4: PromiseSettledResult<string[]>;
  try {
    [v6, v4] = await Promise.allSettled([resolver.resolve6(name), resolver.resolve4(name)]);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
  ctx.callerSignal?.throwIfAborted();
  const addresses = [...(v6.status === 'fulfilled' ? v6.value : []), ...(v4.status === 'fulfilled' ? v4.value : [])];
  if (addresses.length > 0) return { addresses };
  if (ctx.signal.aborted) return { failure: { kind: 'timeout', text: `resolving ${name} took longer than the ${ctx.timeoutMs} ms budget` } };
  const why = (r: PromiseSettledResult<string[]>, type: string): string =>
    r.status === 'fulfilled' ? `${type}: no records` : `${type}: ${dnsErrorText(r.reason)}`;
  return { failure: { kind: 'dns', text: `${name} has no address (${why(v4, 'A')}; ${why(v6, 'AAAA')})` } };
}

/** A node:dns failure in words; the CAA preflight (acme/caa.ts) words its failures the same way. */
export function dnsErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOTFOUND':
      return 'NXDOMAIN (the name does not exist)';
    case 'ENODATA':
      return 'no records';
    case 'ESERVFAIL':
      return 'SERVFAIL from the DNS server';
    case 'EREFUSED':
      return 'the DNS server refused the query';
    case 'ETIMEOUT':
      return 'the DNS server did not answer';
    case 'ECONNREFUSED':
      return 'connection to the DNS server refused';
    default:
      return code ? `${code} (${errorMessage(err)})` : errorMessage(err);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * Follows one redirect chain starting at `first`. Returns undefined on success, else the failure,
 * told as the chain: `301 to http://… → 302 to https://… (203.0.113.9) → HTTP 404, body "…"`.
 */
async function followChain(ctx: Ctx, first: Hop): Promise<Failure | undefined> {
  const { task } = ctx;
  let hop = first;
  const trail: string[] = [];
  const told = (kind: FailureKind, text: string): Failure => {
    // A loop would repeat itself ten times: keep the start and the end.
    const shown = trail.length > 4 ? [...trail.slice(0, 2), `… ${trail.length - 3} more …`, ...trail.slice(-1)] : trail;
    return { kind, text: [...shown, text].join(' → ') };
  };
  for (let redirects = 0; ; ) {
    let res: Fetched;
    try {
      res = await fetchOnce(hop, ctx.signal);
    } catch (err) {
      if (hop.fallback !== undefined && !ctx.signal.aborted) {
        trail.push(`${connectErrorText(err, ctx, hop)} at ${bracket(hop.address)}, falling back to ${hop.fallback} like the CA`);
        hop = { ...hop, address: hop.fallback, fallback: undefined };
        continue;
      }
      return told(ctx.signal.aborted ? 'timeout' : 'connect', connectErrorText(err, ctx, hop));
    }
    if (REDIRECT_STATUSES.has(res.status) && res.location !== undefined) {
      if (++redirects > MAX_REDIRECTS) return told('redirect', `${res.status} again: too many redirects (more than ${MAX_REDIRECTS})`);
      const next = await redirectTarget(ctx, hop, first, res.location);
      if ('failure' in next) return told(next.failure.kind, `${res.status} to ${JSON.stringify(res.location)}: ${next.failure.text}`);
      const moved = next.hop.address === hop.address ? '' : ` (${bracket(next.hop.address)})`;
      trail.push(`${res.status} to ${formatUrl(next.hop.scheme, next.hop.host, next.hop.port, next.hop.path)}${moved}`);
      hop = next.hop;
      continue;
    }
    if (res.status !== 200) {
      const noLocation = res.status >= 300 && res.status < 400 ? ' without a Location header' : '';
      return told('http', `HTTP ${res.status}${noLocation}, body ${excerpt(res.body, res.tooLarge)}`);
    }
    if (res.tooLarge) return told('http', `HTTP 200 but the body is larger than ${MAX_BODY_BYTES} bytes, starting ${excerpt(res.body, true)}`);
    const got = res.body.toString('utf8').replace(/[ \t\r\n]+$/, '');
    if (got === task.keyAuthorization) return undefined;
    return told('http', `HTTP 200 but the body is ${excerpt(res.body, false)}, expected the key authorization ${JSON.stringify(task.keyAuthorization)}`);
  }
}

/** Checks a Location like Let's Encrypt does and finds the address to ask next. */
async function redirectTarget(ctx: Ctx, from: Hop, first: Hop, location: string): Promise<{ hop: Hop } | { failure: Failure }> {
  let url: URL;
  try {
    url = new URL(location, formatUrl(from.scheme, from.host, from.port, from.path));
  } catch (err) {
    return { failure: { kind: 'redirect', text: `invalid redirect target ${JSON.stringify(location)}: ${errorMessage(err)}` } };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { failure: { kind: 'redirect', text: `redirect to ${url.href} refused: only http:// and https:// are followed` } };
  }
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  const port = url.port === '' ? (scheme === 'http' ? ctx.port : ctx.httpsPort) : Number(url.port);
  if (port !== ctx.port && port !== ctx.httpsPort) {
    return { failure: { kind: 'redirect', text: `redirect to ${url.href} refused: the CA only follows redirects to ports ${ctx.port} and ${ctx.httpsPort}, not ${port}` } };
  }
  const host = unbracket(url.hostname);
  if (isIP(host)) {
    return { failure: { kind: 'redirect', text: `redirect to ${url.href} refused: the CA only follows redirects to names, not IP addresses` } };
  }
  const path = `${url.pathname}${url.search}`;
  // The identifier itself keeps the address under test, so each address's chain is checked.
  if (sameName(host, first.host)) return { hop: { scheme, host, address: first.address, port, path } };
  const resolved = await resolveAddresses(ctx, host);
  if ('failure' in resolved) return { failure: { kind: resolved.failure.kind, text: `redirect to ${url.href}: ${resolved.failure.text}` } };
  // Like the CA: the first IPv6 address, falling back to the first IPv4 address on a network error.
  const v6 = resolved.addresses.find((a) => isIP(a) === 6);
  const v4 = resolved.addresses.find((a) => isIP(a) === 4);
  const address = (v6 ?? v4) as string;
  return { hop: { scheme, host, address, port, path, ...(v6 !== undefined && v4 !== undefined ? { fallback: v4 } : {}) } };
}

function fetchOnce(hop: Hop, signal: AbortSignal): Promise<Fetched> {
  return new Promise<Fetched>((resolve, reject) => {
    const options: https.RequestOptions = {
      host: hop.address,
      port: hop.port,
      path: hop.path,
      method: 'GET',
      headers: { Host: hop.host, Accept: '*/*', 'User-Agent': 'certs http-01 preflight', Connection: 'close' },
      agent: false,
      signal,
      maxHeaderSize: 16 * 1024,
    };
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECT_STATUSES.has(status) && location !== undefined) {
        res.destroy();
        resolve({ status, location, body: Buffer.alloc(0), tooLarge: false });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          settled = true;
          res.destroy();
          resolve({ status, location, body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES), tooLarge: true });
        }
      });
      res.once('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status, location, body: Buffer.concat(chunks), tooLarge: false });
      });
      res.once('error', (err) => {
        if (settled) return;
        settled = true;
        reject(err);
      });
      res.once('aborted', () => {
        if (settled) return;
        settled = true;
        reject(new Error('the server closed the connection in the middle of the body'));
      });
    };
    const req =
      hop.scheme === 'https'
        ? // Not verified, like the CA: the site has no valid certificate yet (see the header).
          https.request({ ...options, rejectUnauthorized: false, ...(isIP(hop.host) ? {} : { servername: hop.host }) }, onResponse)
        : http.request(options, onResponse);
    req.once('error', reject);
    req.end();
  });
}

function connectErrorText(err: unknown, ctx: Ctx, hop: Hop): string {
  if (ctx.signal.aborted) return `no complete answer within the ${ctx.timeoutMs} ms budget`;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused (nothing listens on port ${hop.port})`;
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to the address (${code})`;
    case 'ETIMEDOUT':
      return 'connect timed out';
    case 'EADDRNOTAVAIL':
      return 'the address is not usable from this host (EADDRNOTAVAIL)';
    case 'HPE_HEADER_OVERFLOW':
      return 'response headers too large';
    default:
      return code ? `${errorMessage(err)} (${code})` : errorMessage(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

function excerpt(body: Buffer, truncated: boolean): string {
  if (body.length === 0 && !truncated) return '(empty)';
  const shown = body.subarray(0, BODY_EXCERPT_BYTES).toString('utf8');
  const more = truncated || body.length > BODY_EXCERPT_BYTES;
  return `${JSON.stringify(shown)}${more ? '…' : ''} (${truncated ? `more than ${MAX_BODY_BYTES}` : body.length} bytes)`;
}

function formatUrl(scheme: 'http' | 'https', host: string, port: number, path: string): string {
  const defaultPort = scheme === 'http' ? 80 : 443;
  return `${scheme}://${bracket(host)}${port === defaultPort ? '' : `:${port}`}${path}`;
}

function bracket(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function sameName(a: string, b: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/\.$/, '');
  return norm(a) === norm(b);
}

/** The http-01 solvers' preflight under acme.preflight: nothing when it is off, else checkHttpToken. */
export async function preflightHttp01(task: ChallengeTask, preflight: PreflightConfig, signal?: AbortSignal): Promise<void> {
  if (!preflight.enabled) return;
  await checkHttpToken(task, {
    port: preflight.httpPort,
    timeoutMs: preflight.timeoutMs,
    ...(preflight.resolver !== undefined ? { resolver: preflight.resolver } : {}),
    ...(signal ? { signal } : {}),
  });
}
