/**
 * Chain analysis: from the certificates a server sent (in the order sent) and a trust store, pick
 * the path a strict client (curl, Node, Java) would build and report every problem on it.
 * Pure: `now` is an argument; the clock is never read.
 */
import type { X509Certificate } from 'node:crypto';
import { hintFor } from './advice.js';
import { ValidationError } from './errors.js';
import type { CertInfo, ChainAnalysis, PathEntry } from './model.js';
import type { Problem } from './problems.js';
import { issuedBy, type TrustAnchors } from './trust-anchors.js';
import { expirySeverity, explainThresholds, lifetimeOf, thresholdsInForce } from './thresholds.js';
import { EMPTY_ISSUER, certName, describeCert, isSelfSigned, isWeakSignature, oneLineName, signatureAlgorithmOf, weakKeyReason } from './x509.js';

export interface AnalyseChainInput {
  /** Certificates as served, leaf first. */
  served: X509Certificate[];
  anchors: TrustAnchors;
  /** The scanned name (A-label DNS name) or an IP literal. */
  name: string;
  now: Date;
  /** expiring-soon as a warning at ≤ this many days left (default 30); scaled to short lifetimes (core/thresholds.ts). */
  warningDays?: number;
  /** expiring-soon as critical at ≤ this many days left (default 7); scaled like warningDays. */
  criticalDays?: number;
  /**
   * False when the served chain could not be observed (TLS 1.3: Node rebuilds it and appends a
   * root from its store): no verdict then on order, served anchors or extra certificates.
   */
  orderKnown?: boolean;
}

const DAY_MS = 86_400_000;
/** Bounds on the search: servers have been seen sending hundreds of (duplicate) certificates. */
const MAX_SERVED = 50;
const MAX_DEPTH = 10;
const MAX_STEPS = 2_000;
const MAX_PATHS = 64;

type Ending = 'trusted' | 'untrusted-root' | 'self-signed' | 'incomplete' | 'too-long';

interface Node {
  cert: X509Certificate;
  fp: string;
  /** First position in the served list; null when the node came from the trust store. */
  servedIndex: number | null;
  anchor: boolean;
  selfSigned: boolean;
  notBefore: number;
  notAfter: number;
}

interface Candidate {
  nodes: Node[];
  ending: Ending;
}

const ENDING_RANK: Record<Ending, number> = { trusted: 0, 'untrusted-root': 1, 'self-signed': 1, incomplete: 2, 'too-long': 2 };

/**
 * A short, human name for messages: the subject CN (or whole subject, or "(empty subject)" and
 * the first SAN) and a fingerprint prefix.
 */
export function certLabel(cert: X509Certificate): string {
  return `"${certName(cert)}" (SHA-256 ${cert.fingerprint256.slice(0, 11)}…)`;
}

function parseTime(nodeDate: string): number {
  const ms = Date.parse(nodeDate);
  return Number.isNaN(ms) ? 0 : ms;
}

class PathFinder {
  private readonly nodes = new Map<string, Node>();
  private readonly servedNodes: Node[] = [];
  private readonly issuedMemo = new Map<string, boolean>();
  private readonly results: Candidate[] = [];
  private steps = 0;

  constructor(served: X509Certificate[], private readonly anchors: TrustAnchors) {
    served.forEach((cert, i) => {
      if (this.servedNodes.length >= MAX_SERVED || this.nodes.has(cert.fingerprint256)) return;
      const node = this.node(cert, i);
      this.servedNodes.push(node);
    });
  }

  node(cert: X509Certificate, servedIndex: number | null = null): Node {
    const known = this.nodes.get(cert.fingerprint256);
    if (known) return known;
    const node: Node = {
      cert,
      fp: cert.fingerprint256,
      servedIndex,
      anchor: this.anchors.isAnchor(cert),
      selfSigned: isSelfSigned(cert),
      notBefore: parseTime(cert.validFrom),
      notAfter: parseTime(cert.validTo),
    };
    this.nodes.set(node.fp, node);
    return node;
  }

  get leaf(): Node {
    return this.servedNodes[0] as Node;
  }

  private issued(child: Node, parent: Node): boolean {
    const key = `${child.fp}>${parent.fp}`;
    let ok = this.issuedMemo.get(key);
    if (ok === undefined) {
      ok = issuedBy(child.cert, parent.cert);
      this.issuedMemo.set(key, ok);
    }
    return ok;
  }

