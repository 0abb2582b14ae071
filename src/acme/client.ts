/**
 * The one adapter to acme-client: every use of its internals (the client's private `http`
 * object, its directory cache, its axios instance) is in this file, and nothing here changes
 * acme-client's process-wide axios settings or interceptors.
 *
 * Each session sends its requests through its own axios instance (created from acme-client's,
 * without its interceptors, with the session's timeout and CA trust), so two sessions with
 * different settings cannot see each other's, and acme-client's retry interceptor (which would
 * sleep for whatever Retry-After a CA sends, even hours) never runs: our per-certificate backoff
 * does that across runs. Bad-nonce retries (inside acme-client's signed request) stay on.
 *
 * acme-client turns a CA problem document into a plain Error with only the detail text, so the
 * problem is captured as the response passes, into the slot of the `call` it belongs to
 * (AsyncLocalStorage): concurrent orders on one session, parallel authorizations and
 * acme-client's own bad-nonce retries each see only their own call's last answer, and a
 * successful answer clears it, so a later local error is never blamed on the CA.
 *
 * ACME_CLIENT_SEAM is the acme-client version these internals were read from; the contract
 * test (test/unit/acme/client-contract.test.ts) fails when the installed one differs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import acme from 'acme-client';
import { AcmeError, InternalError, errorMessage } from '../core/errors.js';
import type { AcmeConfig } from '../config/types.js';

/** The acme-client version whose internals this adapter uses. */
export const ACME_CLIENT_SEAM = '5.4.0';

export interface Problem {
  type?: string;
  detail?: string;
  status: number;
  retryAfter?: Date;
  subproblems?: Array<{ type?: string; detail?: string; identifier?: { type: string; value: string } }>;
}

/** What a call was doing, for its error message: `domain "a.test": placing the order: …`. */
export interface CallContext {
  domain?: string;
  doing: string;
}

export interface HttpAnswer {
  status: number;
  data: unknown;
  headers: Record<string, unknown>;
}

export type AcmeHttpSettings = Pick<AcmeConfig, 'caFile' | 'timeoutMs'>;

export interface AcmeSession {
  readonly directoryUrl: string;
  /**
   * Runs acme-client calls with their own problem slot; whatever they throw becomes an AcmeError
   * with the CA's problem of this call only (an AcmeError thrown inside passes unchanged).
   */
  call<T>(ctx: CallContext, fn: (client: acme.Client) => Promise<T>): Promise<T>;
  /** The CA's directory object (cached by acme-client); failures become AcmeError. */
  directory(ctx?: CallContext): Promise<Record<string, unknown>>;
  /** An unauthenticated GET with the session's HTTP settings (ARI's renewalInfo). */
  get(url: string, ctx: CallContext): Promise<HttpAnswer>;
}

export { resolveDirectory } from '../config/types.js';

// ---- acme-client's internals, as of ACME_CLIENT_SEAM --------------------------------------------

interface AxiosLike {
  request(opts: Record<string, unknown>): Promise<HttpAnswer>;
  create(cfg: Record<string, unknown>): AxiosLike;
}

/** acme-client's HttpClient (`client.http`): the methods and fields this adapter touches. */
interface HttpClientLike {
  request(url: string, method: string, opts?: Record<string, unknown>): Promise<HttpAnswer>;
  getDirectory(): Promise<unknown>;
  directoryCache: unknown;
}

/** The parts of acme-client this adapter relies on; a missing one is an upgrade that broke it. */
export function seamOf(client: acme.Client): HttpClientLike {
  const http = (client as unknown as { http?: Partial<HttpClientLike> }).http;
  if (!http || typeof http.request !== 'function' || typeof http.getDirectory !== 'function' || !('directoryCache' in http)) {
    throw new InternalError('internal', `acme-client changed: Client.http.request/getDirectory/directoryCache are gone (this adapter was written for acme-client ${ACME_CLIENT_SEAM})`);
  }
  return http as HttpClientLike;
}

function acmeAxios(): AxiosLike {
  const ax = (acme as unknown as { axios?: Partial<AxiosLike> }).axios;
  if (!ax || typeof ax.create !== 'function') {
    throw new InternalError('internal', `acme-client changed: acme.axios.create is gone (this adapter was written for acme-client ${ACME_CLIENT_SEAM})`);
  }
  return ax as AxiosLike;
}

// ---- per-settings HTTP -----------------------------------------------------------------------

