/**
 * Revocation through CRLs (issue 12 §3): for the served leaf and each served intermediate with a
 * CRL Distribution Point, fetch the CRL, verify it against the certificate's issuer and look the
 * serial up (the pure part is core/crl.ts).
 *
 * Fetching what a certificate names is fetching attacker-chosen URLs, so it is bounded like the
 * AIA fetch: http:// only (RFC 5280 §4.2.1.13; https would need revocation checks of its own),
 * the same destination policy (lib/guarded-fetch.ts, `fetch.allowPrivateAddresses`) checked on the
 * resolved address of every hop, at most MAX_REDIRECTS redirects, one deadline for the whole fetch
 * and a size limit counted on the stream (a 100 MB CRL is cut off at the limit, never buffered).
 *
 * Caching: a CRL that verified its way into a verdict is kept in memory, per process (CrlCache,
 * shared by every checker unless one is given), until its nextUpdate (one hour when it has none);
 * the daemon's cycles, each with a checker of its own, reuse it. Within one scan run (one
 * RevocationRun) every URL is fetched at most once, whatever the outcome, so 10,000 endpoints
 * behind one CA cost one download. Nothing is stored on disk.
 */
import type { X509Certificate } from 'node:crypto';
import { hintFor } from '../core/advice.js';
import { crlDer, crlDistributionPoints, judgeCertificate, parseCrl, serialHexOf, verifyCrlSignature, type Crl } from '../core/crl.js';
import { errorMessage } from '../core/errors.js';
import type { Problem } from '../core/problems.js';
import { issuedBy, type TrustAnchors } from '../core/trust-anchors.js';
import { certName, isSelfSigned } from '../core/x509.js';
import { BodyTooLargeError, anyAddress, blockedDestination, createGuardedFetch, publicOnly, readBoundedBody, type AddressCheck } from '../lib/guarded-fetch.js';
import { classifyAddress } from '../core/address-class.js';

/** Largest CRL accepted: Let's Encrypt's sharded CRLs are well under 1 MB, big CAs' a few MB. */
export const DEFAULT_CRL_MAX_BYTES = 10 * 1024 * 1024;
/** Budget of one CRL fetch: every redirect and body byte. */
export const DEFAULT_CRL_TIMEOUT_MS = 15_000;
export const MAX_CRL_REDIRECTS = 3;
/** CRLs without nextUpdate are kept this long. */
const NO_NEXT_UPDATE_TTL_MS = 3600_000;
/** URLs kept in the process cache at most (the oldest go first). */
const CACHE_MAX = 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export type CrlRefusal =
  | 'unsupported-url' | 'blocked-address' | 'network' | 'timeout' | 'http-status' | 'redirects' | 'too-large' | 'not-a-crl';

export interface RevocationOptions {
  /** fetch.allowPrivateAddresses. */
  allowPrivateAddresses: boolean;
  timeoutMs?: number;
  maxBytes?: number;
  /** Replaces the guarded fetch (tests). The scheme and IP-literal checks still apply. */
  fetchImpl?: typeof fetch;
  /** Default: the process-wide cache. */
  cache?: CrlCache;
}

type Fetched = { ok: true; url: string; crl: Crl } | { ok: false; url: string; reason: CrlRefusal | 'invalid'; text: string };

