/**
 * Pure helpers over node:crypto X509Certificate: PEM bundles in, CertInfo out.
 * node-forge is avoided on purpose: it cannot read EC keys (ARCHITECTURE §7).
 */
import { X509Certificate } from 'node:crypto';
import { ValidationError, errorMessage } from './errors.js';
import type { CertInfo } from './model.js';
import { DerReader, TAG_BOOLEAN, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, type Tlv } from './der.js';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** DER of every CERTIFICATE block in `text`, in order; other PEM blocks (keys, CRLs) are ignored. */
export function parsePemBundle(text: string, label = 'PEM input'): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, pos);
    if (begin < 0) break;
    const n = out.length + 1;
    const bodyStart = begin + BEGIN.length;
    const end = text.indexOf(END, bodyStart);
    const nextBegin = text.indexOf(BEGIN, bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) {
      throw new ValidationError(`${label}: certificate ${n} is truncated: "${BEGIN}" without a matching "${END}"`, {
        hint: 'the file was probably cut short while copying; export the certificate again',
      });
    }
    const body = text.slice(bodyStart, end).replace(/\s+/g, '');
    if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) {
      throw new ValidationError(`${label}: certificate ${n} is not valid base64 between its BEGIN and END lines`, {
        hint: 'expected PEM: base64 lines between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----',
      });
    }
    out.push(Buffer.from(body, 'base64'));
    pos = end + END.length;
  }
  if (out.length === 0) {
    throw new ValidationError(`${label}: no certificate found (expected at least one "${BEGIN}" block)`, {
      hint: 'point this at a PEM certificate file such as fullchain.pem, not at a key or DER file',
    });
  }
  return out;
}

/**
 * Parsed certificates by DER. A scan meets the same intermediates (and, behind load balancers
 * or on SAN certificates, the same leaves) thousands of times; parsing each once also lets the
 * WeakMap caches below (descriptions, signature checks) hit across endpoints.
 */
const PARSED = new Map<string, X509Certificate>();
const PARSED_MAX = 4096;

export function toX509(der: Buffer, label = 'certificate'): X509Certificate {
  const key = der.toString('base64');
  const hit = PARSED.get(key);
  if (hit) return hit;
  try {
    const cert = new X509Certificate(der);
    if (PARSED.size >= PARSED_MAX) PARSED.delete(PARSED.keys().next().value as string);
    PARSED.set(key, cert);
    return cert;
  } catch (err) {
    throw new ValidationError(`${label}: not a valid X.509 certificate (${errorMessage(err)})`, { cause: err });
  }
}

// ---- signature algorithm (Node 20's X509Certificate does not expose it) ----

const SIG_OIDS: Record<string, string> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.3': 'md4WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
  '1.2.840.10040.4.3': 'dsaWithSHA1',
  '2.16.840.1.101.3.4.3.1': 'dsa_with_SHA224',
  '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
  '2.16.840.1.101.3.4.3.17': 'ML-DSA-44',
  '2.16.840.1.101.3.4.3.18': 'ML-DSA-65',
  '2.16.840.1.101.3.4.3.19': 'ML-DSA-87',
};

