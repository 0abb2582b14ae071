/**
 * Just enough TLS 1.3 record protection to read the server's encrypted handshake flight.
 *
 * Why it exists: TLS 1.3 encrypts the Certificate message, so the chain exactly as served is
 * invisible on the wire (ARCHITECTURE §7). Node hands us the server handshake traffic secret
 * through the TLSSocket 'keylog' event; with it and the cipher suite from the plaintext
 * ServerHello, the records between ServerHello and the server Finished can be opened here
 * (RFC 8446 §5.2, §7.1, §7.3) without a second handshake. Decrypt only: we never produce
 * records, and nothing here ever sees a key that protects application data.
 *
 * Pure: no I/O. Functions return a string instead of throwing when the input is bad, because
 * every failure here means "fall back to Node's view", never "the probe crashed".
 */
import { createDecipheriv, createHmac } from 'node:crypto';

export type Tls13Hash = 'sha256' | 'sha384';

export interface Tls13CipherSuite {
  id: number;
  name: string;
  hash: Tls13Hash;
  /** Length of the hash output, which is also the length of every traffic secret. */
  hashLength: number;
  /** node:crypto cipher name. */
  aead: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  keyLength: number;
}

/**
 * The three suites OpenSSL offers by default (RFC 8446 §B.4). The CCM suites are left out on
 * purpose: Node's clients never offer them unless told to, so a server cannot pick them.
 */
const SUITES: readonly Tls13CipherSuite[] = [
  { id: 0x1301, name: 'TLS_AES_128_GCM_SHA256', hash: 'sha256', hashLength: 32, aead: 'aes-128-gcm', keyLength: 16 },
  { id: 0x1302, name: 'TLS_AES_256_GCM_SHA384', hash: 'sha384', hashLength: 48, aead: 'aes-256-gcm', keyLength: 32 },
  { id: 0x1303, name: 'TLS_CHACHA20_POLY1305_SHA256', hash: 'sha256', hashLength: 32, aead: 'chacha20-poly1305', keyLength: 32 },
];

export const TLS13_CIPHER_SUITES: ReadonlyMap<number, Tls13CipherSuite> = new Map(SUITES.map((s) => [s.id, s]));

/** Every AEAD of RFC 8446 has a 12-byte nonce and a 16-byte tag. */
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** RFC 8446 §5.2: TLSCiphertext.length must not exceed 2^14 + 256, TLSInnerPlaintext 2^14 + 1. */
export const MAX_TLS13_CIPHERTEXT = 16384 + 256;
const MAX_TLS13_INNER_PLAINTEXT = 16384 + 1;

const HASH_LENGTHS: Record<Tls13Hash, number> = { sha256: 32, sha384: 48 };

/**
 * HKDF-Expand (RFC 5869 §2.3). Not crypto.hkdfSync: that always runs Extract first, and TLS 1.3
 * hands us a secret that is already a pseudorandom key.
 */
export function hkdfExpand(hash: Tls13Hash, prk: Buffer, info: Buffer, length: number): Buffer {
  const hashLength = HASH_LENGTHS[hash];
  if (!Number.isInteger(length) || length < 1 || length > 255 * hashLength) {
    throw new RangeError(`HKDF-Expand length must be 1..${255 * hashLength}, got ${length}`);
  }
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1, produced = 0; produced < length; i++) {
    previous = createHmac(hash, prk).update(previous).update(info).update(Buffer.from([i])).digest();
    blocks.push(previous);
    produced += previous.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** HKDF-Expand-Label (RFC 8446 §7.1): the label is prefixed with "tls13 ". */
export function hkdfExpandLabel(hash: Tls13Hash, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'ascii');
  if (fullLabel.length > 255 || context.length > 255) throw new RangeError('HKDF-Expand-Label label or context longer than 255 bytes');
  const info = Buffer.alloc(2 + 1 + fullLabel.length + 1 + context.length);
  let off = info.writeUInt16BE(length, 0);
  off = info.writeUInt8(fullLabel.length, off);
  off += fullLabel.copy(info, off);
  off = info.writeUInt8(context.length, off);
  context.copy(info, off);
  return hkdfExpand(hash, secret, info, length);
}

export interface TrafficKeys {
  key: Buffer;
  iv: Buffer;
}

/** RFC 8446 §7.3: the write key and IV of one direction, from its traffic secret. */
export function deriveTrafficKeys(suite: Tls13CipherSuite, secret: Buffer): TrafficKeys {
  return {
    key: hkdfExpandLabel(suite.hash, secret, 'key', Buffer.alloc(0), suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, 'iv', Buffer.alloc(0), IV_LENGTH),
  };
}

export interface KeylogEntry {
  /** e.g. SERVER_HANDSHAKE_TRAFFIC_SECRET */
  label: string;
  clientRandom: Buffer;
  secret: Buffer;
}

/** One NSS key log line ("LABEL <client random hex> <secret hex>"), as Node's 'keylog' event gives it. */
export function parseKeylogLine(line: Buffer | string): KeylogEntry | null {
  const text = typeof line === 'string' ? line : line.toString('latin1');
  const m = /^([A-Z0-9_]+) ([0-9a-fA-F]{64}) ((?:[0-9a-fA-F]{2})+)\s*$/.exec(text);
  if (!m) return null;
  return { label: m[1] as string, clientRandom: Buffer.from(m[2] as string, 'hex'), secret: Buffer.from(m[3] as string, 'hex') };
}

