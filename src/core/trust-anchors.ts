/**
 * The certificates a scan trusts (system roots plus `trust.caFile`). Every certificate in the store
 * is an anchor, roots and intermediates alike: a path that reaches one is trusted.
 */
import type { X509Certificate } from 'node:crypto';
import { dnOf, parsePemBundle, toX509 } from './x509.js';

export function spkiOf(cert: X509Certificate): string {
  return cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** Does `issuer` (by name, key identifiers, key usage and signature) issue `cert`? */
/** Signature checks by (certificate, issuer): the same intermediate is verified once per run, not per endpoint. */
const ISSUED_BY = new WeakMap<X509Certificate, WeakMap<X509Certificate, boolean>>();

export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  let byIssuer = ISSUED_BY.get(cert);
  if (!byIssuer) {
    byIssuer = new WeakMap();
    ISSUED_BY.set(cert, byIssuer);
  }
  let known = byIssuer.get(issuer);
  if (known === undefined) {
    try {
      known = cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
    } catch {
      // A key type OpenSSL cannot verify with cannot be this certificate's issuer for us.
      known = false;
    }
    byIssuer.set(issuer, known);
  }
  return known;
}

export class TrustAnchors {
  private readonly byFingerprint = new Map<string, X509Certificate>();
  private readonly bySubjectName = new Map<string, X509Certificate[]>();
  private readonly spkiCache = new Map<string, string>();

  constructor(certs: Iterable<X509Certificate> = []) {
    for (const cert of certs) {
      if (this.byFingerprint.has(cert.fingerprint256)) continue;
      this.byFingerprint.set(cert.fingerprint256, cert);
      const subject = dnOf(cert.subject);
      const list = this.bySubjectName.get(subject);
      if (list) list.push(cert);
      else this.bySubjectName.set(subject, [cert]);
    }
  }

  /** Anchors from a PEM bundle (e.g. the contents of trust.caFile); `label` names it in errors. */
  static fromPem(text: string, label?: string): TrustAnchors {
    return new TrustAnchors(parsePemBundle(text, label).map((der, i) => toX509(der, `${label ?? 'PEM input'} certificate ${i + 1}`)));
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  all(): X509Certificate[] {
    return [...this.byFingerprint.values()];
  }

  /** Anchors with this subject DN (Node's multi-line form; '' or undefined for an empty DN). */
  bySubject(subject: string | undefined): readonly X509Certificate[] {
    return this.bySubjectName.get(dnOf(subject)) ?? [];
  }

  has(fingerprint256: string): boolean {
    return this.byFingerprint.has(fingerprint256);
  }

  /**
   * True for an anchor itself and for any certificate with an anchor's subject and key: a re-issued
   * root or a cross-signed copy ends the path just as the self-signed one does. An empty subject
   * names nothing: such a certificate is an anchor only by its fingerprint, never because another
   * empty-subject certificate with its key was pinned.
   */
  isAnchor(cert: X509Certificate): boolean {
    if (this.byFingerprint.has(cert.fingerprint256)) return true;
    if (dnOf(cert.subject) === '') return false;
    const sameName = this.bySubject(cert.subject);
    if (sameName.length === 0) return false;
    const spki = spkiOf(cert);
    return sameName.some((a) => this.anchorSpki(a) === spki);
  }

  /**
   * Anchors that issued `cert` (name match, then checkIssued and signature verification: an empty
   * issuer DN only narrows the candidates, the signature decides).
   */
  issuersOf(cert: X509Certificate): X509Certificate[] {
    return this.bySubject(cert.issuer).filter((a) => issuedBy(cert, a));
  }

  private anchorSpki(anchor: X509Certificate): string {
    let spki = this.spkiCache.get(anchor.fingerprint256);
    if (spki === undefined) {
      spki = spkiOf(anchor);
      this.spkiCache.set(anchor.fingerprint256, spki);
    }
    return spki;
  }
}
