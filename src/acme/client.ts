/**
 * acme-client, configured once per process and wrapped so that every failure becomes an
 * AcmeError carrying the CA's problem document (type, detail, status, Retry-After) verbatim.
 *
 * acme-client turns a problem document into a plain Error with only the detail text, so each
 * client records the last problem response it saw (one client per order, so no interleaving).
 */
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import acme from 'acme-client';
import { AcmeError, errorMessage } from '../core/errors.js';
import { ACME_DIRECTORY_SHORTCUTS, type AcmeConfig } from '../config/types.js';

export interface Problem {
  type?: string;
  detail?: string;
  status: number;
  retryAfter?: Date;
  subproblems?: Array<{ type?: string; detail?: string; identifier?: { type: string; value: string } }>;
}

export interface AcmeSession {
  client: acme.Client;
  directoryUrl: string;
  /** The last problem document the CA sent on this client, if any. */
  lastProblem(): Problem | undefined;
  /** The CA's directory object (cached by acme-client). */
  directory(): Promise<Record<string, unknown>>;
}

export function resolveDirectory(directory: string | undefined): string {
  if (directory === undefined) return ACME_DIRECTORY_SHORTCUTS.letsencrypt;
  return (ACME_DIRECTORY_SHORTCUTS as Record<string, string>)[directory] ?? directory;
}

let configuredFor: string | undefined;

/**
 * Process-wide settings of acme-client's own axios instance (only acme-client uses it, so the
 * extra CA trusts the ACME server and nothing else). Retries inside acme-client are off: it would
 * sleep for whatever Retry-After a CA sends, even hours; our per-certificate backoff does that
 * across runs instead. Bad-nonce retries (a different mechanism) stay on.
 */
export function configureAcmeHttp(cfg: Pick<AcmeConfig, 'caFile' | 'timeoutMs'>): void {
  const key = `${cfg.caFile ?? ''}|${cfg.timeoutMs}`;
  if (configuredFor === key) return;
  // One secure context for every connection: handing `ca` to the agent makes Node build a new
  // context (parsing ~150 roots) per connection, which cost ~8 MB and 50 ms per certificate ordered.
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
  acme.axios.defaults.httpsAgent = new https.Agent({ ...(secureContext ? { secureContext } : {}), keepAlive: true, maxSockets: 16 });
  acme.axios.defaults.timeout = cfg.timeoutMs;
  acme.axios.defaults.maxContentLength = 1 << 20;
  acme.axios.defaults.maxRedirects = 0;
  // acme-client's interceptors exist for those retries; with them gone axios is plain axios again.
  // (Kept, they also turn every network error into "Cannot read properties of undefined", which
  // would hide "connection refused" from the operator.)
  acme.axios.interceptors.request.clear();
  acme.axios.interceptors.response.clear();
  acme.setLogger(() => undefined);
  configuredFor = key;
}

function retryAfterOf(header: unknown, now: number): Date | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return new Date(now + secs * 1000);
  const when = Date.parse(header);
  return Number.isFinite(when) ? new Date(when) : undefined;
}

interface HttpLike {
  request: (url: string, method: string, opts?: object) => Promise<{ status: number; data: unknown; headers: Record<string, unknown> }>;
}