const instances = new Map<string, AxiosLike>();

/**
 * One axios instance per (caFile, timeout), kept for the process: its agent holds one secure
 * context for every connection (handing `ca` to an agent makes Node build a new context, parsing
 * ~150 roots, per connection: ~8 MB and 50 ms per certificate ordered) and its kept-alive sockets.
 * `create` copies acme-client's defaults (User-Agent, the http adapter) but not its interceptors.
 */
function httpFor(cfg: AcmeHttpSettings): AxiosLike {
  const key = `${cfg.caFile ?? ''}|${cfg.timeoutMs}`;
  const known = instances.get(key);
  if (known) return known;
  let secureContext: tls.SecureContext | undefined;
  if (cfg.caFile) {
    let extra: string;
    try {
      extra = readFileSync(cfg.caFile, 'utf8');
    } catch (err) {
      throw new AcmeError('acme-config', `acme.caFile ${cfg.caFile}: cannot read it: ${errorMessage(err)}`, {}, { cause: err });
    }
    secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, extra] });
  }
  const instance = acmeAxios().create({
    httpsAgent: new https.Agent({ ...(secureContext ? { secureContext } : {}), keepAlive: true, maxSockets: 16 }),
    timeout: cfg.timeoutMs,
    maxContentLength: 1 << 20,
    maxRedirects: 0,
  });
  instances.set(key, instance);
  return instance;
}

/** Reads acme.caFile now, so that an unreadable one fails the run before any domain is tried. */
export function loadAcmeTrust(cfg: AcmeHttpSettings): void {
  httpFor(cfg);
}

// ---- problem capture -------------------------------------------------------------------------

interface Slot { problem?: Problem }
const calls = new AsyncLocalStorage<Slot>();

function retryAfterOf(header: unknown, now: number): Date | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return new Date(now + secs * 1000);
  const when = Date.parse(header);
  return Number.isFinite(when) ? new Date(when) : undefined;
}

/** The CA's problem document of an error answer (RFC 8555 §6.7, RFC 7807). */
export function problemOf(resp: HttpAnswer, now: number): Problem {
  const body = (typeof resp.data === 'object' && resp.data !== null ? resp.data : {}) as Record<string, unknown>;
  const problem: Problem = {
    status: resp.status,
    ...(typeof body['type'] === 'string' ? { type: body['type'] } : {}),
    ...(typeof body['detail'] === 'string' ? { detail: body['detail'] } : typeof resp.data === 'string' ? { detail: resp.data.slice(0, 500) } : {}),
    ...(Array.isArray(body['subproblems']) ? { subproblems: body['subproblems'] as Problem['subproblems'] } : {}),
  };
  const ra = retryAfterOf(resp.headers['retry-after'], now);
  if (ra) problem.retryAfter = ra;
  return problem;
}

/** Records the answer in the current call's slot: its problem, or none after a good answer. */
function note(resp: HttpAnswer): void {
  const slot = calls.getStore();
  if (!slot) return;
  if (resp.status >= 400) slot.problem = problemOf(resp, Date.now());
  else delete slot.problem;
}