export interface InnerPlaintext {
  /** The real content type (RFC 8446 §5.2), found after stripping the zero padding. */
  type: number;
  content: Buffer;
}

/**
 * Opens the records of one direction under one traffic secret, in order. The sequence number
 * starts at 0 for each new secret (RFC 8446 §5.3) and advances with every record opened, so
 * records must be given exactly as they arrived.
 */
export class Tls13RecordDecrypter {
  readonly suite: Tls13CipherSuite;
  /** Records opened so far: the sequence number of the next one. */
  sequence = 0;
  private readonly key: Buffer;
  private readonly iv: Buffer;

  constructor(suite: Tls13CipherSuite, secret: Buffer) {
    if (secret.length !== suite.hashLength) {
      throw new RangeError(`a ${suite.name} traffic secret has ${suite.hashLength} bytes, got ${secret.length}`);
    }
    this.suite = suite;
    ({ key: this.key, iv: this.iv } = deriveTrafficKeys(suite, secret));
  }

  /**
   * `header` is the 5-byte record header (the AEAD's additional data), `payload` the record body.
   * Returns the inner plaintext, or why the record could not be opened.
   */
  open(header: Buffer, payload: Buffer): InnerPlaintext | string {
    const index = this.sequence;
    if (payload.length < TAG_LENGTH + 1) return `encrypted record ${index + 1} of ${payload.length} bytes is too short to hold a tag`;
    if (payload.length > MAX_TLS13_CIPHERTEXT) return `encrypted record ${index + 1} of ${payload.length} bytes exceeds the TLS 1.3 limit of ${MAX_TLS13_CIPHERTEXT}`;
    this.sequence++;
    const nonce = Buffer.from(this.iv);
    // The 64-bit sequence number, left-padded to the IV length, XORed into the IV (RFC 8446 §5.3).
    let seq = index;
    for (let i = IV_LENGTH - 1; i >= IV_LENGTH - 8 && seq > 0; i--) {
      nonce[i] = (nonce[i] ?? 0) ^ (seq & 0xff);
      seq = Math.floor(seq / 256);
    }
    const body = payload.subarray(0, payload.length - TAG_LENGTH);
    const tag = payload.subarray(payload.length - TAG_LENGTH);
    let plain: Buffer;
    try {
      const aead = this.suite.aead;
      // Two calls so that each matches its typed overload; the options are the same.
      const decipher = aead === 'chacha20-poly1305'
        ? createDecipheriv(aead, this.key, nonce, { authTagLength: TAG_LENGTH })
        : createDecipheriv(aead, this.key, nonce, { authTagLength: TAG_LENGTH });
      decipher.setAAD(header, { plaintextLength: body.length });
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      // A wrong secret, a wrong suite or a damaged record all look the same to an AEAD.
      return `encrypted record ${index + 1} failed authentication under ${this.suite.name} (bad_record_mac)`;
    }
    if (plain.length > MAX_TLS13_INNER_PLAINTEXT) return `encrypted record ${index + 1} holds ${plain.length} bytes, more than TLS 1.3 allows`;
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--;
    if (end === 0) return `encrypted record ${index + 1} is all padding, with no content type`;
    return { type: plain[end - 1] ?? 0, content: plain.subarray(0, end - 1) };
  }
}

/**
 * TLS 1.3 Certificate body (RFC 8446 §4.4.2): a request context, then a 3-byte list length, then
 * entries of 3-byte-length-prefixed DER each followed by 2-byte-length-prefixed extensions
 * (OCSP staples and SCTs live there; they are skipped).
 */
export function parseTls13CertificateList(body: Buffer): Buffer[] | string {
  if (body.length < 1) return 'empty message, no request context';
  const contextLength = body[0] ?? 0;
  let off = 1 + contextLength;
  if (body.length < off + 3) return `${body.length} bytes, too short for the request context and list length`;
  const listLength = body.readUIntBE(off, 3);
  off += 3;
  if (listLength !== body.length - off) return `the list announces ${listLength} bytes but the message holds ${body.length - off}`;
  const certs: Buffer[] = [];
  while (off < body.length) {
    const n = certs.length + 1;
    if (body.length - off < 3) return `certificate ${n}: truncated length`;
    const len = body.readUIntBE(off, 3);
    off += 3;
    if (len === 0) return `certificate ${n} is empty`;
    if (len > body.length - off) return `certificate ${n} announces ${len} bytes, only ${body.length - off} left`;
    const der = Buffer.from(body.subarray(off, off + len));
    off += len;
    if (body.length - off < 2) return `certificate ${n}: truncated extensions length`;
    const extLength = body.readUInt16BE(off);
    off += 2;
    if (extLength > body.length - off) return `certificate ${n}: extensions announce ${extLength} bytes, only ${body.length - off} left`;
    off += extLength;
    certs.push(der);
  }
  return certs;
}
