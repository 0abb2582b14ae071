/**
 * Missing intermediates from the leaf's AIA caIssuers URL (RFC 5280 §4.2.2.1), for `certs repair`.
 *
 * Node (like curl, Go, Java and Android) never chases AIA, browsers do: a server that sends only
 * its leaf "works in Chrome" and fails everywhere else (ARCHITECTURE §7). What the URL serves is
 * untrusted input, so every step is bounded and checked:
 * - only http: and https: URLs (https verified normally), at most MAX_REDIRECTS redirects;
 * - only public destinations, checked on the resolved address of every hop (guarded-fetch.ts),
 *   unless fetch.allowPrivateAddresses: the URL is the certificate author's choice, and must not
 *   reach 169.254.169.254, the LAN or this host;
 * - error messages never quote the body (it may be anything, including an internal page);
 * - at most `maxBytes` of body: a larger Content-Length is refused before reading, and the
 *   streamed size is counted too (no Content-Length, a lying one, or a compressed body);
 * - one deadline for the whole call (every URL, redirect and body byte), plus the caller's signal;
 * - DER, PEM or PKCS#7 (DER or PEM) bodies; from a bundle the certificate that actually issued the
 *   leaf is picked, and it must verify: name and key identifiers (`checkIssued`), the signature
 *   over the leaf (`verify`), and be a CA (basicConstraints CA:TRUE where the extension is present).
 * A same-named CA with another key — the classic trap of an outdated or wrong intermediate — fails
 * the signature check and is refused.
 */
import type { X509Certificate } from 'node:crypto';
import { CertsError, ValidationError, errorMessage } from '../core/errors.js';
import { hasPkcs7Pem, isPkcs7Der, pemPkcs7Certificates, pkcs7Certificates } from '../core/pkcs7.js';
import { issuedBy } from '../core/trust-anchors.js';
import { BodyTooLargeError, anyAddress, blockedDestination, createGuardedFetch, publicOnly, readBoundedBody, type AddressCheck } from '../lib/guarded-fetch.js';
import { classifyAddress } from '../core/address-class.js';
import {
  certName, certificateExtension, certificateReader, isSelfSigned, oneLineName, parseNameList, parsePemBundle, sameName, toX509,
} from '../core/x509.js';

/** Default body limit: an intermediate is 1–2 KiB, a bundle rarely above 8 KiB. */
export const DEFAULT_AIA_MAX_BYTES = 64 * 1024;
/** Redirects followed per URL. */
export const MAX_AIA_REDIRECTS = 3;
/** Issuers fetched by one repairChain call. */
export const DEFAULT_MAX_FETCHES = 4;
/** Longest chain repairChain builds (leaf included), as in chain analysis. */
const MAX_CHAIN_LENGTH = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ACCEPT = 'application/pkix-cert, application/pkcs7-mime, application/x-x509-ca-cert, application/x-pem-file;q=0.9, */*;q=0.5';
const BASIC_CONSTRAINTS_OID = '2.5.29.19';

export type IssuerFormat = 'der' | 'pem' | 'pkcs7';

/** Why a URL's answer was refused; stable strings for callers and tests. */
export type AiaRefusal =
  | 'no-url' | 'unsupported-url' | 'network' | 'timeout' | 'http-status' | 'redirects'
  | 'too-large' | 'not-a-certificate' | 'wrong-issuer' | 'not-a-ca' | 'fetch-limit' | 'loop' | 'blocked-address';

export interface AiaFailure {
  url: string;
  reason: AiaRefusal;
  /** Human text, without the URL. */
  text: string;
}

/**
 * An AIA fetch that did not produce a verified issuer. `failures` has one entry per URL tried;
 * `url` and `reason` are those of the most telling one (a URL we could not even try, such as
 * ldap://, ranks below one that answered wrongly).
 */
export class AiaError extends CertsError {
  readonly url: string | undefined;
  readonly reason: AiaRefusal;
  readonly failures: readonly AiaFailure[];
  constructor(message: string, failures: AiaFailure[], reason: AiaRefusal, options: { hint?: string; cause?: unknown } = {}) {
    super('io', 'aia', message, options);
    const main = failures.find((f) => f.reason !== 'unsupported-url') ?? failures[0];
    this.failures = failures;
    this.url = main?.url;
    this.reason = main?.reason ?? reason;
  }
}