export function createSession(opts: { directoryUrl: string; accountKey: string | Buffer; accountUrl?: string; eab?: { kid: string; hmacKey: string }; http: AcmeHttpSettings }): AcmeSession {
  const ax = httpFor(opts.http);
  const client = new acme.Client({
    directoryUrl: opts.directoryUrl,
    accountKey: opts.accountKey,
    ...(opts.accountUrl ? { accountUrl: opts.accountUrl } : {}),
    ...(opts.eab ? { externalAccountBinding: opts.eab } : {}),
    // Polling of authorizations and orders: fast first checks, then slower, about 2 minutes in all.
    backoffAttempts: 12,
    backoffMin: 250,
    backoffMax: 15_000,
  });
  const http = seamOf(client);
  // HttpClient.request, on the session's own axios instance. validateStatus null: every status is
  // an answer (acme-client reads problem documents itself), only network failures reject.
  http.request = async (url, method, o = {}) => {
    const headers = { ...(o['headers'] as Record<string, unknown> | undefined), 'Content-Type': 'application/jose+json' };
    const resp = await ax.request({ ...o, url, method, headers, validateStatus: null });
    note(resp);
    return resp;
  };
  // acme-client caches whatever the directory URL answered, even text that is not JSON (axios
  // parses silently), and then fails with "Cannot use 'in' operator…". Refuse it here instead.
  const getDirectory = http.getDirectory.bind(http);
  http.getDirectory = async () => {
    const dir = await getDirectory();
    if (typeof dir === 'object' && dir !== null && !Array.isArray(dir)) return dir;
    http.directoryCache = null;
    const got = typeof dir === 'string' ? `text that is not valid JSON: ${JSON.stringify(dir.slice(0, 80))}` : `JSON ${Array.isArray(dir) ? 'array' : String(dir)}`;
    throw new Error(`the CA's directory is not a JSON object (got ${got})`);
  };

  const call = async <T>(ctx: CallContext, fn: (c: acme.Client) => Promise<T>): Promise<T> => {
    const slot: Slot = {};
    try {
      return await calls.run(slot, () => fn(client));
    } catch (err) {
      throw toAcmeError(err, slot.problem, { ...ctx, directoryUrl: opts.directoryUrl });
    }
  };
  return {
    directoryUrl: opts.directoryUrl,
    call,
    directory: (ctx) => call(ctx ?? { doing: `reading the CA directory ${opts.directoryUrl}` }, async () => (await http.getDirectory()) as Record<string, unknown>),
    get: (url, ctx) => call(ctx, () => ax.request({ url, method: 'get', validateStatus: null, responseType: 'json' })),
  };
}

const RETRYABLE_TYPES = new Set(['urn:ietf:params:acme:error:rateLimited', 'urn:ietf:params:acme:error:serverInternal', 'urn:ietf:params:acme:error:badNonce']);

/**
 * Turns whatever an acme-client call threw into an AcmeError that names the domain, what we were
 * doing and the CA's own words: `problem` is the CA's last answer within that call, if it was an
 * error. Exported for the table test; sessions call it for you.
 */
export function toAcmeError(err: unknown, problem: Problem | undefined, ctx: CallContext & { directoryUrl?: string }): AcmeError {
  if (err instanceof AcmeError) return err;
  const who = ctx.domain ? `domain "${ctx.domain}": ` : '';
  const domain = ctx.domain ? { domain: ctx.domain } : {};
  const ax = err as { isAxiosError?: boolean; code?: string; response?: { status: number; data: unknown }; config?: { url?: string } };
  if (ax?.isAxiosError && !ax.response) {
    const url = ax.config?.url ?? ctx.directoryUrl ?? 'the CA';
    const why = ax.code === 'ECONNABORTED' || ax.code === 'ETIMEDOUT' ? 'timed out' : ax.code === 'ECONNREFUSED' ? 'connection refused' : ax.code === 'ENOTFOUND' ? 'host not found' : errorMessage(err);
    return new AcmeError('acme-unreachable', `${who}${ctx.doing}: cannot reach the CA at ${url}: ${why}`, { ...domain, retryable: true }, { cause: err });
  }
  const p = problem;
  if (p && p.type !== undefined) {
    const sub = (p.subproblems ?? []).map((s) => `${s.identifier?.value ?? '?'}: ${s.detail ?? s.type ?? ''}`).join('; ');
    const detail = `${p.detail ?? errorMessage(err)}${sub ? ` (${sub})` : ''}`;
    const kind = p.type.replace(/^urn:ietf:params:acme:error:/, '');
    return new AcmeError('acme-ca', `${who}${ctx.doing}: the CA refused (${kind}, HTTP ${p.status}): ${detail}`, {
      ...domain,
      problemType: p.type,
      detail,
      status: p.status,
      retryable: RETRYABLE_TYPES.has(p.type) || p.status >= 500,
      ...(p.retryAfter ? { retryAfter: p.retryAfter } : {}),
    }, { cause: err });
  }
  if (p && p.status >= 500) {
    return new AcmeError('acme-ca', `${who}${ctx.doing}: the CA answered HTTP ${p.status}${p.detail ? `: ${p.detail}` : ''}`, { ...domain, status: p.status, retryable: true, ...(p.retryAfter ? { retryAfter: p.retryAfter } : {}) }, { cause: err });
  }
  const msg = errorMessage(err);
  // acme-client's own messages for answers it could not use (no Location, bad JSON, missing URLs).
  return new AcmeError('acme-protocol', `${who}${ctx.doing}: ${msg}`, { ...domain, ...(p ? { status: p.status } : {}), retryable: true }, { cause: err });
}
