/**
 * The problem catalogue's advice (issue 14): one fix per problem code, worded for the domain it
 * is given to. A managed domain is told what `certs` does about it (`certs renew <name>`,
 * `certs run`); a monitor-only one (`managed: false`) what its operator must do where the
 * certificate comes from (replace the file at `files.cert`, renew at its source); an endpoint
 * serving an older certificate than the one `certs` issued is told to deploy it.
 *
 * Every place that shows a fix (scan problems, notifications, the dashboard) takes it from here,
 * so the wording cannot drift between them.
 *
 * CONTRACT (shared by the helpers of issue 14; change only additively).
 */
import type { EndpointReport } from './model.js';
import type { Problem, ProblemCode } from './problems.js';

/** A problem code, or `expiry`: a certificate crossing a notification threshold before it expires. */
export type AdviceTopic = ProblemCode | 'expiry';

export interface AdviceContext {
  /** The inventory's domain name (domains[].name). */
  domain: string;
  /** Whether certs renews it (domains[].managed). */
  managed: boolean;
  /** Monitor-only: the certificate file the config names (domains[].files.cert), when it names one. */
  certFile?: string;
  /** The endpoint as people see it ("host:port", "host:port @address", "file:/path"). */
  endpoint?: string;
  /** certs issued a newer certificate than the one served here (the stale-deployment case). */
  issuedNewer?: boolean;
  /**
   * Additive (issue 14, advice helper): the problem's own hint (Problem.hint, written by hintFor
   * when it was found). Used only for topics whose fix does not depend on who renews the
   * certificate, where it can say more than the context does (why a CRL could not be used, when
   * the next renewal attempt is, that nginx is not running); ignored for the others.
   */
  hint?: string;
}

/**
 * What hintFor may be told when a problem is found, before anyone knows how its domain is
 * managed (chain analysis is pure, lifecycle checks run per domain). All optional: a missing
 * one is written generically ("<name>", "the server").
 */
export interface HintParams {
  /** The domain, for the commands the sentence gives. */
  domain?: string;
  /** Who the reader checks or reloads: "host:port" or "host:port at address". */
  endpoint?: string;
  /** The certificate file (files.cert) the fix is about. */
  certFile?: string;
  /** hostname-mismatch: the name the certificate does not cover. */
  name?: string;
  /** hostname-mismatch of a certificate file: every configured name it must cover. */
  names?: readonly string[];
  /** renewal-failing: when the next automatic attempt is (ISO). */
  nextAttemptAt?: string;
  /** revoked: the CRL gives keyCompromise as the reason. */
  keyCompromise?: boolean;
  /**
   * The case within a code, when its fix differs: `intermediate` (expiring-soon, revoked: about a
   * chain certificate, not the leaf), `unparsable` (handshake-failed: a certificate came but cannot
   * be read), `nginx-not-running` (deploy-failed), and for revocation-unknown the reason
   * (`blocked-address`, `unsupported-url`, `too-large`, `stale`, `bad-signature`, `not-a-crl`,
   * `no-issuer`; anything else: the CRL could not be fetched). Unknown values get the default.
   */
  variant?: string;
}

type Words = (p: HintParams) => string;

interface Advice {
  /** The context-free sentence (a problem's scan-time hint); also what fixFor says where a side below is absent. */
  hint: Words;
  /** Other sentences for HintParams.variant. */
  variants?: Readonly<Record<string, Words>>;
  /** For a managed domain, when it differs from `hint`. */
  managed?: Words;
  /** For a monitor-only domain, when it differs from `hint`; never a `certs renew`/`certs issue`. */
  monitor?: Words;
}

const name = (p: HintParams): string => p.domain ?? '<name>';
const cmd = (command: string): string => `\`${command}\``;
const renew = (p: HintParams): string => cmd(`certs renew ${name(p)}`);
const issue = (p: HintParams): string => cmd(`certs issue ${name(p)}`);
const nginxWrite = (p: HintParams): string => cmd(`certs nginx write ${name(p)}`);
const theServer = (p: HintParams): string => p.endpoint ?? 'the server';
const utc = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
/** Where `certs run` is expected to come from, for a managed certificate that got this close. */
const onSchedule = 'check that `certs run` runs on schedule (cron or `certs daemon`)';

/**
 * The operator's fix for a monitor-only domain: replace the configured file, or get `what` where
 * the certificate comes from; certs never renews it, so it never says `certs renew`. `tail` ends
 * the fix itself (" before it expires"), ahead of the note that certs only monitors the domain.
 */
