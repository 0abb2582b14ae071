/**
 * Just enough of the DNS wire format (RFC 1035) for dns-01: an RFC 2136 UPDATE that adds or
 * deletes one TXT record, a plain query, TSIG (RFC 8945) signing and response verification,
 * and a decoder that never trusts a length it has not checked against the buffer.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TsigAlgorithm } from '../../config/types.js';
import { CertsError } from '../../core/errors.js';

export const RRTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, OPT: 41, TSIG: 250, ANY: 255 } as const;
export const RRCLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
/** Without EDNS a UDP answer is at most this long; a bigger request goes over TCP. */
export const UDP_MAX = 512;
export const DEFAULT_FUDGE = 300;

/** A DNS message that could not be built or parsed; callers add the server and the record. */
export class DnsWireError extends CertsError {
  constructor(message: string) {
    super('acme', 'dns-wire', message);
  }
}

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  /** Base64, as in named.conf and nsupdate -y. Never put it in a message. */
  secret: string;
}

export interface TxtChange {
  action: 'add' | 'delete';
  name: string;
  value: string;
  /** Only for add. */
  ttl?: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

export interface TsigRecord {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch. */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
  /** Where the TSIG RR starts in the message: the signed part ends here. */
  offset: number;
}

export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  tsig?: TsigRecord;
}

// ---- encoding ----

