/**
 * Certificate revocation lists (RFC 5280 §5), pure: the CRL Distribution Points of a certificate,
 * the parse of a CRL (TBSCertList, revoked entries with their reason, thisUpdate/nextUpdate,
 * issuer, signature), its signature check against the issuer's key (node:crypto, no I/O) and the
 * verdict for one certificate. Fetching and caching live in scan/revocation.ts.
 *
 * Everything is read through the project's DER reader; a bad input is a ValidationError
 * "CRL DER: <why> at offset <n>" and nothing else.
 */
import { verify as cryptoVerify, constants, type KeyObject, type X509Certificate } from 'node:crypto';
import { ValidationError } from './errors.js';
import { DerReader, TAG_BOOLEAN, TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, type Tlv } from './der.js';
import { certificateExtension, certificateParts, certificateReader } from './x509.js';

const CRL_DP_OID = '2.5.29.31';
const REASON_CODE_OID = '2.5.29.21';
const CRL_NUMBER_OID = '2.5.29.20';
const ISSUING_DP_OID = '2.5.29.28';
const DELTA_CRL_OID = '2.5.29.27';
const AUTHORITY_KEY_ID_OID = '2.5.29.35';
const TAG_ENUMERATED = 0x0a;
const TAG_BIT_STRING = 0x03;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

/** CRLReason (RFC 5280 §5.3.1) names; 7 is unused. */
export const CRL_REASONS: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export interface RevokedEntry {
  /** Serial number as lower-case hex without leading zero bytes (serialHexOf's form). */
  serial: string;
  revocationDate: Date;
  /** The reasonCode entry extension's name; absent when the CA gave none (which means unspecified). */
  reason?: string;
}

export interface Crl {
  /** The whole TBSCertList element (header included): what the signature covers. */
  tbs: Buffer;
  /** DER of the issuer Name, to compare byte for byte with a certificate's issuer. */
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** The cRLNumber extension as hex, when present. */
  crlNumber?: string;
  /** A delta CRL (deltaCRLIndicator): not a complete list, never enough on its own. */
  delta: boolean;
  /** signatureAlgorithm OID and its parameters element (DER), from the outer CertificateList. */
  signatureOid: string;
  signatureParams: Buffer | null;
  signature: Buffer;
  /** Revoked certificates by serial. */
  revoked: ReadonlyMap<string, RevokedEntry>;
}

const CRL_DER = { context: 'CRL DER', hint: 'expected a DER or PEM X.509 CRL ("openssl crl -in x.crl -noout -text" must read it)' };

/** Lower-case hex of an INTEGER's content bytes without leading zero bytes: the key serials are compared by. */
function serialHex(buf: Buffer, t: Tlv): string {
  let start = t.start;
  while (start < t.end - 1 && buf[start] === 0) start++;
  return buf.subarray(start, t.end).toString('hex');
}

/** A certificate's serial in the form CRL entries are keyed by. */
export function serialHexOf(certDer: Buffer): string {
  const r = certificateReader(certDer);
  const { tbs } = certificateParts(r);
  let pos = tbs.start;
  const first = r.read(pos, tbs.end);
  if (first.tag === 0xa0) pos = first.next; // version [0] EXPLICIT
  const serial = r.expect(pos, tbs.end, TAG_INTEGER, 'the serialNumber INTEGER');
  return serialHex(certDer, serial);
}

/** DER of a certificate's issuer Name (TBS: version, serial, signature, issuer). */
export function issuerNameDerOf(certDer: Buffer): Buffer {
  const r = certificateReader(certDer);
  const { tbs } = certificateParts(r);
  let pos = tbs.start;
  const first = r.read(pos, tbs.end);
  if (first.tag === 0xa0) pos = first.next;
  const serial = r.expect(pos, tbs.end, TAG_INTEGER, 'the serialNumber INTEGER');
  const sig = r.expect(serial.next, tbs.end, TAG_SEQUENCE, 'the signature AlgorithmIdentifier');
  const issuer = r.expect(sig.next, tbs.end, TAG_SEQUENCE, 'the issuer Name');
  return certDer.subarray(sig.next, issuer.next);
}

/**
 * The http(s)/ldap… URIs of the certificate's CRL Distribution Points, per distribution point in
 * certificate order. Distribution points with a cRLIssuer (indirect CRLs) or named relative to the
 * issuer are left out: we check only CRLs the certificate's own issuer signs. Empty when the
 * certificate has no such extension (the fast path: most of the cost is finding the extension).
 */