function replaceWith(what: string, tail = ''): Words {
  return (p) => p.certFile
    ? `replace ${p.certFile} with ${what} and reload the server that uses it${tail}`
    : `obtain ${what} where this certificate comes from (its CA, or whoever runs ${theServer(p)}) and install it there${tail}; certs only monitors ${name(p)}`;
}

/** A managed domain whose served chain is not certs' own fullchain.pem (which has none of these faults). */
const serveOurChain: Words = (p) =>
  `serve the fullchain.pem certs keeps for ${name(p)}: run ${nginxWrite(p)} and include its snippet in the server block instead of your own ssl_certificate lines`;

/** A certificate file's chain fix, naming the file when there is one. */
const inFile = (withFile: (file: string) => string, otherwise: Words): Words => (p) => (p.certFile ? withFile(p.certFile) : otherwise(p));

const FULL_CHAIN = 'serve the full chain (fullchain.pem: leaf first, then its intermediates) instead of the leaf alone (cert.pem)';
const ORDER = 'put the leaf first, then each issuer in turn (the order of fullchain.pem)';
const NO_ANCHOR = 'drop the root certificate from the served chain: it only adds bytes to every handshake';
const ONLY_NEEDED = 'serve only the leaf and the intermediates it needs; remove unrelated, duplicate or outdated cross-signed certificates';
const WEAK_SIG = 'reissue the affected certificates with SHA-256 or better';
const WEAK_KEY = 'reissue with an ECDSA P-256 (or better) or RSA 2048+ key';
const KEY_PAIR = 'install the key that was generated with this certificate (nginx refuses to start with a mismatched pair)';
const NOT_THE_ISSUERS_CRL = "the CRL at this URL is not a valid CRL signed by the certificate's issuer: check that the served intermediate is the CA's current one, then ask the CA";
const NOT_TLS = 'make sure this port serves TLS (nginx: "listen 443 ssl") and that the certificate is readable';