export interface FetchIssuerOptions {
  /** Budget of the whole call: every URL, redirect and body byte. */
  timeoutMs: number;
  /** Largest body accepted (default 64 KiB). */
  maxBytes?: number;
  /** Aborting it rejects with its reason (not an AiaError: the caller cancelled). */
  signal?: AbortSignal;
  /** fetch.allowPrivateAddresses: also fetch from loopback, private, link-local… destinations. */
  allowPrivateAddresses?: boolean;
  /** Replaces the destination check (tests); default public addresses only, or any with allowPrivateAddresses. */
  addressCheck?: AddressCheck;
  /**
   * Default: a fetch that checks every resolved address (guarded-fetch.ts). Called with
   * `redirect: 'manual'`. An injected fetch gets only the IP-literal check of each hop.
   */
  fetchImpl?: typeof fetch;
}

export interface FetchedIssuer {
  issuer: X509Certificate;
  /** The AIA URL as written in the certificate. */
  url: string;
  /** Where the certificate finally came from, after redirects. */
  finalUrl: string;
  format: IssuerFormat;
}

/** A refusal of one URL, turned into an AiaFailure by fetchIssuer. */
class Refusal extends Error {
  constructor(readonly reason: AiaRefusal, text: string, options?: { cause?: unknown }) {
    super(text, options);
  }
}

interface Ctx {
  leaf: X509Certificate;
  leafName: string;
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
  deadline: AbortSignal;
  callerSignal: AbortSignal | undefined;
  check: AddressCheck;
  fetchImpl: typeof fetch;
}

function subjectOf(cert: X509Certificate): string {
  // certName() of an empty subject is "(empty subject) <first SAN>".
  return `"${oneLineName(cert.subject) || certName(cert)}"`;
}

/**
 * Fetches and verifies the issuer of `leaf` from its AIA caIssuers URLs, in certificate order,
 * returning the first verified one. Throws an AiaError naming each URL and why it was refused.
 */
export async function fetchIssuer(leaf: X509Certificate, opts: FetchIssuerOptions): Promise<FetchedIssuer> {
  opts.signal?.throwIfAborted();
  const maxBytes = opts.maxBytes ?? DEFAULT_AIA_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new ValidationError(`AIA fetch: maxBytes must be a positive integer, got ${maxBytes}`);
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new ValidationError(`AIA fetch: timeoutMs must be a positive number, got ${opts.timeoutMs}`);
  const leafName = subjectOf(leaf);
  const urls = aiaIssuerUrls(leaf);
  if (urls.length === 0) {
    const failure: AiaFailure = { url: '', reason: 'no-url', text: 'the certificate has no AIA caIssuers URL' };
    throw new AiaError(`cannot fetch the issuer of ${leafName}: ${failure.text}`, [failure], 'no-url', {
      hint: "get the intermediate from the CA's documentation or a fresh issuance (fullchain.pem) and add it to the chain file",
    });
  }

  const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(opts.timeoutMs)));
  const check = opts.addressCheck ?? (opts.allowPrivateAddresses ? anyAddress : publicOnly);
  const ctx: Ctx = {
    leaf,
    leafName,
    timeoutMs: opts.timeoutMs,
    maxBytes,
    signal: opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline,
    deadline,
    callerSignal: opts.signal,
    check,
    fetchImpl: opts.fetchImpl ?? createGuardedFetch(check),
  };

  const failures: AiaFailure[] = [];
  for (const url of urls) {
    try {
      return await fetchFrom(ctx, url);
    } catch (err) {
      opts.signal?.throwIfAborted();
      if (!(err instanceof Refusal)) throw err;
      failures.push({ url, reason: err.reason, text: err.message });
    }
  }
  const list = failures.map((f) => `${f.url}: ${f.text}`).join('; ');
  const message = failures.length === 1
    ? `cannot fetch the issuer of ${leafName} from its AIA caIssuers URL ${list}`
    : `cannot fetch the issuer of ${leafName} from any of its ${failures.length} AIA caIssuers URLs: ${list}`;
  const first = failures.find((f) => f.reason !== 'unsupported-url') ?? (failures[0] as AiaFailure);
  throw new AiaError(message, failures, first.reason, { hint: hintFor(first.reason) });
}