export function crlDistributionPoints(certDer: Buffer): string[][] {
  const r = certificateReader(certDer);
  const ext = certificateExtension(r, CRL_DP_OID);
  if (!ext) return [];
  const out: string[][] = [];
  const list = r.expect(ext.value.start, ext.value.end, TAG_SEQUENCE, 'the CRLDistributionPoints SEQUENCE');
  for (let pos = list.start; pos < list.end;) {
    const dp = r.expect(pos, list.end, TAG_SEQUENCE, 'a DistributionPoint SEQUENCE');
    pos = dp.next;
    let fullName: Tlv | undefined;
    let indirect = false;
    for (let p = dp.start; p < dp.end;) {
      const field = r.read(p, dp.end);
      p = field.next;
      if (field.tag === 0xa0) {
        const name = r.read(field.start, field.end);
        if (name.tag === 0xa0) fullName = name; // fullName [0] GeneralNames; [1] is relative to the issuer
      } else if (field.tag === 0xa2) {
        indirect = true; // cRLIssuer
      }
    }
    if (!fullName || indirect) continue;
    const uris: string[] = [];
    for (let p = fullName.start; p < fullName.end;) {
      const gn = r.read(p, fullName.end);
      p = gn.next;
      if (gn.tag === 0x86) uris.push(certDer.subarray(gn.start, gn.end).toString('latin1')); // uniformResourceIdentifier [6] IA5String
    }
    if (uris.length > 0) out.push(uris);
  }
  return out;
}

