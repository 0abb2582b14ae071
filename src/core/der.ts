/**
 * The one DER reader of the project: bounded TLV reads and OBJECT IDENTIFIERs. Certificates
 * (x509.ts, ari.ts, deploy/aia.ts) and PKCS#7 bundles (pkcs7.ts) are all read through it.
 *
 * Why not asn1js (which acme-client installs): it builds a whole object tree, about 60 times
 * slower than walking to the one field we need (the scanner reads every certificate it meets),
 * and its errors name no offset. Here every length is checked against its enclosing element,
 * nesting and element counts are capped, and a bad input is a ValidationError "<context>: <why>
 * at offset <n>". Only what we read is supported: low tag numbers, lengths of up to 4 bytes, and
 * BER indefinite lengths on constructed elements only where the caller allows them.
 */
import { ValidationError } from './errors.js';

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

export interface Tlv {
  tag: number;
  /** First content byte. */
  start: number;
  /** End of the content (for an indefinite length: where the end-of-contents octets begin). */
  end: number;
  /** First byte after the element, end-of-contents octets included. */
  next: number;
}

export interface DerOptions {
  /** What is read, first in every error message: "certificate DER", "x.p7c: not a valid PKCS#7 bundle". */
  context: string;
  hint?: string;
  /** Accept BER indefinite lengths (0x80 … 00 00) on constructed elements; DER forbids them. */
  indefinite?: boolean;
  /** Deepest nesting a read may reach (the depth the caller passes, plus indefinite-length walks). */
  maxDepth?: number;
  /** Elements read over the reader's life, counting re-walks of indefinite-length content. */
  maxElements?: number;
}

/** Encoded OID contents by dotted text, so that matching an OID compares bytes, not strings. */
const ENCODED = new Map<string, Buffer>();

function encodeOid(text: string): Buffer {
  let enc = ENCODED.get(text);
  if (enc) return enc;
  const arcs = text.split('.').map(Number);
  const [a = 0, b = 0] = arcs;
  const bytes: number[] = [];
  for (const arc of [a * 40 + b, ...arcs.slice(2)]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  enc = Buffer.from(bytes);
  ENCODED.set(text, enc);
  return enc;
}

export class DerReader {
  private elements = 0;
  private readonly maxDepth: number;
  private readonly maxElements: number;

  constructor(readonly buf: Buffer, private readonly opts: DerOptions) {
    this.maxDepth = opts.maxDepth ?? Infinity;
    this.maxElements = opts.maxElements ?? Infinity;
  }

  fail(why: string, pos: number): never {
    throw new ValidationError(`${this.opts.context}: ${why} at offset ${pos}`, this.opts.hint ? { hint: this.opts.hint } : {});
  }

  /**
   * The tag and content start of the element at `pos`, and its length (-1 when indefinite),
   * without checking that the content fits: what a sniff of a possibly truncated input needs.
   */
  header(pos: number, limit: number): { tag: number; start: number; length: number } {
    const { buf } = this;
    if (pos + 2 > limit) this.fail('truncated header', pos);
    const tag = buf[pos] as number;
    if ((tag & 0x1f) === 0x1f) this.fail('multi-byte tag', pos);
    const first = buf[pos + 1] as number;
    if (first === 0x80) {
      if (!this.opts.indefinite) this.fail('indefinite (BER) length where DER is required', pos);
      if ((tag & 0x20) === 0) this.fail('indefinite length on a primitive element', pos);
      return { tag, start: pos + 2, length: -1 };
    }
    if ((first & 0x80) === 0) return { tag, start: pos + 2, length: first };
    const n = first & 0x7f;
    if (n > 4) this.fail(`length of ${n} bytes`, pos);
    if (pos + 2 + n > limit) this.fail('truncated length', pos);
    let length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[pos + 2 + i] as number);
    return { tag, start: pos + 2 + n, length };
  }

  /** One whole element at `pos`, inside [pos, limit). */
  read(pos: number, limit: number, depth = 0): Tlv {
    if (++this.elements > this.maxElements) this.fail(`more than ${this.maxElements} elements`, pos);
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth} levels`, pos);
    const { tag, start, length } = this.header(pos, limit);
    if (length < 0) {
      // The end is where the end-of-contents octets stand among the children.
      for (let child = start; ;) {
        if (child + 2 > limit) this.fail('indefinite length without end-of-contents', pos);
        if (this.buf[child] === 0 && this.buf[child + 1] === 0) return { tag, start, end: child, next: child + 2 };
        child = this.read(child, limit, depth + 1).next;
      }
    }
    if (start + length > limit) this.fail(`length ${length} runs past the end`, pos);
    return { tag, start, end: start + length, next: start + length };
  }

  /** One element at `pos` that must have tag `tag`; `what` names it in the error. */
  expect(pos: number, limit: number, tag: number, what: string, depth = 0): Tlv {
    const el = this.read(pos, limit, depth);
    if (el.tag !== tag) this.fail(`expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${el.tag.toString(16)}`, pos);
    return el;
  }

  /** The dotted text of an OBJECT IDENTIFIER element. */
  oid(t: Tlv): string {
    const { buf } = this;
    if (t.tag !== TAG_OID || t.end === t.start) this.fail('expected an OBJECT IDENTIFIER', t.start);
    if ((buf[t.end - 1] as number) & 0x80) this.fail('OID ends mid-arc', t.start);
    const arcs: number[] = [];
    let value = 0;
    for (let i = t.start; i < t.end; i++) {
      const b = buf[i] as number;
      if (value > Number.MAX_SAFE_INTEGER / 128) this.fail('OID arc too large', i);
      value = value * 128 + (b & 0x7f);
      if (b & 0x80) continue;
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
    return arcs.join('.');
  }

  /** Whether `t` is the OBJECT IDENTIFIER `oid` (dotted text); compares the encoded bytes. */
  isOid(t: Tlv, oid: string): boolean {
    const enc = encodeOid(oid);
    return t.tag === TAG_OID && t.end - t.start === enc.length && this.buf.compare(enc, 0, enc.length, t.start, t.end) === 0;
  }
}
