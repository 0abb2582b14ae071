/**
 * Certificates out of a PKCS#7 / CMS SignedData bundle (RFC 5652): the ".p7c" "certs-only"
 * degenerate form that AIA caIssuers URLs serve (RFC 5280 §4.2.2.1) and that Windows exports as
 * ".p7b". Only the `certificates` field is read; signatures, CRLs and signer infos are ignored.
 *
 * Pure and bounded: every length is checked against its enclosing element, nesting depth and the
 * number of elements walked are capped, and a bad input is a ValidationError naming the offset.
 * BER indefinite lengths (0x80 … 00 00) are accepted on the wrappers, because some CAs and Windows
 * tools produce them; the certificates inside must be DER, as X.509 requires.
 */
import { DerReader, TAG_INTEGER, TAG_OID, TAG_SEQUENCE, TAG_SET } from './der.js';
import { ValidationError } from './errors.js';

const SIGNED_DATA_OID = '1.2.840.113549.1.7.2';
/** At most this many certificates in one bundle (real AIA bundles hold 1 to 3). */
export const MAX_PKCS7_CERTS = 64;
/** Nesting depth; SignedData needs 4 levels down to a certificate. */
const MAX_DEPTH = 16;
/** Elements visited per parse, counting re-walks of indefinite-length content. */
const MAX_ELEMENTS = 100_000;

/** PEM labels of a PKCS#7 block: RFC 7468 "PKCS7" and "CMS", and OpenSSL's legacy spelling. */
const PEM_LABELS = ['PKCS7', 'CMS', 'PKCS #7 SIGNED DATA'];
const PEM_BEGIN = /-----BEGIN (PKCS7|CMS|PKCS #7 SIGNED DATA)-----/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const HINT = 'expected a DER or PEM PKCS#7 SignedData ("certs-only", .p7c/.p7b) such as `openssl crl2pkcs7 -nocrl -certfile chain.pem` writes';

function reader(buf: Buffer, label: string): DerReader {
  return new DerReader(buf, {
    context: `${label}: not a valid PKCS#7 bundle`, hint: HINT, indefinite: true, maxDepth: MAX_DEPTH, maxElements: MAX_ELEMENTS,
  });
}

/**
 * True when `der` starts like a ContentInfo of type signedData (cheap sniff, no full parse): what
 * tells a PKCS#7 bundle apart from a single DER certificate, which also starts with a SEQUENCE.
 */
export function isPkcs7Der(der: Uint8Array): boolean {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (buf[0] !== TAG_SEQUENCE) return false;
  try {
    const r = reader(buf, 'PKCS#7 sniff');
    // The outer length is not checked: a truncated bundle is still a bundle, refused as one later.
    return r.isOid(r.read(r.header(0, buf.length).start, buf.length), SIGNED_DATA_OID);
  } catch {
    return false;
  }
}

/**
 * DER of every certificate in a DER (or BER) PKCS#7 SignedData, in bundle order. A bundle with no
 * certificate, trailing bytes, another content type or any malformed length is refused.
 */
export function pkcs7Certificates(der: Uint8Array, label = 'PKCS#7 bundle'): Buffer[] {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const r = reader(buf, label);
  const contentInfo = r.expect(0, buf.length, TAG_SEQUENCE, 'ContentInfo SEQUENCE');
  if (contentInfo.next !== buf.length) r.fail(`${buf.length - contentInfo.next} trailing bytes after the bundle`, contentInfo.next);

  const type = r.expect(contentInfo.start, contentInfo.end, TAG_OID, 'contentType OBJECT IDENTIFIER', 1);
  if (!r.isOid(type, SIGNED_DATA_OID)) {
    throw new ValidationError(`${label}: PKCS#7 content type is not signedData (${SIGNED_DATA_OID}): no certificates to read`);
  }
  if (type.next >= contentInfo.end) r.fail('signedData without content', type.next);
  const wrapper = r.expect(type.next, contentInfo.end, 0xa0, 'content [0]', 1);
  const signedData = r.expect(wrapper.start, wrapper.end, TAG_SEQUENCE, 'SignedData SEQUENCE', 2);

  // version, digestAlgorithms, encapContentInfo, then [0] certificates OPTIONAL.
  let pos = signedData.start;
  const fields: Array<[number, string]> = [[TAG_INTEGER, 'version INTEGER'], [TAG_SET, 'digestAlgorithms SET'], [TAG_SEQUENCE, 'encapContentInfo SEQUENCE']];
  for (const [tag, what] of fields) {
    pos = r.expect(pos, signedData.end, tag, what, 3).next;
  }
  const certs: Buffer[] = [];
  if (pos < signedData.end) {
    const field = r.read(pos, signedData.end, 3);
    if (field.tag === 0xa0) {
      for (let p = field.start; p < field.end;) {
        const choice = r.read(p, field.end, 4);
        // CertificateChoices: a plain Certificate is a SEQUENCE; the [0]..[3] alternatives
        // (PKCS#6 extended, attribute certificates, other formats) are not X.509 certificates.
        if (choice.tag === TAG_SEQUENCE) {
          if (choice.end !== choice.next) r.fail('certificate with an indefinite (BER) length', p);
          if (certs.length >= MAX_PKCS7_CERTS) r.fail(`more than ${MAX_PKCS7_CERTS} certificates`, p);
          certs.push(Buffer.from(buf.subarray(p, choice.next)));
        }
        p = choice.next;
      }
    }
  }
  if (certs.length === 0) throw new ValidationError(`${label}: the PKCS#7 bundle holds no certificate`);
  return certs;
}

/** True when `text` holds a PEM PKCS#7 block. */
export function hasPkcs7Pem(text: string): boolean {
  return PEM_BEGIN.test(text);
}

/**
 * DER of every certificate in every PEM PKCS#7 block of `text` ("-----BEGIN PKCS7-----", also the
 * "CMS" and "PKCS #7 SIGNED DATA" labels), in order. No block at all is an error.
 */
export function pemPkcs7Certificates(text: string, label = 'PKCS#7 PEM'): Buffer[] {
  const out: Buffer[] = [];
  let blocks = 0;
  const begin = new RegExp(PEM_BEGIN.source, 'g');
  for (let m = begin.exec(text); m; m = begin.exec(text)) {
    blocks++;
    const name = m[1] as string;
    const end = `-----END ${name}-----`;
    const bodyStart = m.index + m[0].length;
    const endAt = text.indexOf(end, bodyStart);
    if (endAt < 0) {
      throw new ValidationError(`${label}: PKCS#7 block ${blocks} is truncated: "-----BEGIN ${name}-----" without a matching "${end}"`);
    }
    const body = text.slice(bodyStart, endAt).replace(/\s+/g, '');
    if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) {
      throw new ValidationError(`${label}: PKCS#7 block ${blocks} is not valid base64 between its BEGIN and END lines`);
    }
    out.push(...pkcs7Certificates(Buffer.from(body, 'base64'), blocks > 1 ? `${label} block ${blocks}` : label));
    if (out.length > MAX_PKCS7_CERTS) throw new ValidationError(`${label}: more than ${MAX_PKCS7_CERTS} certificates`);
    begin.lastIndex = endAt + end.length;
  }
  if (blocks === 0) {
    throw new ValidationError(`${label}: no PKCS#7 block found (expected "-----BEGIN ${PEM_LABELS[0]}-----")`);
  }
  return out;
}