export function createSession(opts: { directoryUrl: string; accountKey: string | Buffer; accountUrl?: string; eab?: { kid: string; hmacKey: string } }): AcmeSession {
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
  let last: Problem | undefined;
  const http = (client as unknown as { http: HttpLike }).http;
  const request = http.request.bind(http);
  http.request = async (url, method, o) => {
    const resp = await request(url, method, o);
    if (resp.status >= 400) {
      const body = (typeof resp.data === 'object' && resp.data !== null ? resp.data : {}) as Record<string, unknown>;
      last = {
        status: resp.status,
        ...(typeof body['type'] === 'string' ? { type: body['type'] } : {}),
        ...(typeof body['detail'] === 'string' ? { detail: body['detail'] } : typeof resp.data === 'string' ? { detail: resp.data.slice(0, 500) } : {}),
        ...(Array.isArray(body['subproblems']) ? { subproblems: body['subproblems'] as Problem['subproblems'] } : {}),
      };
      const ra = retryAfterOf(resp.headers['retry-after'], Date.now());
      if (ra) last.retryAfter = ra;
    }
    return resp;
  };
  // acme-client caches whatever the directory URL answered, even text that is not JSON (axios
  // parses silently), and then fails with "Cannot use 'in' operator…". Refuse it here instead.
  const dirHttp = http as unknown as { getDirectory(): Promise<unknown>; directoryCache: unknown };
  const getDirectory = dirHttp.getDirectory.bind(dirHttp);
  dirHttp.getDirectory = async () => {
    const dir = await getDirectory();
    if (typeof dir === 'object' && dir !== null && !Array.isArray(dir)) return dir;
    dirHttp.directoryCache = null;
    const got = typeof dir === 'string' ? `text that is not valid JSON: ${JSON.stringify(dir.slice(0, 80))}` : `JSON ${Array.isArray(dir) ? 'array' : String(dir)}`;
    throw new Error(`the CA's directory is not a JSON object (got ${got})`);
  };
  return {
    client,
    directoryUrl: opts.directoryUrl,
    lastProblem: () => last,
    directory: async () => (await (client as unknown as { http: { getDirectory(): Promise<Record<string, unknown>> } }).http.getDirectory()),
  };
}

const RETRYABLE_TYPES = new Set(['urn:ietf:params:acme:error:rateLimited', 'urn:ietf:params:acme:error:serverInternal', 'urn:ietf:params:acme:error:badNonce']);

/**
 * Turns whatever acme-client threw into an AcmeError that names the domain, what we were doing
 * and the CA's own words.
 */
export function toAcmeError(err: unknown, session: AcmeSession | undefined, ctx: { domain?: string; doing: string }): AcmeError {
  if (err instanceof AcmeError) return err;
  const who = ctx.domain ? `domain "${ctx.domain}": ` : '';
  const ax = err as { isAxiosError?: boolean; code?: string; response?: { status: number; data: unknown }; config?: { url?: string } };
  if (ax?.isAxiosError && !ax.response) {
    const url = ax.config?.url ?? session?.directoryUrl ?? 'the CA';
    const why = ax.code === 'ECONNABORTED' || ax.code === 'ETIMEDOUT' ? 'timed out' : ax.code === 'ECONNREFUSED' ? 'connection refused' : ax.code === 'ENOTFOUND' ? 'host not found' : errorMessage(err);
    return new AcmeError('acme-unreachable', `${who}${ctx.doing}: cannot reach the CA at ${url}: ${why}`, { ...(ctx.domain ? { domain: ctx.domain } : {}), retryable: true }, { cause: err });
  }
  const p = session?.lastProblem();
  if (p && p.type !== undefined) {
    const sub = (p.subproblems ?? []).map((s) => `${s.identifier?.value ?? '?'}: ${s.detail ?? s.type ?? ''}`).join('; ');
    const detail = `${p.detail ?? errorMessage(err)}${sub ? ` (${sub})` : ''}`;
    const kind = p.type.replace(/^urn:ietf:params:acme:error:/, '');
    return new AcmeError('acme-ca', `${who}${ctx.doing}: the CA refused (${kind}, HTTP ${p.status}): ${detail}`, {
      ...(ctx.domain ? { domain: ctx.domain } : {}),
      problemType: p.type,
      detail,
      status: p.status,
      retryable: RETRYABLE_TYPES.has(p.type) || p.status >= 500,
      ...(p.retryAfter ? { retryAfter: p.retryAfter } : {}),
    }, { cause: err });
  }
  if (p && p.status >= 500) {
    return new AcmeError('acme-ca', `${who}${ctx.doing}: the CA answered HTTP ${p.status}${p.detail ? `: ${p.detail}` : ''}`, { ...(ctx.domain ? { domain: ctx.domain } : {}), status: p.status, retryable: true, ...(p.retryAfter ? { retryAfter: p.retryAfter } : {}) }, { cause: err });
  }
  const msg = errorMessage(err);
  // acme-client's own messages for answers it could not use (no Location, bad JSON, missing URLs).
  return new AcmeError('acme-protocol', `${who}${ctx.doing}: ${msg}`, { ...(ctx.domain ? { domain: ctx.domain } : {}), ...(p ? { status: p.status } : {}), retryable: true }, { cause: err });
}