const HASH_OIDS: Record<string, string> = {
  '1.2.840.113549.2.2': 'md2',
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

const WEAK_SIGNATURES = new Set([
  'md2WithRSAEncryption', 'md4WithRSAEncryption', 'md5WithRSAEncryption', 'sha1WithRSAEncryption',
  'ecdsa-with-SHA1', 'dsaWithSHA1', 'rsassaPss(sha1)', 'rsassaPss(md5)', 'rsassaPss(md2)',
]);

const CERT_DER = { context: 'certificate DER' };

/** A reader over a DER certificate; its errors start with "certificate DER". */
export function certificateReader(der: Buffer): DerReader {
  return new DerReader(der, CERT_DER);
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }: the outer element and the TBS. */
export function certificateParts(r: DerReader): { cert: Tlv; tbs: Tlv } {
  const cert = r.expect(0, r.buf.length, TAG_SEQUENCE, 'the Certificate SEQUENCE');
  const tbs = r.expect(cert.start, cert.end, TAG_SEQUENCE, 'the TBSCertificate SEQUENCE');
  return { cert, tbs };
}

/** RSASSA-PSS-params: hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1 (RFC 4055). */
function pssHash(r: DerReader, params: Tlv | undefined): string {
  if (!params || params.tag !== TAG_SEQUENCE) return 'sha1';
  for (let pos = params.start; pos < params.end;) {
    const field = r.read(pos, params.end);
    if (field.tag === 0xa0) {
      const algId = r.read(field.start, field.end);
      const oid = r.oid(r.read(algId.start, algId.end));
      return HASH_OIDS[oid] ?? oid;
    }
    pos = field.next;
  }
  return 'sha1';
}

/**
 * The outer signatureAlgorithm of a certificate (the AlgorithmIdentifier after the TBS). Known
 * OIDs get OpenSSL's names, RSASSA-PSS becomes "rsassaPss(<hash>)", others the OID.
 */
export function signatureAlgorithmOf(der: Buffer): string {
  const r = certificateReader(der);
  const { cert, tbs } = certificateParts(r);
  const algId = r.expect(tbs.next, cert.end, TAG_SEQUENCE, 'the signature AlgorithmIdentifier');
  const oidTlv = r.read(algId.start, algId.end);
  const oid = r.oid(oidTlv);
  const name = SIG_OIDS[oid] ?? oid;
  if (name !== 'rsassaPss') return name;
  const params = oidTlv.next < algId.end ? r.read(oidTlv.next, algId.end) : undefined;
  return `rsassaPss(${pssHash(r, params)})`;
}

/**
 * The extension `oid` of a certificate: its critical flag and its extnValue OCTET STRING, or
 * null when the certificate does not have it (v1 and v2 certificates have no extensions).
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.
 */
export function certificateExtension(r: DerReader, oid: string): { critical: boolean; value: Tlv } | null {
  const { tbs } = certificateParts(r);
  for (let pos = tbs.start; pos < tbs.end;) {
    const field = r.read(pos, tbs.end);
    pos = field.next;
    if (field.tag !== 0xa3) continue; // extensions [3] EXPLICIT; no other TBS field has this tag
    const list = r.expect(field.start, field.end, TAG_SEQUENCE, 'the Extensions SEQUENCE');
    for (let p = list.start; p < list.end;) {
      const ext = r.expect(p, list.end, TAG_SEQUENCE, 'an Extension SEQUENCE');
      p = ext.next;
      const id = r.expect(ext.start, ext.end, TAG_OID, 'the extnID OBJECT IDENTIFIER');
      if (!r.isOid(id, oid)) continue;
      let value = r.read(id.next, ext.end);
      // critical BOOLEAN DEFAULT FALSE: absent unless TRUE in DER.
      const critical = value.tag === TAG_BOOLEAN && value.end > value.start && r.buf[value.start] !== 0;
      if (value.tag === TAG_BOOLEAN) value = r.read(value.next, ext.end);
      if (value.tag !== TAG_OCTET_STRING) r.fail('expected the extnValue OCTET STRING', value.start);
      return { critical, value };
    }
    return null;
  }
  return null;
}

/** SHA-1, MD5, MD4 and MD2 based signatures, which browsers and OpenSSL (level ≥ 1) reject. */
export function isWeakSignature(alg: string): boolean {
  return WEAK_SIGNATURES.has(alg);
}

// ---- describing a certificate ----

const CURVE_BITS: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
  secp256k1: { name: 'secp256k1', bits: 256 },
  secp224r1: { name: 'P-224', bits: 224 },
  prime192v1: { name: 'P-192', bits: 192 },
};