/** The catalogue: one entry per topic; the compiler insists on every code. */
const CATALOGUE: Readonly<Record<AdviceTopic, Advice>> = {
  expired: {
    hint: () => 'renew the certificate and deploy it (`certs run` renews managed domains)',
    managed: (p) => `run ${renew(p)} now (it deploys the new certificate too), then ${onSchedule}`,
    monitor: replaceWith('a renewed certificate'),
  },
  'not-yet-valid': {
    hint: () => "check the server's and the issuer's clocks, or deploy the certificate that is valid now",
  },
  'expiring-soon': {
    hint: () => 'renew the certificate now',
    variants: { intermediate: () => "renew to get the CA's current intermediate, or update the chain file with it" },
    managed: (p) => `run ${renew(p)} now, and ${onSchedule}`,
    monitor: replaceWith('a renewed certificate', ' before it expires'),
  },
  'chain-cert-expired': {
    hint: () => "replace the chain file with the CA's current intermediates (fullchain.pem from a fresh issuance)",
    managed: (p) => `run ${issue(p)} for a fresh fullchain.pem with the CA's current intermediates (it deploys it too)`,
    monitor: inFile((f) => `replace the intermediates in ${f} with the CA's current ones (fullchain.pem from a fresh issuance) and reload the server that uses it`,
      () => "replace the served chain with the CA's current intermediates (fullchain.pem from a fresh issuance)"),
  },
  'hostname-mismatch': {
    hint: (p) => p.names
      ? `reissue the certificate with every configured name (${p.names.join(', ')})`
      : `issue a certificate whose subjectAltName includes "${p.name ?? '<name>'}" (a wildcard covers exactly one left-most label), or scan the name the certificate is for`,
    // The domain's own name is on every certificate certs issues for it: a mismatch there means
    // the server serves some other certificate, and adding names would not help.
    managed: (p) => p.name !== undefined && p.name.toLowerCase() === p.domain?.toLowerCase()
      ? `the server is not using certs' certificate for ${name(p)}: run ${nginxWrite(p)} and include its snippet in the server block`
      : p.name
      ? `add "${p.name}" to the altNames of ${name(p)} and run ${renew(p)} (a change of names reissues); if it is listed already, the server is not using certs' certificate: run ${nginxWrite(p)}`
      : `run ${renew(p)} (a change of names in the config reissues), then ${nginxWrite(p)}`,
    monitor: (p) => replaceWith(`a certificate whose subjectAltName includes ${p.name ? `"${p.name}"` : `every name of ${name(p)}`}`, ' (or scan the name the certificate is for)')(p),
  },
  'self-signed': {
    hint: () => 'replace it with a CA-issued certificate (e.g. ACME), or add it to trust.caFile if it is deliberately pinned',
    managed: (p) => `deploy the CA-issued certificate with ${nginxWrite(p)} (${renew(p)} first if there is none yet), or add it to trust.caFile if it is deliberately pinned`,
    monitor: replaceWith('a CA-issued certificate', ' (or add it to trust.caFile if it is deliberately pinned)'),
  },
  'untrusted-root': {
    hint: () => 'for a private CA add its root to trust.caFile; otherwise serve a chain that leads to a publicly trusted root',
  },
  'incomplete-chain': {
    hint: () => FULL_CHAIN,
    managed: serveOurChain,
    monitor: inFile((f) => `put the full chain in ${f} (leaf first, then its intermediates, as in fullchain.pem, not the leaf alone) and reload the server that uses it`, () => FULL_CHAIN),
  },
  'wrong-order': {
    hint: () => ORDER,
    managed: serveOurChain,
    monitor: inFile((f) => `reorder ${f}: the leaf first, then each issuer in turn (the order of fullchain.pem)`, () => ORDER),
  },
  'contains-anchor': {
    hint: () => NO_ANCHOR,
    managed: serveOurChain,
    monitor: inFile((f) => `drop the root certificate from ${f}: it only adds bytes to every handshake`, () => NO_ANCHOR),
  },
  'extra-certs': {
    hint: () => ONLY_NEEDED,
    managed: serveOurChain,
    monitor: inFile((f) => `keep only the leaf and the intermediates it needs in ${f}; remove unrelated, duplicate or outdated cross-signed certificates`, () => ONLY_NEEDED),
  },
  'weak-signature': {
    hint: () => WEAK_SIG,
    managed: (p) => `run ${issue(p)}: the CA signs the new certificate with SHA-256 or better`,
    monitor: replaceWith('a certificate signed with SHA-256 or better'),
  },
  'weak-key': {
    hint: () => WEAK_KEY,
    managed: (p) => `run ${issue(p)}: every key type certs issues with (keyType, ecdsa-p256 unless set) is strong enough`,
    monitor: replaceWith('a certificate with an ECDSA P-256 (or better) or RSA 2048+ key'),
  },
  unreachable: {
    hint: () => 'check the host name, the address, the port and any firewall between this host and the server',
  },
  timeout: {
    hint: () => 'check that the server is up and speaks TLS on this port (a firewall that drops packets looks like this too), or raise scan.timeoutMs for slow links',
  },
  'handshake-failed': {
    hint: () => NOT_TLS,
    variants: { unparsable: () => 'check the certificate file the server is configured with (nginx: ssl_certificate)' },
  },
  'stale-deployment': {
    hint: (p) => `run ${nginxWrite(p)} (tests and reloads nginx), or reload ${p.endpoint ? `the server that answers on ${p.endpoint}` : 'the server that serves it'}`,
  },
  'renewal-failing': {
    hint: (p) => `fix the cause, then run ${cmd(`certs renew ${name(p)} --force`)}${p.nextAttemptAt ? `; otherwise the next automatic attempt is after ${utc(p.nextAttemptAt)}` : ''}`,
    monitor: (p) => `certs no longer renews ${name(p)} (managed: false): renew it where it comes from${p.certFile ? ` and replace ${p.certFile}` : ''}`,
  },
  'key-mismatch': {
    hint: () => KEY_PAIR,
    managed: (p) => `serve the certificate and key certs keeps for ${name(p)} as a pair: run ${nginxWrite(p)} and include its snippet instead of your own ssl_certificate lines`,
    monitor: inFile((f) => `install the key that was generated with ${f} (nginx refuses to start with a mismatched pair)`, () => KEY_PAIR),
  },
  'deploy-failed': {
    hint: (p) => `fix what nginx or the check reported, then run ${nginxWrite(p)}; the next \`certs run\` retries it too`,
    variants: { 'nginx-not-running': (p) => `start nginx; the next \`certs run\` (or ${nginxWrite(p)}) reloads and verifies` },
  },
  revoked: {
    hint: (p) => `replace it now: ${issue(p)} for a managed domain, otherwise a new certificate from the CA, then deploy it${p.keyCompromise ? ' with a new private key (the old key is compromised)' : ''}`,
    variants: { intermediate: () => 'the CA revoked this intermediate: download the current chain from the CA (a fresh fullchain.pem) and deploy it' },
    managed: (p) => `replace it now with ${issue(p)}, which deploys it too (turn acme.reuseKey off first if the key may be compromised)`,
    monitor: replaceWith('a new certificate (and a new key, if the old one may be compromised)', ' at once'),
  },
  'revocation-unknown': {
    hint: () => 'check that the CRL URL is reachable from this host (proxy, firewall, DNS); the next scan tries again, and scan.revocation: false turns the check off',
    variants: {
      'blocked-address': () => 'CRL URLs come from the certificate; set fetch.allowPrivateAddresses: true only if your CA publishes its CRLs on a private network',
      'unsupported-url': () => 'only http:// CRL URLs are fetched (as RFC 5280 recommends); ask the CA for an http distribution point, or set scan.revocation: false',
      'too-large': () => 'the CRL is larger than the 10 MB limit: a CA that big should shard its CRLs; set scan.revocation: false if you accept not checking',
      stale: () => "the CA has not published a fresh CRL, or this host's clock is wrong: check the clock (timedatectl), then ask the CA",
      'bad-signature': () => NOT_THE_ISSUERS_CRL,
      'not-a-crl': () => NOT_THE_ISSUERS_CRL,
      'no-issuer': () => 'serve the complete chain (see incomplete-chain) or add the issuer to trust.caFile, so the CRL can be verified',
    },
  },
  expiry: {
    hint: () => 'renew the certificate before it expires (`certs run` renews managed domains)',
    managed: (p) => `renew now with ${renew(p)}, or let the next \`certs run\` do it`,
    monitor: replaceWith('a renewed certificate', ' before it expires'),
  },
};