function hintFor(reason: AiaRefusal): string {
  switch (reason) {
    case 'wrong-issuer':
    case 'not-a-ca':
      return "the CA's AIA URL serves a certificate that does not match: get the right intermediate from the CA (a fresh fullchain.pem) instead";
    case 'blocked-address':
      return 'AIA URLs come from the certificate; set fetch.allowPrivateAddresses: true only if your CA really publishes its issuers on a private network';
    case 'timeout':
    case 'network':
      return 'is the URL reachable from this host (proxy, firewall, DNS)? add the intermediate to the chain file by hand otherwise';
    default:
      return "get the intermediate from the CA's documentation or a fresh issuance (fullchain.pem) and add it to the chain file";
  }
}

/** The caIssuers URIs of the Authority Information Access extension, in certificate order. */
export function aiaIssuerUrls(cert: X509Certificate): string[] {
  return parseNameList(cert.infoAccess, '\n').filter(([type]) => type === 'CA Issuers - URI').map(([, uri]) => uri);
}

function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new Refusal('unsupported-url', 'not a valid URL', { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Refusal('unsupported-url', `unsupported scheme "${url.protocol.replace(/:$/, '')}" (only http and https are fetched)`);
  }
  if (url.username || url.password) throw new Refusal('unsupported-url', 'URLs with credentials are not fetched');
  return url;
}

async function fetchFrom(ctx: Ctx, aiaUrl: string): Promise<FetchedIssuer> {
  let current = parseHttpUrl(aiaUrl);
  for (let redirects = 0; ; redirects++) {
    const res = await request(ctx, current);
    if (REDIRECT_STATUSES.has(res.status)) {
      discard(res);
      const location = res.headers.get('location');
      if (!location) throw new Refusal('http-status', `HTTP ${res.status} without a Location header`);
      if (redirects >= MAX_AIA_REDIRECTS) throw new Refusal('redirects', `more than ${MAX_AIA_REDIRECTS} redirects (the next to ${location})`);
      let next: URL;
      try {
        next = parseHttpUrl(new URL(location, current).href);
      } catch (err) {
        if (err instanceof Refusal) throw new Refusal('redirects', `redirect to ${location}: ${err.message}`);
        throw new Refusal('redirects', `redirect to an invalid URL ${JSON.stringify(location)}`, { cause: err });
      }
      current = next;
      continue;
    }
    const via = current.href === aiaUrl ? '' : ` (from ${current.href})`;
    if (res.status !== 200) {
      discard(res);
      throw new Refusal('http-status', `HTTP ${res.status}${via}`);
    }
    const body = await readBounded(ctx, res, via);
    const { issuer, format } = pickIssuer(ctx, body, res.headers.get('content-type'), via);
    return { issuer, url: aiaUrl, finalUrl: current.href, format };
  }
}

async function request(ctx: Ctx, url: URL): Promise<Response> {
  // Also done by the guarded fetch; repeated here so an injected fetchImpl cannot skip it.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const why = classifyAddress(host) === null ? null : ctx.check(host);
  if (why !== null) throw new Refusal('blocked-address', `refused to connect to ${url.href}: ${why}`);
  try {
    return await ctx.fetchImpl(url.href, {
      method: 'GET',
      redirect: 'manual',
      signal: ctx.signal,
      headers: { accept: ACCEPT, 'user-agent': 'certs (AIA issuer fetch)' },
    });
  } catch (err) {
    throw networkRefusal(ctx, err, url.href);
  }
}

function networkRefusal(ctx: Ctx, err: unknown, href: string): unknown {
  if (ctx.callerSignal?.aborted) return ctx.callerSignal.reason;
  if (ctx.deadline.aborted) return new Refusal('timeout', `no answer within ${ctx.timeoutMs} ms`, { cause: err });
  if (err instanceof Refusal) return err;
  const blocked = blockedDestination(err);
  if (blocked) return new Refusal('blocked-address', `refused to connect to ${href}: ${blocked.message}`, { cause: err });
  // undici reports "fetch failed" and puts the reason (ECONNREFUSED, a TLS error…) in `cause`.
  const cause = err instanceof Error && err.cause !== undefined ? `: ${errorMessage(err.cause)}` : '';
  return new Refusal('network', `request to ${href} failed: ${errorMessage(err)}${cause}`, { cause: err });
}