class Refusal extends Error {
  constructor(readonly reason: CrlRefusal, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Verified CRLs by URL until their nextUpdate, bounded; keyed with the destination policy they were fetched under. */
export class CrlCache {
  private readonly entries = new Map<string, { crl: Crl; until: number }>();

  get(key: string, now: Date): Crl | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until > now.getTime()) return hit.crl;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, crl: Crl, now: Date): void {
    const until = crl.nextUpdate ? crl.nextUpdate.getTime() : now.getTime() + NO_NEXT_UPDATE_TTL_MS;
    if (until <= now.getTime()) return;
    this.entries.delete(key);
    this.entries.set(key, { crl, until });
    if (this.entries.size > CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}

const PROCESS_CACHE = new CrlCache();

/** One configuration's checker: options, the cache it uses and a fetch counter. */
export class RevocationChecker {
  private readonly cache: CrlCache;
  private readonly policy: string;
  private readonly check: AddressCheck;
  private readonly fetchImpl: typeof fetch;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** CRL downloads started by this checker (for tests and logs). */
  fetches = 0;

  constructor(opts: RevocationOptions) {
    this.check = opts.allowPrivateAddresses ? anyAddress : publicOnly;
    this.cache = opts.cache ?? PROCESS_CACHE;
    this.policy = opts.allowPrivateAddresses ? 'any' : 'public';
    this.fetchImpl = opts.fetchImpl ?? createGuardedFetch(this.check);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CRL_TIMEOUT_MS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_CRL_MAX_BYTES;
  }

  /** One scan run: every URL at most once, whatever the outcome. */
  startRun(): RevocationRun {
    return new RevocationRun(this);
  }

  /** @internal */
  cached(url: string, now: Date): Crl | undefined {
    return this.cache.get(`${this.policy} ${url}`, now);
  }

  /** @internal */
  remember(url: string, crl: Crl, now: Date): void {
    this.cache.set(`${this.policy} ${url}`, crl, now);
  }

  /** @internal Fetches and parses one CRL; never throws. */
  async download(url: string): Promise<Fetched> {
    try {
      const body = await this.fetchBody(url);
      try {
        return { ok: true, url, crl: parseCrl(crlDer(body)) };
      } catch (err) {
        return { ok: false, url, reason: 'not-a-crl', text: `is not a CRL: ${errorMessage(err)}` };
      }
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, url, reason: err.reason, text: err.message };
      return { ok: false, url, reason: 'network', text: `could not be fetched: ${errorMessage(err)}` };
    }
  }

  private async fetchBody(start: string): Promise<Buffer> {
    let url = httpUrl(start, '');
    const signal = AbortSignal.timeout(this.timeoutMs);
    this.fetches++;
    for (let redirects = 0; ; redirects++) {
      const res = await this.request(url, signal);
      if (REDIRECT_STATUSES.has(res.status)) {
        void res.body?.cancel().catch(() => undefined);
        const location = res.headers.get('location');
        if (!location) throw new Refusal('http-status', `answered HTTP ${res.status} without a Location header`);
        if (redirects >= MAX_CRL_REDIRECTS) throw new Refusal('redirects', `redirected more than ${MAX_CRL_REDIRECTS} times`);
        let next: string;
        try {
          next = new URL(location, url).href;
        } catch {
          throw new Refusal('redirects', 'redirected to an invalid URL');
        }
        url = httpUrl(next, `redirected to ${next}, which `);
        continue;
      }
      if (res.status !== 200) {
        void res.body?.cancel().catch(() => undefined);
        throw new Refusal('http-status', `answered HTTP ${res.status}${url.href === start ? '' : ` (at ${url.href})`}`);
      }
      return this.readBounded(res, signal);
    }
  }

  private async request(url: URL, signal: AbortSignal): Promise<Response> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const why = classifyAddress(host) === null ? null : this.check(host);
    if (why !== null) throw new Refusal('blocked-address', `was not fetched: ${why} (fetch.allowPrivateAddresses is false)`);
    try {
      return await this.fetchImpl(url.href, { method: 'GET', redirect: 'manual', signal, headers: { accept: 'application/pkix-crl, */*;q=0.5', 'user-agent': 'certs (CRL fetch)' } });
    } catch (err) {
      throw this.networkRefusal(err, signal);
    }
  }

  private networkRefusal(err: unknown, signal: AbortSignal): Refusal {
    if (err instanceof Refusal) return err;
    if (signal.aborted) return new Refusal('timeout', `did not answer within ${this.timeoutMs} ms`, { cause: err });
    const blocked = blockedDestination(err);
    if (blocked) return new Refusal('blocked-address', `was not fetched: ${blocked.message} (fetch.allowPrivateAddresses is false)`, { cause: err });
    const cause = err instanceof Error && err.cause !== undefined ? `: ${errorMessage(err.cause)}` : '';
    return new Refusal('network', `could not be fetched: ${errorMessage(err)}${cause}`, { cause: err });
  }

  private async readBounded(res: Response, signal: AbortSignal): Promise<Buffer> {
    try {
      return await readBoundedBody(res, this.maxBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new Refusal('too-large', err.declared !== null ? `is larger than the ${err.limit}-byte limit (Content-Length: ${err.declared})` : `is larger than the ${err.limit}-byte limit (cut off after ${err.seen} bytes)`);
      }
      throw this.networkRefusal(err, signal);
    }
  }
}

function httpUrl(text: string, prefix: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Refusal('unsupported-url', `${prefix}is not a valid URL`);
  }
  if (url.protocol !== 'http:') throw new Refusal('unsupported-url', `${prefix}is not an http:// URL (only http CRLs are fetched)`);
  if (url.username || url.password) throw new Refusal('unsupported-url', `${prefix}carries credentials (not fetched)`);
  return url;
}

/** Signature checks by CRL and issuer key: one per CRL and issuer per process. */
const VERIFIED = new WeakMap<Crl, Map<string, boolean>>();

