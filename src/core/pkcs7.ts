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
import { ValidationError } from './errors.js';

/** id-signedData, 1.2.840.113549.1.7.2. */
const SIGNED_DATA_OID = Buffer.from('06092a864886f70d010702', 'hex');
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

interface El {
  tag: number;
  /** First content byte. */
  start: number;
  /** End of the content (for an indefinite length: where the end-of-contents octets begin). */
  end: number;
  /** First byte after the element, end-of-contents octets included. */
  next: number;
}

class Reader {
  private elements = 0;

  constructor(private readonly buf: Buffer, private readonly label: string) {}

  fail(why: string, pos: number): never {
    throw new ValidationError(`${this.label}: not a valid PKCS#7 bundle: ${why} at offset ${pos}`, {
      hint: 'expected a DER or PEM PKCS#7 SignedData ("certs-only", .p7c/.p7b) such as `openssl crl2pkcs7 -nocrl -certfile chain.pem` writes',
    });
  }

  /** One element at `pos`, inside [pos, limit). */
  read(pos: number, limit: number, depth = 0): El {
    const { buf } = this;
    if (++this.elements > MAX_ELEMENTS) this.fail(`more than ${MAX_ELEMENTS} elements`, pos);
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`, pos);
    if (pos + 2 > limit) this.fail('truncated header', pos);
    const tag = buf[pos] as number;
    if ((tag & 0x1f) === 0x1f) this.fail('multi-byte tag', pos);
    const first = buf[pos + 1] as number;
    let start = pos + 2;
    if (first === 0x80) {
      if ((tag & 0x20) === 0) this.fail('indefinite length on a primitive element', pos);
      let child = start;
      for (;;) {
        if (child + 2 > limit) this.fail('indefinite length without end-of-contents', pos);
        if (buf[child] === 0 && buf[child + 1] === 0) return { tag, start, end: child, next: child + 2 };
        child = this.read(child, limit, depth + 1).next;
      }
    }
    let len = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n > 4) this.fail(`length of ${n} bytes`, pos);
      if (start + n > limit) this.fail('truncated length', pos);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
      start += n;
    }
    if (start + len > limit) this.fail(`length ${len} runs past the end`, pos);
    return { tag, start, end: start + len, next: start + len };
  }

  expect(el: El, tag: number, what: string, pos: number): El {
    if (el.tag !== tag) this.fail(`expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${el.tag.toString(16)}`, pos);
    return el;
  }
}

/**
 * True when `der` starts like a ContentInfo of type signedData (cheap sniff, no full parse): what
 * tells a PKCS#7 bundle apart from a single DER certificate, which also starts with a SEQUENCE.
 */
export function isPkcs7Der(der: Uint8Array): boolean {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (buf.length < 2 + SIGNED_DATA_OID.length || buf[0] !== 0x30) return false;
  const first = buf[1] as number;
  const headerLen = first === 0x80 || first < 0x80 ? 2 : 2 + (first & 0x7f);
  return buf.subarray(headerLen, headerLen + SIGNED_DATA_OID.length).equals(SIGNED_DATA_OID);
}

/**
 * DER of every certificate in a DER (or BER) PKCS#7 SignedData, in bundle order. A bundle with no
 * certificate, trailing bytes, another content type or any malformed length is refused.
 */
export function pkcs7Certificates(der: Uint8Array, label = 'PKCS#7 bundle'): Buffer[] {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const r = new Reader(buf, label);
  const contentInfo = r.expect(r.read(0, buf.length), 0x30, 'ContentInfo SEQUENCE', 0);
  if (contentInfo.next !== buf.length) r.fail(`${buf.length - contentInfo.next} trailing bytes after the bundle`, contentInfo.next);

  const typePos = contentInfo.start;
  const type = r.expect(r.read(typePos, contentInfo.end, 1), 0x06, 'contentType OBJECT IDENTIFIER', typePos);
  if (!buf.subarray(typePos, type.next).equals(SIGNED_DATA_OID)) {
    throw new ValidationError(`${label}: PKCS#7 content type is not signedData (1.2.840.113549.1.7.2): no certificates to read`);
  }
  if (type.next >= contentInfo.end) r.fail('signedData without content', type.next);
  const wrapper = r.expect(r.read(type.next, contentInfo.end, 1), 0xa0, 'content [0]', type.next);
  const signedData = r.expect(r.read(wrapper.start, wrapper.end, 2), 0x30, 'SignedData SEQUENCE', wrapper.start);

  // version, digestAlgorithms, encapContentInfo, then [0] certificates OPTIONAL.
  let pos = signedData.start;
  const fields: Array<[number, string]> = [[0x02, 'version INTEGER'], [0x31, 'digestAlgorithms SET'], [0x30, 'encapContentInfo SEQUENCE']];
  for (const [tag, what] of fields) {
    pos = r.expect(r.read(pos, signedData.end, 3), tag, what, pos).next;
  }
  const certs: Buffer[] = [];
  if (pos < signedData.end) {
    const field = r.read(pos, signedData.end, 3);
    if (field.tag === 0xa0) {
      for (let p = field.start; p < field.end;) {
        const choice = r.read(p, field.end, 4);
        // CertificateChoices: a plain Certificate is a SEQUENCE; the [0]..[3] alternatives
        // (PKCS#6 extended, attribute certificates, other formats) are not X.509 certificates.
        if (choice.tag === 0x30) {
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