/** Drops a body we will not read; closing the connection is enough, errors do not matter. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined);
}

async function readBounded(ctx: Ctx, res: Response, via: string): Promise<Buffer> {
  try {
    return await readBoundedBody(res, ctx.maxBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new Refusal('too-large', `body exceeds ${err.limit} bytes${err.declared !== null ? ` (Content-Length: ${err.declared})` : ''}${via}`);
    throw networkRefusal(ctx, err, res.url || 'the URL');
  }
}

/** The media type of a Content-Type header, bounded: the rest is the server's free text. */
function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().slice(0, 64);
}

function parseCertificates(body: Buffer, contentType: string | null): { certs: X509Certificate[]; format: IssuerFormat } {
  const label = 'the body';
  if (body.length === 0) throw new Refusal('not-a-certificate', 'not a certificate: the body is empty');
  try {
    let ders: Buffer[];
    let format: IssuerFormat;
    if (body[0] === 0x30) {
      format = isPkcs7Der(body) ? 'pkcs7' : 'der';
      ders = format === 'pkcs7' ? pkcs7Certificates(body, label) : [body];
    } else {
      const text = body.toString('latin1');
      if (text.includes('-----BEGIN CERTIFICATE-----')) {
        format = 'pem';
        ders = parsePemBundle(text, label);
      } else if (hasPkcs7Pem(text)) {
        format = 'pkcs7';
        ders = pemPkcs7Certificates(text, label);
      } else {
        throw new Refusal('not-a-certificate', `not a certificate: expected DER, PEM or PKCS#7, got ${contentType ? `${JSON.stringify(mediaType(contentType))} ` : ''}content of ${body.length} bytes (not quoted)`);
      }
    }
    return { certs: ders.map((der, i) => toX509(der, ders.length > 1 ? `certificate ${i + 1} of the body` : label)), format };
  } catch (err) {
    if (err instanceof ValidationError) throw new Refusal('not-a-certificate', `not a certificate: ${err.message}`, { cause: err });
    throw err;
  }
}

function pickIssuer(ctx: Ctx, body: Buffer, contentType: string | null, via: string): { issuer: X509Certificate; format: IssuerFormat } {
  const { certs, format } = parseCertificates(body, contentType);
  const issuers = certs.filter((c) => issuedBy(ctx.leaf, c));
  if (issuers.length === 0) {
    const got = certs.length === 1
      ? `got ${subjectOf(certs[0] as X509Certificate)}${sameName((certs[0] as X509Certificate).subject, ctx.leaf.issuer) ? ' with the right name but another key' : ''}`
      : `none of its ${certs.length} certificates did`;
    throw new Refusal('wrong-issuer', `served a certificate that did not sign ${ctx.leafName}: ${got}${via}`);
  }
  // Several can verify (re-issued or cross-signed copies with the same key): prefer one valid now.
  const cas = issuers.filter(isCaCertificate);
  const now = Date.now();
  const ca = cas.find((c) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo)) ?? cas[0];
  if (!ca) throw new Refusal('not-a-ca', `served the issuer of ${ctx.leafName}, but ${subjectOf(issuers[0] as X509Certificate)} is not a CA certificate (basicConstraints CA:FALSE)${via}`);
  return { issuer: ca, format };
}