/** certs issued a newer certificate than the one served: deploying it is the fix, whatever was found. */
const deployIssued: Words = (p) => `run ${nginxWrite(p)} (tests and reloads nginx) so that ${theServer(p)} serves the newer certificate certs issued`;

/** A sentence as the catalogue keeps them: one line, no trailing period (older stored hints had one). */
function sentence(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim().replace(/\.$/, '');
}

/** "host:port @address" → host; a file endpoint has no name to put in a certificate. */
function hostOf(endpoint: string | undefined): string | undefined {
  if (!endpoint || endpoint.startsWith('file:')) return undefined;
  const hostPort = endpoint.replace(/ @.*$/, '');
  const colon = hostPort.lastIndexOf(':');
  return colon > 0 ? hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1') : hostPort;
}

/**
 * The context-free fix for `code` (what scan and lifecycle checks put in a problem's `hint`,
 * shown by `certs status` and the JSON): the same catalogue as fixFor, without knowing whether
 * certs renews the domain.
 */
export function hintFor(code: AdviceTopic, params: HintParams = {}): string {
  const advice = CATALOGUE[code];
  const words = (params.variant !== undefined ? advice.variants?.[params.variant] : undefined) ?? advice.hint;
  return sentence(words(params));
}

/** One sentence (no trailing period) telling the reader what to do about `topic` on this domain. */
export function fixFor(topic: AdviceTopic, ctx: AdviceContext): string {
  const p: HintParams = {
    domain: ctx.domain,
    ...(ctx.endpoint !== undefined ? { endpoint: ctx.endpoint } : {}),
    ...(ctx.certFile !== undefined ? { certFile: ctx.certFile } : {}),
  };
  const host = hostOf(ctx.endpoint);
  if (host !== undefined) p.name = host;
  if (ctx.issuedNewer) return sentence(deployIssued(p));
  const advice = CATALOGUE[topic];
  const side = ctx.managed ? advice.managed : advice.monitor;
  if (side) return sentence(side(p));
  // The same fix either way: the problem's own hint may be more specific than the context.
  const own = ctx.hint !== undefined ? sentence(ctx.hint) : '';
  return own || sentence(advice.hint(p));
}

/**
 * The context of a report's fixes: its domain as configured, and whether the endpoint serves
 * an older certificate than certs issued (a stale-deployment problem says so). One place, so
 * the email, the dashboard and `certs status <name>` give the same fix.
 */
export function adviceContextOf(r: Pick<EndpointReport, 'domain' | 'problems'>, domain: { managed: boolean; files?: { cert: string } }, endpoint: string): AdviceContext {
  return {
    domain: r.domain,
    managed: domain.managed,
    endpoint,
    ...(domain.files?.cert !== undefined ? { certFile: domain.files.cert } : {}),
    // certs issued a newer certificate than the one served: deploying it is the fix.
    ...(r.problems.some((p) => p.code === 'stale-deployment') ? { issuedNewer: true } : {}),
  };
}

/** The fix of one problem of a report, in its context (the problem's own hint where the fix does not depend on management). */
export function problemFix(p: Pick<Problem, 'code' | 'hint'>, ctx: AdviceContext): string {
  return fixFor(p.code, { ...ctx, ...(p.hint ? { hint: p.hint } : {}) });
}