  /** Served issuers first (in served order), then trust-store ones, without repeats. */
  servedIssuers(child: Node, exclude: ReadonlySet<string>): Node[] {
    return this.servedNodes.filter((n) => !exclude.has(n.fp) && this.issued(child, n));
  }

  private issuers(child: Node, onPath: ReadonlySet<string>): Node[] {
    const out = this.servedIssuers(child, onPath);
    for (const cert of this.anchors.issuersOf(child.cert)) {
      const node = this.node(cert);
      if (!onPath.has(node.fp) && !out.includes(node)) out.push(node);
    }
    return out;
  }

  search(): Candidate[] {
    this.visit([this.leaf]);
    return this.results;
  }

  private visit(path: Node[]): void {
    if (++this.steps > MAX_STEPS || this.results.length >= MAX_PATHS) return;
    const last = path[path.length - 1] as Node;
    if (last.anchor) return this.record(path, 'trusted');
    if (last.selfSigned) return this.record(path, path.length === 1 ? 'self-signed' : 'untrusted-root');
    if (path.length >= MAX_DEPTH) return this.record(path, 'too-long');
    const onPath = new Set(path.map((n) => n.fp));
    const next = this.issuers(last, onPath);
    if (next.length === 0) return this.record(path, 'incomplete');
    for (const issuer of next) this.visit([...path, issuer]);
  }

  private record(nodes: Node[], ending: Ending): void {
    this.results.push({ nodes, ending });
  }
}

function timeInvalid(n: Node, now: number): boolean {
  return now < n.notBefore || now > n.notAfter;
}