/** CA:TRUE, or no basicConstraints at all (v1 and legacy CAs; checkIssued already demanded keyCertSign where keyUsage exists). */
function isCaCertificate(cert: X509Certificate): boolean {
  if (cert.ca) return true;
  try {
    return certificateExtension(certificateReader(cert.raw), BASIC_CONSTRAINTS_OID) === null;
  } catch {
    // OpenSSL parsed it, so this should not happen; if it does, be strict: not shown to be a CA.
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Completing a chain

/** What repairChain needs of a trust store; TrustAnchors fits. */
export interface AnchorLookup {
  isAnchor(cert: X509Certificate): boolean;
  /**
   * Anchors that issued `cert`. Without it a chain ending just below a trusted root costs one
   * fetch (of the root itself) before the walk sees it is anchored.
   */
  issuersOf?(cert: X509Certificate): readonly X509Certificate[];
}

export interface RepairChainOptions extends FetchIssuerOptions {
  anchors: AnchorLookup;
  /** Issuers fetched at most (default 4). */
  maxFetches?: number;
}

export interface RepairedChain {
  /** Leaf first, then each issuer in turn; never a self-signed root. */
  chain: X509Certificate[];
  /** The chain as PEM, in order: the fullchain.pem to write. */
  fullchainPem: string;
  /** Issuers fetched through AIA, in walk order (a fetched root is listed but not in `chain`). */
  fetched: FetchedIssuer[];
  /** Given certificates left out: a root, duplicates, or ones not on the leaf's path. */
  dropped: X509Certificate[];
  /**
   * trusted: the chain reaches a trust anchor; untrusted-root: it ends at a root that is not one;
   * self-signed: the leaf is its own issuer and no anchor (nothing to fetch).
   */
  ending: 'trusted' | 'untrusted-root' | 'self-signed';
}

/**
 * Completes a chain (PEM strings, leaf first; each may hold several certificates) by walking up
 * from the leaf: the next issuer is taken from the given certificates when one of them verifiably
 * issued the last one, otherwise fetched from the last one's AIA caIssuers URL (at most
 * `maxFetches` times). The walk stops at a trust anchor, at a certificate an anchor issued, or at a
 * self-signed root (which is left out: clients have it or must not be made to trust it).
 * Throws AiaError when a needed issuer cannot be fetched or the fetch limit is reached.
 */
export async function repairChain(chainPems: string[], opts: RepairChainOptions): Promise<RepairedChain> {
  const maxFetches = opts.maxFetches ?? DEFAULT_MAX_FETCHES;
  const given = chainPems.flatMap((pem, i) => parsePemBundle(pem, `chain PEM ${i + 1}`).map((der, j) => toX509(der, `chain PEM ${i + 1} certificate ${j + 1}`)));
  const leaf = given[0];
  if (!leaf) throw new ValidationError('repair chain: no certificate given');
  const { anchors } = opts;
  const chain: X509Certificate[] = [leaf];
  const onChain = new Set([leaf.fingerprint256]);
  const fetched: FetchedIssuer[] = [];
  let ending: RepairedChain['ending'];

  for (;;) {
    const last = chain[chain.length - 1] as X509Certificate;
    const selfSigned = isSelfSigned(last);
    if (anchors.isAnchor(last)) {
      if (chain.length > 1 && selfSigned) chain.pop();
      ending = 'trusted';
      break;
    }
    if (selfSigned) {
      if (chain.length > 1) chain.pop();
      ending = chain.length === 1 && last === leaf ? 'self-signed' : 'untrusted-root';
      break;
    }
    if ((anchors.issuersOf?.(last).length ?? 0) > 0) {
      ending = 'trusted';
      break;
    }
    if (chain.length >= MAX_CHAIN_LENGTH) {
      throw new ValidationError(`chain of ${subjectOf(leaf)} is longer than ${MAX_CHAIN_LENGTH} certificates without reaching a trusted anchor or a root`);
    }
    const served = given.find((c) => !onChain.has(c.fingerprint256) && issuedBy(last, c));
    if (served) {
      chain.push(served);
      onChain.add(served.fingerprint256);
      continue;
    }
    if (fetched.length >= maxFetches) {
      const failure: AiaFailure = { url: '', reason: 'fetch-limit', text: `still incomplete after ${maxFetches} AIA fetches` };
      throw new AiaError(
        `chain of ${subjectOf(leaf)} is still incomplete after fetching ${maxFetches} issuers through AIA (last: ${subjectOf(last)}, issued by "${oneLineName(last.issuer)}")`,
        [failure], 'fetch-limit',
        { hint: 'the CA hierarchy is deeper than expected or the AIA URLs lead in circles: build the chain file by hand' },
      );
    }
    const got = await fetchIssuer(last, opts);
    if (onChain.has(got.issuer.fingerprint256)) {
      throw new AiaError(
        `chain of ${subjectOf(leaf)}: AIA URL ${got.url} of ${subjectOf(last)} served ${subjectOf(got.issuer)}, which is already on the chain (a loop of cross-signs)`,
        [{ url: got.url, reason: 'loop', text: 'served a certificate already on the chain' }], 'loop',
      );
    }
    fetched.push(got);
    chain.push(got.issuer);
    onChain.add(got.issuer.fingerprint256);
  }

  const kept = new Set(chain.map((c) => c.fingerprint256));
  const seen = new Set([leaf.fingerprint256]);
  const dropped: X509Certificate[] = [];
  for (const cert of given.slice(1)) {
    const fp = cert.fingerprint256;
    if (kept.has(fp) && !seen.has(fp)) seen.add(fp);
    else dropped.push(cert);
  }
  return { chain, fullchainPem: chain.map((c) => c.toString()).join(''), fetched, dropped, ending };
}