/** Uncompressed wire name. `canonical` lowercases it, as TSIG requires for the key and algorithm names. */
export function encodeName(name: string, canonical = false): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of trimmed.split('.')) {
    const bytes = Buffer.from(canonical ? label.toLowerCase() : label, 'utf8');
    if (bytes.length === 0) throw new DnsWireError(`invalid DNS name "${name}": empty label`);
    if (bytes.length > 63) throw new DnsWireError(`invalid DNS name "${name}": label "${label}" is longer than 63 bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new DnsWireError(`invalid DNS name "${name}": longer than 255 bytes`);
  return out;
}

/** TXT RDATA: the value as character-strings of at most 255 bytes each. */
export function encodeTxtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

export function decodeTxtRdata(data: Buffer): string {
  const r = new Reader(data);
  const parts: Buffer[] = [];
  while (r.offset < data.length) parts.push(r.bytes(r.u8(), 'TXT character-string'));
  return Buffer.concat(parts).toString('utf8');
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new DnsWireError(`invalid message id ${id}`);
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + i * 2));
  return b;
}

function rr(name: Buffer, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  if (rdata.length > 0xffff) throw new DnsWireError('record data longer than 65535 bytes');
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

export function encodeQuery(opts: { id: number; name: string; type: number; recursionDesired?: boolean }): Buffer {
  const q = Buffer.alloc(4);
  q.writeUInt16BE(opts.type, 0);
  q.writeUInt16BE(RRCLASS.IN, 2);
  const flags = opts.recursionDesired ? 0x0100 : 0;
  return Buffer.concat([header(opts.id, flags, [1, 0, 0, 0]), encodeName(opts.name), q]);
}

/**
 * RFC 2136 UPDATE for `zone` without prerequisites. A delete names the exact value (class
 * NONE, §2.5.4) so the other TXT values of the same name — another order's, or the wildcard
 * and the bare name of one order — stay.
 */
export function encodeUpdate(opts: { id: number; zone: string; changes: TxtChange[] }): Buffer {
  const zoneSection = Buffer.concat([encodeName(opts.zone), Buffer.from([0, RRTYPE.SOA, 0, RRCLASS.IN])]);
  const updates = opts.changes.map((c) => {
    const rdata = encodeTxtRdata(c.value);
    if (c.action === 'add') {
      const ttl = c.ttl ?? 60;
      if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) throw new DnsWireError(`invalid TTL ${ttl}`);
      return rr(encodeName(c.name), RRTYPE.TXT, RRCLASS.IN, ttl, rdata);
    }
    return rr(encodeName(c.name), RRTYPE.TXT, RRCLASS.NONE, 0, rdata);
  });
  return Buffer.concat([header(opts.id, OPCODE.UPDATE << 11, [1, 0, updates.length, 0]), zoneSection, ...updates]);
}

// ---- TSIG ----

const HASH: Record<TsigAlgorithm, { hash: string; size: number }> = {
  'hmac-sha1': { hash: 'sha1', size: 20 },
  'hmac-sha224': { hash: 'sha224', size: 28 },
  'hmac-sha256': { hash: 'sha256', size: 32 },
  'hmac-sha384': { hash: 'sha384', size: 48 },
  'hmac-sha512': { hash: 'sha512', size: 64 },
};

/** The MAC length of `algorithm`, in bytes. */
export function macSize(algorithm: TsigAlgorithm): number {
  return HASH[algorithm].size;
}

function secretBytes(key: TsigKey): Buffer {
  const s = key.secret.replace(/\s+/g, '');
  // Buffer.from(…, 'base64') skips garbage silently; a typo must not become a different key.
  if (s === '' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) {
    throw new DnsWireError(`TSIG key "${key.name}": the secret is not valid base64`);
  }
  return Buffer.from(s, 'base64');
}

function u48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32) & 0xffff, 0);
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}

function tsigVariables(key: TsigKey, time: number, fudge: number, error: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(RRCLASS.ANY, 0);
  fixed.writeUInt32BE(0, 2);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(fudge, 0);
  tail.writeUInt16BE(error, 2);
  tail.writeUInt16BE(other.length, 4);
  return Buffer.concat([encodeName(key.name, true), fixed, encodeName(key.algorithm, true), u48(time), tail, other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm].hash, secretBytes(key));
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Appends a TSIG RR to `message` (RFC 8945 §4.3.3: the MAC covers the unsigned message and the
 * TSIG variables). Returns the signed message and the MAC, which verifying the answer needs.
 */
export function signMessage(message: Buffer, key: TsigKey, opts: { nowMs: number; fudge?: number }): { message: Buffer; mac: Buffer } {
  if (message.length < 12) throw new DnsWireError('cannot sign a message shorter than its header');
  const time = Math.floor(opts.nowMs / 1000);
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  const mac = hmac(key, [message, tsigVariables(key, time, fudge, 0, Buffer.alloc(0))]);
  const id = message.readUInt16BE(0);
  const mid = Buffer.alloc(4);
  mid.writeUInt16BE(fudge, 0);
  mid.writeUInt16BE(mac.length, 2);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(id, 0);
  const rdata = Buffer.concat([encodeName(key.algorithm, true), u48(time), mid, mac, tail]);
  const signed = Buffer.concat([message, rr(encodeName(key.name, true), RRTYPE.TSIG, RRCLASS.ANY, 0, rdata)]);
  signed.writeUInt16BE(signed.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/**
 * Checks the server's TSIG on a response to a request we signed with `requestMac`. Returns
 * undefined when it verifies, else why not. An unsigned error answer (BADSIG and BADKEY answers
 * carry no MAC) is the caller's to judge from the rcode.
 */
export function verifyResponse(raw: Buffer, msg: DnsMessage, key: TsigKey, requestMac: Buffer, opts: { nowMs: number }): string | undefined {
  const t = msg.tsig;
  if (!t) return 'the answer is not signed';
  if (t.keyName.toLowerCase().replace(/\.$/, '') !== key.name.toLowerCase().replace(/\.$/, '')) return `the answer is signed with key "${t.keyName}"`;
  if (t.algorithm.toLowerCase().replace(/\.$/, '') !== key.algorithm) return `the answer is signed with algorithm ${t.algorithm}`;
  const full = macSize(key.algorithm);
  // RFC 8945 §5.2.2.1: a truncated MAC is allowed down to half the length, and never under 10 bytes.
  if (t.mac.length > full || t.mac.length < Math.max(10, full / 2)) return `the answer's MAC has an unexpected length (${t.mac.length} bytes)`;
  const unsigned = Buffer.from(raw.subarray(0, t.offset));
  unsigned.writeUInt16BE(t.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const reqMacLen = Buffer.alloc(2);
  reqMacLen.writeUInt16BE(requestMac.length, 0);
  const expected = hmac(key, [reqMacLen, requestMac, unsigned, tsigVariables(key, t.timeSigned, t.fudge, t.error, t.otherData)]);
  if (!timingSafeEqual(expected.subarray(0, t.mac.length), t.mac)) return "the answer's TSIG signature does not verify";
  const skew = Math.abs(Math.floor(opts.nowMs / 1000) - t.timeSigned);
  if (skew > t.fudge) return `the answer was signed ${skew} s away from our clock (fudge ${t.fudge} s)`;
  return undefined;
}

// ---- decoding ----

class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new DnsWireError(`truncated DNS message: ${what} needs ${n} bytes at offset ${this.offset}, ${Math.max(0, this.buf.length - this.offset)} left`);
    }
  }
  u8(): number {
    this.need(1, 'a byte');
    return this.buf.readUInt8(this.offset++);
  }
  u16(what = 'a 16-bit field'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(what = 'a 32-bit field'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  name(): string {
    const { name, next } = readName(this.buf, this.offset);
    this.offset = next;
    return name;
  }
}

/**
 * A possibly compressed name at `start`. Pointers must point strictly backwards, so a crafted
 * message cannot loop; the decoded name is capped at 255 bytes like a real one.
 */
function readName(buf: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = start;
  let next = -1;
  let length = 1;
  for (;;) {
    if (pos >= buf.length) throw new DnsWireError(`truncated DNS message: name at offset ${start} runs past the end`);
    const len = buf[pos] as number;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsWireError(`truncated DNS message: compression pointer at offset ${pos} runs past the end`);
      const target = ((len & 0x3f) << 8) | (buf[pos + 1] as number);
      if (target >= pos) throw new DnsWireError(`malformed DNS message: compression pointer at offset ${pos} does not point backwards`);
      if (next < 0) next = pos + 2;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new DnsWireError(`malformed DNS message: unsupported label type 0x${kind.toString(16)} at offset ${pos}`);
    if (pos + 1 + len > buf.length) throw new DnsWireError(`truncated DNS message: label at offset ${pos} runs past the end`);
    length += len + 1;
    if (length > 255) throw new DnsWireError(`malformed DNS message: name at offset ${start} is longer than 255 bytes`);
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.length ? `${labels.join('.')}.` : '.', next };
}

function readRecord(r: Reader): DnsRecord & { start: number; dataStart: number } {
  const start = r.offset;
  const name = r.name();
  const type = r.u16('a record type');
  const klass = r.u16('a record class');
  const ttl = r.u32('a record TTL');
  const len = r.u16('a record length');
  const dataStart = r.offset;
  const data = r.bytes(len, `the data of a type ${type} record`);
  return { start, dataStart, name, type, class: klass, ttl, data };
}

function readTsig(rec: ReturnType<typeof readRecord>, msg: Buffer): TsigRecord {
  // Bounded by the RR's own length, so a lying MAC size cannot read into other bytes.
  const sub = new Reader(msg.subarray(0, rec.dataStart + rec.data.length));
  sub.offset = rec.dataStart;
  const algorithm = sub.name();
  const hi = sub.u16('TSIG time signed');
  const lo = sub.u32('TSIG time signed');
  const fudge = sub.u16('TSIG fudge');
  const mac = sub.bytes(sub.u16('TSIG MAC size'), 'the TSIG MAC');
  const originalId = sub.u16('TSIG original id');
  const error = sub.u16('TSIG error');
  const otherData = sub.bytes(sub.u16('TSIG other length'), 'TSIG other data');
  if (sub.offset !== sub.buf.length) throw new DnsWireError('malformed DNS message: TSIG record length does not match its fields');
  return { keyName: rec.name, algorithm, timeSigned: hi * 2 ** 32 + lo, fudge, mac: Buffer.from(mac), originalId, error, otherData: Buffer.from(otherData), offset: rec.start };
}

export function decodeMessage(buf: Buffer): DnsMessage {
  const r = new Reader(buf);
  r.need(12, 'the header');
  const id = r.u16();
  const flags = r.u16();
  const [qd, an, ns, ar] = [r.u16(), r.u16(), r.u16(), r.u16()] as [number, number, number, number];
  const msg: DnsMessage = {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
    authority: [],
    additional: [],
  };
  // A truncated answer may stop anywhere; its header is all the caller needs to retry over TCP.
  if (msg.tc) return msg;
  for (let i = 0; i < qd; i++) {
    const name = r.name();
    msg.questions.push({ name, type: r.u16('a question type'), class: r.u16('a question class') });
  }
  for (const [count, list] of [[an, msg.answers], [ns, msg.authority], [ar, msg.additional]] as const) {
    for (let i = 0; i < count; i++) {
      const rec = readRecord(r);
      if (rec.type === RRTYPE.TSIG) {
        if (list !== msg.additional || i !== count - 1) throw new DnsWireError('malformed DNS message: a TSIG record that is not the last record');
        if (r.offset !== buf.length) throw new DnsWireError('malformed DNS message: bytes after the TSIG record');
        msg.tsig = readTsig(rec, buf);
        continue;
      }
      list.push({ name: rec.name, type: rec.type, class: rec.class, ttl: rec.ttl, data: rec.data });
    }
  }
  if (r.offset !== buf.length) throw new DnsWireError(`malformed DNS message: ${buf.length - r.offset} bytes after the last record`);
  return msg;
}

// ---- words for codes ----

const RCODES: Record<number, [string, string]> = {
  0: ['NOERROR', 'no error'],
  1: ['FORMERR', 'the server could not parse the request'],
  2: ['SERVFAIL', 'the server failed to process the request'],
  3: ['NXDOMAIN', 'the name does not exist'],
  4: ['NOTIMP', 'the server does not implement this request (dynamic update disabled?)'],
  5: ['REFUSED', 'the server refused the request: no allow-update for this key or address, or it is not the primary of the zone'],
  6: ['YXDOMAIN', 'a name exists that should not'],
  7: ['YXRRSET', 'a record set exists that should not'],
  8: ['NXRRSET', 'a record set that should exist does not'],
  9: ['NOTAUTH', 'the server is not authoritative for the zone, or did not accept the TSIG key'],
  10: ['NOTZONE', 'the record name is not inside the zone'],
};

const TSIG_ERRORS: Record<number, [string, string]> = {
  16: ['BADSIG', 'the signature did not verify: wrong secret or algorithm'],
  17: ['BADKEY', 'the server does not know this key name and algorithm'],
  18: ['BADTIME', 'our clock and the server clock differ by more than the allowed fudge'],
  19: ['BADMODE', 'bad TKEY mode'],
  20: ['BADNAME', 'duplicate key name'],
  21: ['BADALG', 'algorithm not supported'],
  22: ['BADTRUNC', 'the MAC was truncated too much'],
  23: ['BADCOOKIE', 'bad or missing server cookie'],
};

export function rcodeName(code: number): string {
  return RCODES[code]?.[0] ?? TSIG_ERRORS[code]?.[0] ?? `RCODE${code}`;
}

/**
 * Why a response failed, in words; undefined when it did not (NOERROR, no TSIG error).
 * e.g. `NOTAUTH, TSIG BADSIG (TSIG key "k" not accepted: the signature did not verify: wrong secret or algorithm)`.
 */
export function describeFailure(msg: DnsMessage, keyName?: string): string | undefined {
  const tsigError = msg.tsig?.error ?? 0;
  if (msg.rcode === 0 && tsigError === 0) return undefined;
  const rc = RCODES[msg.rcode] ?? [`RCODE${msg.rcode}`, 'unknown error'];
  if (tsigError === 0) return `${rc[0]} (${rc[1]})`;
  const te = TSIG_ERRORS[tsigError] ?? [`TSIG error ${tsigError}`, 'unknown TSIG error'];
  let why = `TSIG key "${keyName ?? msg.tsig?.keyName ?? '?'}" not accepted: ${te[1]}`;
  if (tsigError === 18 && msg.tsig) {
    const other = msg.tsig.otherData;
    // BADTIME answers carry the server's clock (RFC 8945 §5.2.3).
    if (other.length === 6) why += `; server time ${new Date((other.readUInt16BE(0) * 2 ** 32 + other.readUInt32BE(2)) * 1000).toISOString()}`;
  }
  return `${rc[0]}, TSIG ${te[0]} (${why})`;
}