function keyInfo(x: X509Certificate): { keyType: string; keyBits: number | null; curve?: string } {
  const key = x.publicKey;
  const keyType = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (d.modulusLength !== undefined) return { keyType, keyBits: d.modulusLength };
  if (d.namedCurve !== undefined) {
    const known = CURVE_BITS[d.namedCurve];
    return { keyType, keyBits: known?.bits ?? null, curve: known?.name ?? d.namedCurve };
  }
  if (keyType === 'ed25519' || keyType === 'x25519') return { keyType, keyBits: 256 };
  if (keyType === 'ed448' || keyType === 'x448') return { keyType, keyBits: 448 };
  return { keyType, keyBits: null };
}

/**
 * Splits Node's "TYPE:value, TYPE:value" rendering. Node (since the CVE-2021-44532 fix) writes a
 * value containing ",", quotes or control characters as a JSON string, so a naive split on ", "
 * would cut such a name in two.
 */
export function parseNameList(text: string | undefined, separator: ', ' | '\n' = ', '): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!text) return out;
  let pos = 0;
  while (pos < text.length) {
    const colon = text.indexOf(':', pos);
    if (colon < 0) break;
    const type = text.slice(pos, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let i = colon + 2;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, i + 1)) as string;
      next = text.indexOf(separator, i + 1);
    } else {
      next = text.indexOf(separator, colon + 1);
      value = text.slice(colon + 1, next < 0 ? undefined : next);
    }
    out.push([type, value]);
    if (next < 0) break;
    pos = next + separator.length;
  }
  return out;
}

/**
 * Same name as issuer and signed by its own key. Not checkIssued(self): that also demands the
 * keyCertSign usage, which self-signed server certificates usually lack.
 */
const SELF_SIGNED = new WeakMap<X509Certificate, boolean>();

export function isSelfSigned(x: X509Certificate): boolean {
  // Two empty names are "the same" here only because the signature check below decides.
  if (dnOf(x.subject) !== dnOf(x.issuer)) return false;
  let known = SELF_SIGNED.get(x);
  if (known === undefined) {
    try {
      known = x.verify(x.publicKey);
    } catch {
      // Keys OpenSSL cannot verify with (exotic algorithms) cannot be judged self-signed.
      known = false;
    }
    SELF_SIGNED.set(x, known);
  }
  return known;
}

function isoDate(nodeDate: string, what: string): string {
  const ms = Date.parse(nodeDate);
  if (Number.isNaN(ms)) throw new ValidationError(`certificate ${what} "${nodeDate}" is not a date`);
  return new Date(ms).toISOString();
}

/** Node prints distinguished names one RDN per line; CertInfo keeps them on one line ('' when empty). */
export function oneLineName(name: string | null | undefined): string {
  return dnOf(name).split('\n').filter(Boolean).join(', ');
}

// ---- empty distinguished names ----
// RFC 5280 §4.2.1.6 allows an empty subject when the subjectAltName extension is critical, and
// Let's Encrypt's `tlsserver` and `shortlived` profiles issue exactly that. Node returns
// `undefined` for an empty DN (later versions may return ''): every reader goes through dnOf().

/** Shown where a name is needed and the subject DN is empty, followed by the first SAN. */
export const EMPTY_SUBJECT = '(empty subject)';
/** Shown for an empty issuer DN (not valid under RFC 5280, but parseable). */
export const EMPTY_ISSUER = '(empty issuer)';

/** A DN as node:crypto prints it (one RDN per line), '' for an empty one. */
export function dnOf(name: string | null | undefined): string {
  return name ?? '';
}

/**
 * Two certificates name the same entity: equal DNs that are not empty. Two empty DNs name
 * nothing, so matching issuer to subject by name alone must never pair them.
 */
export function sameName(a: string | null | undefined, b: string | null | undefined): boolean {
  const x = dnOf(a);
  return x !== '' && x === dnOf(b);
}

/** "(empty subject) www.example.com": the label of a certificate without a subject, by its first SAN. */
export function emptySubjectLabel(firstSan: string | undefined): string {
  return firstSan ? `${EMPTY_SUBJECT} ${firstSan}` : EMPTY_SUBJECT;
}