function readTime(r: DerReader, t: Tlv, what: string): Date {
  const text = r.buf.subarray(t.start, t.end).toString('latin1');
  let m: RegExpExecArray | null;
  let iso: string | undefined;
  if (t.tag === TAG_UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(m[1]);
    iso = `${yy < 50 ? 2000 + yy : 1900 + yy}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`;
  } else if (t.tag === TAG_GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`;
  }
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) r.fail(`${what} is not a valid UTCTime or GeneralizedTime`, t.start);
  return date;
}

function isTime(t: Tlv): boolean {
  return t.tag === TAG_UTC_TIME || t.tag === TAG_GENERALIZED_TIME;
}

/** Extensions ::= SEQUENCE OF Extension; calls `each` with the OID element, critical flag and extnValue. */
function eachExtension(r: DerReader, list: Tlv, each: (id: Tlv, critical: boolean, value: Tlv) => void): void {
  for (let p = list.start; p < list.end;) {
    const ext = r.expect(p, list.end, TAG_SEQUENCE, 'an Extension SEQUENCE');
    p = ext.next;
    const id = r.expect(ext.start, ext.end, TAG_OID, 'the extnID OBJECT IDENTIFIER');
    let value = r.read(id.next, ext.end);
    const critical = value.tag === TAG_BOOLEAN && value.end > value.start && r.buf[value.start] !== 0;
    if (value.tag === TAG_BOOLEAN) value = r.read(value.next, ext.end);
    if (value.tag !== TAG_OCTET_STRING) r.fail('expected the extnValue OCTET STRING', value.start);
    each(id, critical, value);
  }
}

const PEM_CRL = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/;

/** DER of a CRL given as DER or PEM ("-----BEGIN X509 CRL-----"). */
export function crlDer(body: Buffer): Buffer {
  if (body.length > 0 && body[0] === 0x30) return body;
  const head = body.subarray(0, 64).toString('latin1');
  if (!head.includes('-----BEGIN')) {
    throw new ValidationError(`CRL: expected DER or PEM, got ${body.length} bytes that are neither (not quoted)`, { hint: CRL_DER.hint });
  }
  const m = PEM_CRL.exec(body.toString('latin1'));
  if (!m) throw new ValidationError('CRL: no complete "-----BEGIN X509 CRL-----" block', { hint: CRL_DER.hint });
  return Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64');
}

/** Parses a DER CRL. Throws a ValidationError naming the offset on any malformed input, nothing else. */
export function parseCrl(der: Buffer): Crl {
  const r = new DerReader(der, CRL_DER);
  const outer = r.expect(0, der.length, TAG_SEQUENCE, 'the CertificateList SEQUENCE');
  if (outer.next !== der.length) r.fail('trailing bytes after the CertificateList', outer.next);
  const tbs = r.expect(outer.start, outer.end, TAG_SEQUENCE, 'the TBSCertList SEQUENCE');
  const algId = r.expect(tbs.next, outer.end, TAG_SEQUENCE, 'the signatureAlgorithm AlgorithmIdentifier');
  const sigOid = r.read(algId.start, algId.end);
  const signatureOid = r.oid(sigOid);
  const signatureParams = sigOid.next < algId.end ? der.subarray(sigOid.next, r.read(sigOid.next, algId.end).next) : null;
  const sigBits = r.expect(algId.next, outer.end, TAG_BIT_STRING, 'the signatureValue BIT STRING');
  if (sigBits.end === sigBits.start || der[sigBits.start] !== 0) r.fail('signatureValue has unused bits', sigBits.start);

  let pos = tbs.start;
  let el = r.read(pos, tbs.end);
  if (el.tag === TAG_INTEGER) {
    if (el.end - el.start !== 1 || der[el.start] !== 1) r.fail('unsupported CRL version (expected v2)', el.start);
    pos = el.next;
    el = r.read(pos, tbs.end);
  }
  if (el.tag !== TAG_SEQUENCE) r.fail('expected the signature AlgorithmIdentifier', el.start - 2);
  const innerAlg = el;
  if (Buffer.compare(der.subarray(innerAlg.start, innerAlg.end), der.subarray(algId.start, algId.end)) !== 0) {
    r.fail('the TBSCertList signature algorithm differs from the outer signatureAlgorithm', innerAlg.start);
  }
  const issuer = r.expect(innerAlg.next, tbs.end, TAG_SEQUENCE, 'the issuer Name');
  const thisTlv = r.read(issuer.next, tbs.end);
  if (!isTime(thisTlv)) r.fail('expected thisUpdate (a UTCTime or GeneralizedTime)', issuer.next);
  const thisUpdate = readTime(r, thisTlv, 'thisUpdate');
  pos = thisTlv.next;
  let nextUpdate: Date | null = null;
  const revoked = new Map<string, RevokedEntry>();
  let crlNumber: string | undefined;
  let delta = false;
  while (pos < tbs.end) {
    const field = r.read(pos, tbs.end);
    if (isTime(field) && nextUpdate === null && revoked.size === 0) {
      nextUpdate = readTime(r, field, 'nextUpdate');
    } else if (field.tag === TAG_SEQUENCE) {
      for (let p = field.start; p < field.end;) {
        const entry = r.expect(p, field.end, TAG_SEQUENCE, 'a revokedCertificates entry');
        p = entry.next;
        const serial = r.expect(entry.start, entry.end, TAG_INTEGER, 'the userCertificate serial INTEGER');
        const dateTlv = r.read(serial.next, entry.end);
        if (!isTime(dateTlv)) r.fail('expected the revocationDate', serial.next);
        const rev: RevokedEntry = { serial: serialHex(der, serial), revocationDate: readTime(r, dateTlv, 'revocationDate') };
        if (dateTlv.next < entry.end) {
          const exts = r.expect(dateTlv.next, entry.end, TAG_SEQUENCE, 'the crlEntryExtensions SEQUENCE');
          eachExtension(r, exts, (id, critical, value) => {
            if (r.isOid(id, REASON_CODE_OID)) {
              const code = r.expect(value.start, value.end, TAG_ENUMERATED, 'the CRLReason ENUMERATED');
              if (code.end - code.start !== 1) r.fail('CRLReason out of range', code.start);
              const n = der[code.start] as number;
              rev.reason = CRL_REASONS[n] ?? `reason ${n}`;
            } else if (critical) {
              r.fail(`unsupported critical entry extension ${r.oid(id)}`, id.start);
            }
          });
        }
        revoked.set(rev.serial, rev);
      }
    } else if (field.tag === 0xa0) {
      const exts = r.expect(field.start, field.end, TAG_SEQUENCE, 'the crlExtensions SEQUENCE');
      eachExtension(r, exts, (id, critical, value) => {
        if (r.isOid(id, CRL_NUMBER_OID)) {
          const n = r.expect(value.start, value.end, TAG_INTEGER, 'the cRLNumber INTEGER');
          crlNumber = serialHex(der, n);
        } else if (r.isOid(id, DELTA_CRL_OID)) {
          delta = true;
        } else if (critical && !r.isOid(id, ISSUING_DP_OID) && !r.isOid(id, AUTHORITY_KEY_ID_OID)) {
          // RFC 5280 §5.2: a CRL with a critical extension we do not understand must not be used.
          r.fail(`unsupported critical CRL extension ${r.oid(id)}`, id.start);
        }
      });
    } else {
      r.fail(`unexpected element (tag 0x${field.tag.toString(16)}) in the TBSCertList`, pos);
    }
    pos = field.next;
  }
  return {
    tbs: der.subarray(outer.start, tbs.next),
    issuerDer: der.subarray(innerAlg.next, issuer.next),
    thisUpdate,
    nextUpdate,
    ...(crlNumber !== undefined ? { crlNumber } : {}),
    delta,
    signatureOid,
    signatureParams,
    signature: der.subarray(sigBits.start + 1, sigBits.end),
    revoked,
  };
}

const HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const HASH_OIDS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const RSA_PSS_OID = '1.2.840.113549.1.1.10';
const ED25519_OID = '1.3.101.112';
const ED448_OID = '1.3.101.113';

/** RSASSA-PSS-params: the hash ([0], default sha1) and salt length ([2], default 20). */
function pssParams(params: Buffer | null): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let saltLength = 20;
  if (!params) return { hash, saltLength };
  const r = new DerReader(params, CRL_DER);
  const seq = r.expect(0, params.length, TAG_SEQUENCE, 'the RSASSA-PSS parameters');
  for (let p = seq.start; p < seq.end;) {
    const field = r.read(p, seq.end);
    p = field.next;
    if (field.tag === 0xa0) {
      const alg = r.expect(field.start, field.end, TAG_SEQUENCE, 'the PSS hash AlgorithmIdentifier');
      const oid = r.oid(r.read(alg.start, alg.end));
      hash = HASH_OIDS[oid] ?? r.fail(`unsupported PSS hash ${oid}`, alg.start);
    } else if (field.tag === 0xa2) {
      const n = r.expect(field.start, field.end, TAG_INTEGER, 'the PSS saltLength');
      saltLength = parseInt(params.subarray(n.start, n.end).toString('hex'), 16);
    }
  }
  return { hash, saltLength };
}

/**
 * Whether `crl`'s signature verifies with `issuerKey` (the issuer certificate's public key).
 * RSA PKCS#1 v1.5 and RSASSA-PSS, ECDSA and EdDSA. An algorithm we do not know is a
 * ValidationError (the caller reports it as "cannot tell"), never `true`.
 */
export function verifyCrlSignature(crl: Crl, issuerKey: KeyObject): boolean {
  const oid = crl.signatureOid;
  try {
    if (oid === ED25519_OID || oid === ED448_OID) return cryptoVerify(null, crl.tbs, issuerKey, crl.signature);
    if (oid === RSA_PSS_OID) {
      const { hash, saltLength } = pssParams(crl.signatureParams);
      return cryptoVerify(hash, crl.tbs, { key: issuerKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, crl.signature);
    }
    const hash = HASHES[oid];
    if (!hash) throw new ValidationError(`CRL: unsupported signature algorithm ${oid}`);
    return cryptoVerify(hash, crl.tbs, issuerKey, crl.signature);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    // A key of the wrong type for the algorithm, or a malformed signature: it does not verify.
    return false;
  }
}

/** Five minutes of clock skew, as for certificates' notBefore. */
const SKEW_MS = 5 * 60_000;

export type CrlVerdict =
  | { status: 'good' }
  | { status: 'revoked'; revocationDate: Date; reason: string }
  | { status: 'unknown'; why: string };

/**
 * The verdict on one certificate (`certDer`) against a CRL the caller fetched and whose signature
 * it checked against `issuer` (`signatureValid`). Only a CRL that is from the certificate's
 * issuer, verifies, is complete (not a delta) and is current at `now` can say `revoked` or `good`;
 * anything else is `unknown` with the reason.
 */
export function judgeCertificate(certDer: Buffer, issuer: X509Certificate, crl: Crl, signatureValid: boolean, now: Date): CrlVerdict {
  if (!signatureValid) return { status: 'unknown', why: `its signature does not verify with the key of ${issuerText(issuer)}` };
  if (!issuerNameDerOf(certDer).equals(crl.issuerDer)) return { status: 'unknown', why: 'it was issued by another CA than the certificate (indirect CRLs are not supported)' };
  if (crl.delta) return { status: 'unknown', why: 'it is a delta CRL, not a complete list' };
  const t = now.getTime();
  if (crl.thisUpdate.getTime() - SKEW_MS > t) return { status: 'unknown', why: `it is not valid yet (thisUpdate ${crl.thisUpdate.toISOString()})` };
  if (crl.nextUpdate && crl.nextUpdate.getTime() < t) return { status: 'unknown', why: `it is stale: past its nextUpdate ${crl.nextUpdate.toISOString()}` };
  const entry = crl.revoked.get(serialHexOf(certDer));
  if (!entry) return { status: 'good' };
  return { status: 'revoked', revocationDate: entry.revocationDate, reason: entry.reason ?? 'unspecified' };
}

function issuerText(issuer: X509Certificate): string {
  const cn = issuer.subject.split('\n').filter((l) => l.startsWith('CN=')).at(-1);
  return cn ? `"${cn.slice(3)}"` : 'its issuer';
}