function signatureValid(crl: Crl, issuer: X509Certificate): boolean | string {
  let byIssuer = VERIFIED.get(crl);
  if (!byIssuer) VERIFIED.set(crl, (byIssuer = new Map()));
  let ok = byIssuer.get(issuer.fingerprint256);
  if (ok === undefined) {
    try {
      ok = verifyCrlSignature(crl, issuer.publicKey);
    } catch (err) {
      return errorMessage(err);
    }
    byIssuer.set(issuer.fingerprint256, ok);
  }
  return ok;
}

/** One scan run's view: URL → the one fetch of this run. */
export class RevocationRun {
  private readonly byUrl = new Map<string, Promise<Fetched>>();

  constructor(private readonly checker: RevocationChecker) {}

  private crlAt(url: string, now: Date): Promise<Fetched> {
    let got = this.byUrl.get(url);
    if (!got) {
      const hit = this.checker.cached(url, now);
      got = hit ? Promise.resolve<Fetched>({ ok: true, url, crl: hit }) : this.checker.download(url);
      this.byUrl.set(url, got);
    }
    return got;
  }

  /**
   * Problems for the served chain (leaf first): `revoked` or `revocation-unknown` per certificate
   * that has a CRL Distribution Point. Self-signed certificates are not checked. Never throws.
   */
  async check(served: readonly X509Certificate[], anchors: TrustAnchors, now: Date): Promise<Problem[]> {
    const problems: Problem[] = [];
    for (let i = 0; i < served.length; i++) {
      const cert = served[i] as X509Certificate;
      let dps: string[][];
      try {
        dps = crlDistributionPoints(cert.raw);
      } catch (err) {
        problems.push(unknown(cert, i, `its CRL Distribution Points extension cannot be read: ${errorMessage(err)}`, 'not-a-crl'));
        continue;
      }
      if (dps.length === 0 || isSelfSigned(cert)) continue;
      const issuer = served.find((c) => c !== cert && issuedBy(cert, c)) ?? anchors.issuersOf(cert)[0];
      if (!issuer) {
        problems.push(unknown(cert, i, 'its issuer is neither served nor trusted, so its CRL cannot be verified', 'no-issuer'));
        continue;
      }
      const problem = await this.judge(cert, i, issuer, dps, now);
      if (problem) problems.push(problem);
    }
    return problems;
  }

  private async judge(cert: X509Certificate, index: number, issuer: X509Certificate, dps: string[][], now: Date): Promise<Problem | null> {
    let firstFailure: { text: string; reason: string } | undefined;
    for (const url of dps.flat()) {
      const got = await this.crlAt(url, now);
      if (!got.ok) {
        firstFailure ??= { text: `its CRL ${url} ${got.text}`, reason: got.reason };
        continue;
      }
      const sig = signatureValid(got.crl, issuer);
      if (typeof sig === 'string') {
        firstFailure ??= { text: `its CRL ${url} cannot be verified: ${sig}`, reason: 'bad-signature' };
        continue;
      }
      const verdict = judgeCertificate(cert.raw, issuer, got.crl, sig, now);
      if (verdict.status === 'unknown') {
        firstFailure ??= { text: `its CRL ${url} cannot be used: ${verdict.why}`, reason: verdict.why.startsWith('it is stale') ? 'stale' : 'bad-signature' };
        continue;
      }
      this.checker.remember(url, got.crl, now);
      if (verdict.status === 'good') return null;
      const name = certName(cert);
      return {
        code: 'revoked',
        severity: 'critical',
        message: `${index === 0 ? 'certificate' : `intermediate #${index}`} "${name}" (serial ${serialHexOf(cert.raw)}) was revoked on ${verdict.revocationDate.toISOString()}, reason ${verdict.reason}, according to its CRL ${url}`,
        // The scan does not know the domain: the hint's command keeps "<name>" (fixFor names it).
        hint: hintFor('revoked', index === 0 ? { keyCompromise: verdict.reason === 'keyCompromise' } : { variant: 'intermediate' }),
      };
    }
    const f = firstFailure ?? { text: 'has no usable CRL URL', reason: 'unsupported-url' };
    return unknown(cert, index, f.text, f.reason);
  }
}

function unknown(cert: X509Certificate, index: number, why: string, reason: string): Problem {
  return {
    code: 'revocation-unknown',
    severity: 'warning',
    message: `cannot tell whether ${index === 0 ? 'certificate' : `intermediate #${index}`} "${certName(cert)}" is revoked: ${why}`,
    hint: hintFor('revocation-unknown', { variant: reason }),
  };
}