/** The subject of a described certificate on one line, or "(empty subject) <first SAN>". */
export function subjectLabel(info: Pick<CertInfo, 'subject' | 'dnsNames' | 'ipAddresses'>): string {
  return oneLineName(info.subject) || emptySubjectLabel(info.dnsNames[0] ?? info.ipAddresses[0]);
}

/** The issuer of a described certificate on one line, or "(empty issuer)". */
export function issuerLabel(info: Pick<CertInfo, 'issuer'>): string {
  return oneLineName(info.issuer) || EMPTY_ISSUER;
}

/** The first SAN as CertInfo orders names (DNS names, then IP addresses); undefined without any. */
function firstSanOf(x: X509Certificate): string | undefined {
  const names = parseNameList(x.subjectAltName);
  return names.find(([t]) => t === 'DNS')?.[1] ?? names.find(([t]) => t === 'IP Address')?.[1]?.toLowerCase();
}

/**
 * A short human name for a certificate: the (last) CN of its subject, else the whole subject on
 * one line, else "(empty subject) <first SAN>".
 */
export function certName(x: X509Certificate): string {
  const subject = dnOf(x.subject);
  const cn = subject.split('\n').filter((l) => l.startsWith('CN=')).at(-1)?.slice(3);
  return cn ?? (oneLineName(subject) || emptySubjectLabel(firstSanOf(x)));
}

const SAN_OID = '2.5.29.17';

/**
 * Whether the extension `oid` is marked critical: null when the certificate does not have it.
 * Node 20's X509Certificate does not say, and an empty subject is only valid with a critical SAN.
 */
export function extensionCritical(der: Buffer, oid: string = SAN_OID): boolean | null {
  return certificateExtension(certificateReader(der), oid)?.critical ?? null;
}

const DESCRIBED = new WeakMap<X509Certificate, CertInfo>();

/** The description of a certificate; the same (read-only) object for the same certificate. */
export function describeCert(x: X509Certificate): CertInfo {
  let info = DESCRIBED.get(x);
  if (!info) {
    info = describeUncached(x);
    DESCRIBED.set(x, info);
  }
  return info;
}

function describeUncached(x: X509Certificate): CertInfo {
  const names = parseNameList(x.subjectAltName);
  const access = parseNameList(x.infoAccess, '\n');
  return {
    subject: oneLineName(x.subject),
    issuer: oneLineName(x.issuer),
    serialNumber: x.serialNumber,
    notBefore: isoDate(x.validFrom, 'notBefore'),
    notAfter: isoDate(x.validTo, 'notAfter'),
    fingerprint256: x.fingerprint256,
    ...keyInfo(x),
    signatureAlgorithm: signatureAlgorithmOf(x.raw),
    selfSigned: isSelfSigned(x),
    isCA: x.ca,
    dnsNames: names.filter(([t]) => t === 'DNS').map(([, v]) => v),
    ipAddresses: names.filter(([t]) => t === 'IP Address').map(([, v]) => v.toLowerCase()),
    aiaIssuers: access.filter(([t]) => t === 'CA Issuers - URI').map(([, v]) => v),
  };
}

/** Why a key is too weak for the public web (RSA < 2048, EC < 256 bits, any DSA), or null. */
export function weakKeyReason(info: Pick<CertInfo, 'keyType' | 'keyBits'>): string | null {
  const { keyType, keyBits } = info;
  if (keyType === 'dsa') return `DSA key${keyBits ? ` (${keyBits} bits)` : ''}: DSA is no longer accepted for TLS`;
  if ((keyType === 'rsa' || keyType === 'rsa-pss') && keyBits !== null && keyBits < 2048) return `RSA key of ${keyBits} bits (minimum 2048)`;
  if (keyType === 'ec' && keyBits !== null && keyBits < 256) return `EC key of ${keyBits} bits (minimum 256)`;
  return null;
}