/** Trusted first, then fewest certificates outside their validity, then shortest, then most served. */
function choosePath(candidates: Candidate[], now: number): Candidate {
  const score = (c: Candidate): number[] => [
    ENDING_RANK[c.ending],
    c.nodes.filter((n) => !n.anchor && timeInvalid(n, now)).length,
    c.nodes.length,
    c.nodes.filter((n) => n.servedIndex === null).length,
  ];
  let best = candidates[0] as Candidate;
  let bestScore = score(best);
  for (const c of candidates.slice(1)) {
    const s = score(c);
    const i = s.findIndex((v, k) => v !== bestScore[k]);
    if (i >= 0 && (s[i] as number) < (bestScore[i] as number)) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}

/**
 * Served certificates that continue the chain above a trusted anchor that is not a root (an
 * intermediate in trust.caFile, a cross-signed root): they belong to the chain a client with
 * another store would build, so they are neither extra nor out of place.
 */
function aboveAnchor(finder: PathFinder, chosen: Candidate): Node[] {
  const out: Node[] = [];
  const seen = new Set(chosen.nodes.map((n) => n.fp));
  let last = chosen.nodes[chosen.nodes.length - 1] as Node;
  while (chosen.ending === 'trusted' && !last.selfSigned && out.length < MAX_DEPTH) {
    const next = finder.servedIssuers(last, seen)[0];
    if (!next) break;
    out.push(next);
    seen.add(next.fp);
    last = next;
  }
  return out;
}

function hostnameProblem(leaf: X509Certificate, info: CertInfo, rawName: string): Problem | null {
  const name = rawName.trim().toLowerCase().replace(/\.$/, '');
  const ip = ipLiteral(name);
  let covered: boolean;
  try {
    covered = ip !== null
      ? leaf.checkIP(ip) !== undefined
      : leaf.checkHost(name, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined;
  } catch {
    // checkHost/checkIP throw on names they cannot parse: such a name is not covered either.
    covered = false;
  }
  if (covered) return null;
  const names = [...info.dnsNames, ...info.ipAddresses.map((a) => `IP ${a}`)];
  return {
    code: 'hostname-mismatch',
    severity: 'critical',
    message: `certificate ${certLabel(leaf)} does not cover "${rawName}"; it covers ${names.length ? names.join(', ') : 'no subjectAltName names at all (the CN is ignored)'}`,
    hint: hintFor('hostname-mismatch', { name }),
  };
}

function ipLiteral(name: string): string | null {
  const n = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(n)) return n;
  if (n.includes(':') && /^[0-9a-f:.]+$/.test(n)) return n;
  return null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function analyseChain(input: AnalyseChainInput): ChainAnalysis {
  const { served, anchors, name, now } = input;
  const warningDays = input.warningDays ?? 30;
  const criticalDays = input.criticalDays ?? 7;
  const orderKnown = input.orderKnown ?? true;
  if (served.length === 0) throw new ValidationError(`chain for "${name}": no certificate was served`);
  const nowMs = now.getTime();

  const finder = new PathFinder(served, anchors);
  const chosen = choosePath(finder.search(), nowMs);
  const path = chosen.nodes;
  const leaf = finder.leaf;
  const above = aboveAnchor(finder, chosen);

  const infos = new Map<string, CertInfo>();
  const info = (cert: X509Certificate): CertInfo => {
    let i = infos.get(cert.fingerprint256);
    if (!i) {
      i = describeCert(cert);
      infos.set(cert.fingerprint256, i);
    }
    return i;
  };

  const problems: Problem[] = [];
  const add = (p: Problem): void => { problems.push(p); };
  const leafLabel = certLabel(leaf.cert);

  // Validity of the leaf.
  if (nowMs > leaf.notAfter) {
    add({ code: 'expired', severity: 'critical', message: `certificate ${leafLabel} expired on ${iso(leaf.notAfter)}`, hint: hintFor('expired') });
  }
  if (nowMs < leaf.notBefore) {
    add({ code: 'not-yet-valid', severity: 'critical', message: `certificate ${leafLabel} is not valid before ${iso(leaf.notBefore)}`, hint: hintFor('not-yet-valid') });
  }

  // Days left run to the earliest expiry among the certs a client must check (not anchors).
  const dated = path.filter((n) => n === leaf || !n.anchor);
  const first = dated.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
  const daysLeft = Math.floor((first.notAfter - nowMs) / DAY_MS);
  // The windows fit the leaf's lifetime (core/thresholds.ts): a 47-day certificate warns at 15.7
  // days, not for two thirds of its life; 90-day and longer ones keep warningDays/criticalDays.
  const thresholds = thresholdsInForce(lifetimeOf(leaf.notBefore, leaf.notAfter), { warningDays, criticalDays });
  const expiring = first.notAfter >= nowMs ? expirySeverity(first.notAfter - nowMs, thresholds) : null;
  if (expiring) {
    const which = first === leaf ? `certificate ${leafLabel}` : `intermediate ${certLabel(first.cert)} on the chain of ${leafLabel}`;
    const scaled = thresholds.scaled ? `; ${explainThresholds(thresholds)}` : '';
    add({
      code: 'expiring-soon',
      severity: expiring,
      message: `${which} expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (${iso(first.notAfter)})${scaled}`,
      hint: hintFor('expiring-soon', first === leaf ? {} : { variant: 'intermediate' }),
    });
  }

  const chainExpired = path.filter((n) => n !== leaf && !n.anchor && timeInvalid(n, nowMs));
  if (chainExpired.length > 0) {
    add({
      code: 'chain-cert-expired',
      severity: 'critical',
      message: `chain of ${leafLabel} has certificates outside their validity period: ${chainExpired.map((n) => `${certLabel(n.cert)} ${nowMs > n.notAfter ? `expired on ${iso(n.notAfter)}` : `is not valid before ${iso(n.notBefore)}`}`).join('; ')}`,
      hint: hintFor('chain-cert-expired'),
    });
  }

  const mismatch = hostnameProblem(leaf.cert, info(leaf.cert), name);
  if (mismatch) add(mismatch);

  const top = path[path.length - 1] as Node;
  if (chosen.ending === 'self-signed') {
    add({ code: 'self-signed', severity: 'critical', message: `certificate ${leafLabel} is self-signed and not a trusted anchor`, hint: hintFor('self-signed') });
  } else if (chosen.ending === 'untrusted-root') {
    add({ code: 'untrusted-root', severity: 'critical', message: `chain of ${leafLabel} ends at root ${certLabel(top.cert)}, which is not a trusted anchor`, hint: hintFor('untrusted-root') });
  } else if (chosen.ending === 'incomplete' || chosen.ending === 'too-long') {
    const aia = info(top.cert).aiaIssuers;
    const missing = oneLineName(top.cert.issuer) || EMPTY_ISSUER;
    add({
      code: 'incomplete-chain',
      severity: 'critical',
      message: chosen.ending === 'too-long'
        ? `chain of ${leafLabel} is longer than ${MAX_DEPTH} certificates without reaching a trusted anchor`
        : `chain of ${leafLabel} is incomplete: issuer "${missing}" of ${certLabel(top.cert)} was neither served nor trusted` +
          (aia.length ? ` (its AIA caIssuers URL: ${aia.join(', ')})` : ' (the certificate has no AIA caIssuers URL)') +
          '. curl, Node, Go, Java and Android clients fail; browsers may still work because they fetch missing intermediates',
      hint: hintFor('incomplete-chain'),
    });
  }

  // Served certs on the chain (path plus anything continuing it above a non-root anchor), in chain order.
  const chainNodes = [...path, ...above];
  const onChain = new Set(chainNodes.map((n) => n.fp));
  const servedChain = chainNodes.filter((n) => n.servedIndex !== null);
  const complete = chosen.ending === 'trusted' || chosen.ending === 'untrusted-root';
  if (orderKnown && complete && servedChain.some((n, i) => i > 0 && (n.servedIndex as number) < (servedChain[i - 1]?.servedIndex as number))) {
    add({
      code: 'wrong-order',
      severity: 'warning',
      message: `chain of ${leafLabel} is served out of order: sent as ${servedChain.slice().sort((a, b) => (a.servedIndex as number) - (b.servedIndex as number)).map((n) => certLabel(n.cert)).join(' → ')}; expected ${servedChain.map((n) => certLabel(n.cert)).join(' → ')}`,
      hint: hintFor('wrong-order'),
    });
  }

  const servedAnchors = chainNodes.filter((n) => n !== leaf && n.servedIndex !== null && n.anchor && n.selfSigned);
  if (orderKnown && servedAnchors.length > 0) {
    add({
      code: 'contains-anchor',
      severity: 'warning',
      message: `chain of ${leafLabel} includes the trust anchor ${servedAnchors.map((n) => certLabel(n.cert)).join(', ')}; clients already have it`,
      hint: hintFor('contains-anchor'),
    });
  }

  const seen = new Set<string>();
  const extras: string[] = [];
  served.forEach((cert, i) => {
    const fp = cert.fingerprint256;
    if (seen.has(fp)) extras.push(`#${i + 1} ${certLabel(cert)} (duplicate)`);
    else if (!onChain.has(fp)) extras.push(`#${i + 1} ${certLabel(cert)}`);
    seen.add(fp);
  });
  if (orderKnown && extras.length > 0) {
    add({
      code: 'extra-certs',
      severity: 'warning',
      message: `served chain of ${leafLabel} has ${extras.length} certificate${extras.length === 1 ? '' : 's'} not on the path: ${extras.join(', ')}`,
      hint: hintFor('extra-certs'),
    });
  }

  const weakSigs = path.filter((n) => !n.anchor).flatMap((n) => {
    const alg = signatureAlgorithmOf(n.cert.raw);
    return isWeakSignature(alg) ? [`${certLabel(n.cert)} (${alg})`] : [];
  });
  if (weakSigs.length > 0) {
    add({ code: 'weak-signature', severity: 'critical', message: `chain of ${leafLabel} has weak signatures: ${weakSigs.join(', ')}`, hint: hintFor('weak-signature') });
  }

  const weakKeys = path.flatMap((n) => {
    const why = weakKeyReason(info(n.cert));
    return why ? [`${certLabel(n.cert)}: ${why}`] : [];
  });
  if (weakKeys.length > 0) {
    add({ code: 'weak-key', severity: 'critical', message: `chain of ${leafLabel} has weak keys: ${weakKeys.join('; ')}`, hint: hintFor('weak-key') });
  }

  const pathEntries: PathEntry[] = path.map((n) => ({ fingerprint256: n.fp, source: n.servedIndex === null ? 'trust-store' : 'served', anchor: n.anchor }));
  return {
    served: served.map(info),
    path: pathEntries,
    added: path.filter((n) => n.servedIndex === null).map((n) => info(n.cert)),
    trusted: chosen.ending === 'trusted',
    notAfter: iso(first.notAfter),
    daysLeft,
    problems,
  };
}
