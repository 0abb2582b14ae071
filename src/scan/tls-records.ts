/**
 * An incremental parser of the server→client half of a TLS handshake.
 *
 * Why it exists: Node's getPeerCertificate() rebuilds the chain by issuer matching, so a wrong
 * order, a served anchor or an unrelated certificate are invisible through it (ARCHITECTURE §7).
 * Under TLS ≤ 1.2 the Certificate handshake message travels in plaintext; reading it from the
 * raw byte stream is the only way to see the chain exactly as the server sent it. Under TLS 1.3
 * it is encrypted: given the server handshake traffic secret (setServerHandshakeSecret, fed from
 * Node's 'keylog' event), the records up to the server Finished are opened with tls13-decrypt.ts
 * and their handshake messages go through the same reassembly and limits.
 *
 * Memory stays bounded whatever the peer sends: plaintext record payloads are consumed as they
 * arrive (never a whole record held), only ServerHello and Certificate bodies are kept, and a
 * handshake message whose header announces more than its limit is refused at the header, before
 * any of its body is buffered. The configured limit is for the Certificate message; the others
 * have their own, larger floor (MIN_OTHER_MESSAGE_BYTES). TLS 1.3 adds one encrypted record at a time (an AEAD checks the
 * whole record before releasing any of it) and, until the secret arrives, the encrypted records
 * seen so far, capped at the message limit plus PENDING_SLACK_BYTES.
 * Pure: no I/O, never throws from push()/end() — failures land in `error`.
 */
import { CertsError } from '../core/errors.js';
import { parseTls13CertificateList, Tls13RecordDecrypter, TLS13_CIPHER_SUITES, type Tls13CipherSuite } from './tls13-decrypt.js';

export const DEFAULT_MAX_CERT_BYTES = 1024 * 1024;

/**
 * The smallest limit for handshake messages other than Certificate: above the most that TLS's
 * own length fields allow any of them (a ServerHello ≤ 65,607 bytes, a TLS 1.2
 * CertificateRequest ≤ 131,329), far above real ones. A small certificate limit must not refuse
 * them: with a post-quantum key share (X25519MLKEM768, offered by default from OpenSSL 3.5 and
 * Node 24) a TLS 1.3 ServerHello alone is 1,206 bytes.
 */
export const MIN_OTHER_MESSAGE_BYTES = 256 * 1024;

/** TLSCiphertext may exceed the 2^14 plaintext limit by the 2048 bytes of expansion RFC 5246 allows. */
export const MAX_RECORD_BYTES = 16384 + 2048;

/**
 * Room, beyond the message limit, for the encrypted TLS 1.3 records that arrive before Node
 * reports the handshake secret: EncryptedExtensions, CertificateVerify, Finished and the
 * per-record overhead. In practice the secret arrives after the first chunk holding the
 * ServerHello, so far less than this is ever held.
 */
export const PENDING_SLACK_BYTES = 64 * 1024;

const CONTENT_CHANGE_CIPHER_SPEC = 20;
const CONTENT_ALERT = 21;
const CONTENT_HANDSHAKE = 22;
const CONTENT_APPLICATION_DATA = 23;
const CONTENT_HEARTBEAT = 24;

const HS_SERVER_HELLO = 2;
const HS_ENCRYPTED_EXTENSIONS = 8;
const HS_CERTIFICATE = 11;
const HS_CERTIFICATE_REQUEST = 13;
const HS_CERTIFICATE_VERIFY = 15;
const HS_FINISHED = 20;
const HS_COMPRESSED_CERTIFICATE = 25;

const TLS13 = 0x0304;

const EXT_SUPPORTED_VERSIONS = 43;

/** SHA-256("HelloRetryRequest"): a ServerHello with this random is a TLS 1.3 HelloRetryRequest (RFC 8446 §4.1.3). */
const HELLO_RETRY_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

const HANDSHAKE_NAMES: Record<number, string> = {
  0: 'HelloRequest',
  2: 'ServerHello',
  4: 'NewSessionTicket',
  8: 'EncryptedExtensions',
  11: 'Certificate',
  12: 'ServerKeyExchange',
  13: 'CertificateRequest',
  14: 'ServerHelloDone',
  15: 'CertificateVerify',
  20: 'Finished',
  22: 'CertificateStatus',
  25: 'CompressedCertificate',
};

/** RFC 8446 §6 and RFC 5246 §7.2 alert descriptions, by their registry names. */
const ALERT_NAMES: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  111: 'certificate_unobtainable',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

const VERSION_NAMES: Record<number, string> = {
  0x0300: 'SSLv3',
  0x0301: 'TLSv1',
  0x0302: 'TLSv1.1',
  0x0303: 'TLSv1.2',
  0x0304: 'TLSv1.3',
};

export interface TlsAlert {
  level: 'warning' | 'fatal';
  /** The level byte as sent (1 warning, 2 fatal; anything else is treated as fatal). */
  levelCode: number;
  description: number;
  /** Registry name, e.g. "protocol_version", or "unknown_alert_N". */
  name: string;
}

export interface ServerHelloInfo {
  /** The negotiated version: supported_versions when present, else legacy_version. */
  version: number;
  /** "TLSv1.2", "TLSv1.3", ... or "0xXXXX" when unknown. */
  versionName: string;
  cipherSuite: number;
  /** A TLS 1.3 HelloRetryRequest: a real ServerHello follows the client's second ClientHello. */
  helloRetryRequest: boolean;
}

export type TlsStreamErrorReason =
  /** The peer speaks plain HTTP on this port. */
  | 'plain-http'
  /** The first bytes are not a TLS record at all (another protocol, a banner, garbage). */
  | 'not-tls'
  /** A handshake message announced more than the limit. */
  | 'too-large'
  /** TLS framing broken after a valid start. */
  | 'malformed'
  /** The stream ended inside a record or a handshake message. */
  | 'truncated';

export class TlsStreamError extends CertsError {
  readonly reason: TlsStreamErrorReason;
  constructor(reason: TlsStreamErrorReason, message: string) {
    super('scan', `tls-${reason}`, message);
    this.reason = reason;
  }
}

export interface ServerFlightOptions {
  /**
   * Largest Certificate (or CompressedCertificate) message accepted. Default 1 MiB. Other
   * messages may be as large as this or MIN_OTHER_MESSAGE_BYTES, whichever is more.
   */
  maxCertBytes?: number;
}

export function alertName(description: number): string {
  return ALERT_NAMES[description] ?? `unknown_alert_${description}`;
}

export function versionName(version: number): string {
  return VERSION_NAMES[version] ?? `0x${version.toString(16).padStart(4, '0')}`;
}

export function handshakeName(type: number): string {
  return HANDSHAKE_NAMES[type] ?? `type ${type}`;
}

/** "1 MiB", "64 KiB" or "300 bytes": limits are printed the way they are configured. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** "fatal alert protocol_version (70)" */
export function describeAlert(alert: TlsAlert): string {
  return `${alert.level} alert ${alert.name} (${alert.description})`;
}

/**
 * header: reading a 5-byte record header; payload: inside a record; encrypted: nothing more to
 * read (ciphertext after a TLS ≤ 1.2 ChangeCipherSpec, or the TLS 1.3 flight is over or cannot
 * be opened); stopped: error or fatal alert.
 */
type Phase = 'header' | 'payload' | 'encrypted' | 'stopped';

/** The encrypted part of a TLS 1.3 server flight, from the ServerHello to the server Finished. */
interface Tls13Flight {
  suite: Tls13CipherSuite;
  /** Null until the server handshake traffic secret arrives. */
  decrypter: Tls13RecordDecrypter | null;
  /** Whole encrypted records (header and body) that arrived before the secret, in order. */
  pending: Buffer[];
  pendingBytes: number;
  /** The encrypted record being received, header included (the header is the AEAD's additional data). */
  record: Buffer | null;
  recordFill: number;
}

/**
 * Feed it every chunk the server sends, in order. After each push, look at `certificates`,
 * `alert`, `error` and `encrypted`. It keeps reading after the Certificate message so that a
 * later plaintext alert is still decoded. Under TLS ≤ 1.2 it stops at the first sign of
 * encryption; under TLS 1.3 it opens the server's flight once setServerHandshakeSecret() is
 * called, and stops at the server Finished.
 */
export class ServerFlightParser {
  readonly maxCertBytes: number;
  /** The limit for every handshake message other than Certificate. */
  readonly maxOtherMessageBytes: number;

  /** The ServerHello, once complete (the real one when a HelloRetryRequest came first). */
  serverHello: ServerHelloInfo | null = null;
  /** DER certificates of the Certificate message in the order sent; null until it is complete. */
  certificates: Buffer[] | null = null;
  /** The first fatal alert, or the last warning alert when no fatal one came. */
  alert: TlsAlert | null = null;
  error: TlsStreamError | null = null;
  /** True once the rest of the stream is ciphertext: under TLS 1.3 only the secret reveals the Certificate message. */
  encrypted = false;
  /**
   * Why a TLS 1.3 Certificate message could not be read (an unknown cipher suite, a record that
   * fails authentication, a compressed certificate...). Not an `error`: the handshake may well
   * succeed, only the served order is lost.
   */
  tls13Failure: string | null = null;
  /** Bytes pushed so far (including those ignored after encryption). */
  bytesSeen = 0;

  private phase: Phase = 'header';
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  private recordType = 0;
  private recordRemaining = 0;
  private recordCount = 0;

  private readonly hsHeader = Buffer.alloc(4);
  private hsHeaderFill = 0;
  private hsType = -1;
  private hsLength = 0;
  private hsReceived = 0;
  /** Body chunks of the current message, only for the types we decode. */
  private hsChunks: Buffer[] | null = null;

  private readonly alertBuf = Buffer.alloc(2);
  private alertFill = 0;

  private tls13: Tls13Flight | null = null;
  /** A secret supplied before the ServerHello that says how to use it. */
  private earlySecret: Buffer | null = null;

  constructor(opts: ServerFlightOptions = {}) {
    const max = opts.maxCertBytes ?? DEFAULT_MAX_CERT_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxCertBytes must be a positive integer, got ${max}`);
    this.maxCertBytes = max;
    this.maxOtherMessageBytes = Math.max(max, MIN_OTHER_MESSAGE_BYTES);
  }

  /** A TLS 1.3 ServerHello came and its flight still needs setServerHandshakeSecret(). */
  get wantsServerHandshakeSecret(): boolean {
    return this.tls13 !== null && this.tls13.decrypter === null && !this.finished;
  }

  /** Nothing more to learn from the stream (error, fatal alert or ciphertext). */
  get finished(): boolean {
    return this.phase === 'stopped' || this.phase === 'encrypted';
  }

  /**
   * Bytes currently held for reassembly: never more than maxOtherMessageBytes plus a few header bytes,
   * plus under TLS 1.3 one encrypted record and the records waiting for the secret.
   */
  get bufferedBytes(): number {
    let n = this.headerFill + this.hsHeaderFill + this.alertFill;
    if (this.hsChunks) for (const c of this.hsChunks) n += c.length;
    if (this.tls13) n += this.tls13.pendingBytes + (this.tls13.record?.length ?? 0);
    return n;
  }

  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const firstBytes = this.bytesSeen === 0;
    this.bytesSeen += buf.length;
    if (this.finished || buf.length === 0) return;
    if (firstBytes && !this.looksLikeTls(buf)) return;
    let off = 0;
    while (off < buf.length && !this.finished) {
      if (this.phase === 'header') {
        const take = Math.min(5 - this.headerFill, buf.length - off);
        buf.copy(this.header, this.headerFill, off, off + take);
        this.headerFill += take;
        off += take;
        if (this.headerFill === 5) this.startRecord();
      } else {
        const take = Math.min(this.recordRemaining, buf.length - off);
        this.consumePayload(buf.subarray(off, off + take));
        off += take;
        this.recordRemaining -= take;
        if (this.recordRemaining === 0 && this.phase === 'payload') this.endRecord();
      }
    }
  }

  /**
   * The server handshake traffic secret of this connection (the SERVER_HANDSHAKE_TRAFFIC_SECRET
   * key log line). Opens the encrypted records received so far and every later one as it
   * arrives. A secret that does not fit shows up as a `tls13Failure`, never as an `error`.
   */
  setServerHandshakeSecret(secret: Buffer): void {
    if (this.finished) return;
    const flight = this.tls13;
    if (flight === null) {
      this.earlySecret = Buffer.from(secret);
      return;
    }
    // One handshake, one server handshake secret: a second line cannot be for this flight.
    if (flight.decrypter !== null) return;
    try {
      flight.decrypter = new Tls13RecordDecrypter(flight.suite, secret);
    } catch (err) {
      this.abandonTls13(err instanceof Error ? err.message : String(err));
      return;
    }
    const pending = flight.pending;
    flight.pending = [];
    flight.pendingBytes = 0;
    for (const record of pending) {
      if (this.finished) break;
      this.openTls13Record(record);
    }
  }

  /**
   * The peer closed its side. Returns (and records) a `truncated` error when that happened inside
   * a record or a handshake message; null for a close at a boundary or after encryption began.
   */
  end(): TlsStreamError | null {
    if (this.finished) return this.error;
    if (this.phase === 'payload' || this.headerFill > 0) {
      const where = this.phase === 'payload'
        ? `inside a TLS record (${this.recordRemaining} bytes of it missing)`
        : `inside a TLS record header (${this.headerFill} of 5 bytes)`;
      return this.fail('truncated', `the connection ended ${where}`);
    }
    if (this.hsHeaderFill > 0 || this.hsType >= 0) {
      return this.fail('truncated', `the connection ended inside the ${handshakeName(this.hsType)} handshake message (${this.hsReceived} of ${this.hsLength} bytes)`);
    }
    return null;
  }

  private fail(reason: TlsStreamErrorReason, message: string): TlsStreamError {
    this.error = new TlsStreamError(reason, message);
    this.phase = 'stopped';
    this.hsChunks = null;
    this.dropTls13Buffers();
    return this.error;
  }

  /** Decides on the first chunk whether this is TLS at all, naming what it looks like otherwise. */
  private looksLikeTls(buf: Buffer): boolean {
    const first = buf[0] ?? 0;
    if (first >= CONTENT_CHANGE_CIPHER_SPEC && first <= CONTENT_HEARTBEAT) {
      // The version bytes may not have arrived yet; startRecord checks them.
      return true;
    }
    const text = printablePrefix(buf);
    if (/^HTTP\/\d/.test(buf.subarray(0, 8).toString('latin1'))) {
      this.fail('plain-http', `the peer answered in plain HTTP ("${text}"), not TLS: this port serves HTTP without TLS`);
    } else if ((first & 0x80) !== 0 && buf.length >= 3 && buf[2] === 4) {
      this.fail('not-tls', 'the peer answered with an SSLv2 ServerHello; SSLv2 is not TLS and cannot be scanned');
    } else if (text.length >= 4) {
      this.fail('not-tls', `the peer sent non-TLS data ("${text}"): another protocol is listening on this port`);
    } else {
      this.fail('not-tls', `the peer sent non-TLS data (first bytes ${hexPrefix(buf)})`);
    }
    return false;
  }

  private startRecord(): void {
    const type = this.header[0] ?? 0;
    const major = this.header[1] ?? 0;
    const minor = this.header[2] ?? 0;
    const length = this.header.readUInt16BE(3);
    this.headerFill = 0;
    const index = this.recordCount++;
    if (type < CONTENT_CHANGE_CIPHER_SPEC || type > CONTENT_HEARTBEAT) {
      this.fail(index === 0 ? 'not-tls' : 'malformed', `TLS record ${index + 1} has an unknown content type ${type}`);
      return;
    }
    if (major !== 3 || minor > 4) {
      this.fail(index === 0 ? 'not-tls' : 'malformed', `TLS record ${index + 1} has an invalid version ${hexPrefix(this.header.subarray(1, 3))}`);
      return;
    }
    if (length > MAX_RECORD_BYTES) {
      this.fail('malformed', `TLS record ${index + 1} announces ${length} bytes, more than the TLS maximum of ${MAX_RECORD_BYTES}`);
      return;
    }
    this.recordType = type;
    this.recordRemaining = length;
    if (type === CONTENT_APPLICATION_DATA) {
      if (this.tls13 === null) {
        // Application data before the handshake completes, with no TLS 1.3 flight to open: nothing more to read.
        this.encrypted = true;
        this.phase = 'encrypted';
        return;
      }
      // An AEAD authenticates the whole record before releasing any of it, so this one is held.
      const record = Buffer.allocUnsafe(5 + length);
      this.header.copy(record, 0);
      this.tls13.record = record;
      this.tls13.recordFill = 5;
    }
    this.phase = 'payload';
    if (length === 0) this.endRecord();
  }

  private endRecord(): void {
    if (this.recordType === CONTENT_CHANGE_CIPHER_SPEC) {
      if (this.serverHello?.version === TLS13) {
        // TLS 1.3 middlebox-compatibility dummy (RFC 8446 §D.4), also sent right after a
        // HelloRetryRequest: it changes nothing, the real ServerHello may still follow.
        this.phase = 'header';
        return;
      }
      // The server's next records are encrypted under the new keys.
      this.encrypted = true;
      this.phase = 'encrypted';
      return;
    }
    this.phase = 'header';
    if (this.recordType === CONTENT_APPLICATION_DATA && this.tls13?.record) {
      const record = this.tls13.record;
      this.tls13.record = null;
      this.tls13.recordFill = 0;
      this.onTls13Record(record);
    }
  }

  private consumePayload(data: Buffer): void {
    if (this.tls13) {
      if (this.recordType === CONTENT_APPLICATION_DATA) {
        const flight = this.tls13;
        if (flight.record) flight.recordFill += data.copy(flight.record, flight.recordFill);
      } else if (this.recordType === CONTENT_ALERT) {
        // Some servers still send plaintext alerts after a TLS 1.3 ServerHello.
        this.consumeAlert(data);
      }
      // Plaintext handshake bytes after a TLS 1.3 ServerHello break RFC 8446 §5.1; OpenSSL
      // refuses them, and decoding them could mistake forged plaintext for the served chain.
      return;
    }
    switch (this.recordType) {
      case CONTENT_HANDSHAKE:
        this.consumeHandshake(data, false);
        return;
      case CONTENT_ALERT:
        this.consumeAlert(data);
        return;
      default:
        // ChangeCipherSpec (one byte) and heartbeat payloads carry nothing we need.
        return;
    }
  }

  private consumeAlert(data: Buffer): void {
    let off = 0;
    while (off < data.length && !this.finished) {
      this.alertBuf[this.alertFill++] = data[off++] ?? 0;
      if (this.alertFill < 2) continue;
      this.alertFill = 0;
      const levelCode = this.alertBuf[0] ?? 0;
      const description = this.alertBuf[1] ?? 0;
      const level = levelCode === 1 ? 'warning' : 'fatal';
      // close_notify ends the connection whatever its level byte says.
      const fatal = level === 'fatal' || description === 0;
      if (this.alert === null || this.alert.level === 'warning') {
        this.alert = { level, levelCode, description, name: alertName(description) };
      }
      if (fatal) {
        this.phase = 'stopped';
        this.dropTls13Buffers();
        return;
      }
    }
  }

  /** `decrypted`: the bytes come from an opened TLS 1.3 record rather than a plaintext one. */
  private consumeHandshake(data: Buffer, decrypted: boolean): void {
    let off = 0;
    // A TLS 1.3 ServerHello ends the plaintext handshake even in the middle of its record.
    while (off < data.length && !this.finished && (decrypted || this.tls13 === null)) {
      if (this.hsType < 0) {
        const take = Math.min(4 - this.hsHeaderFill, data.length - off);
        data.copy(this.hsHeader, this.hsHeaderFill, off, off + take);
        this.hsHeaderFill += take;
        off += take;
        if (this.hsHeaderFill < 4) return;
        if (!this.startMessage()) return;
        if (this.hsLength === 0) {
          this.endMessage();
          continue;
        }
      }
      const take = Math.min(this.hsLength - this.hsReceived, data.length - off);
      if (this.hsChunks) this.hsChunks.push(Buffer.from(data.subarray(off, off + take)));
      this.hsReceived += take;
      off += take;
      if (this.hsReceived === this.hsLength) this.endMessage();
    }
  }

  /** Checks the announced length before a single body byte is kept. */
  private startMessage(): boolean {
    const type = this.hsHeader[0] ?? 0;
    const length = this.hsHeader.readUIntBE(1, 3);
    this.hsHeaderFill = 0;
    const certificate = type === HS_CERTIFICATE || type === HS_COMPRESSED_CERTIFICATE;
    const max = certificate ? this.maxCertBytes : this.maxOtherMessageBytes;
    if (length > max) {
      const what = type === HS_CERTIFICATE ? 'certificate message' : `handshake message ${handshakeName(type)}`;
      this.fail('too-large', `${what} of ${length} bytes exceeds the ${formatBytes(max)} limit`);
      return false;
    }
    this.hsType = type;
    this.hsLength = length;
    this.hsReceived = 0;
    const keep = type === HS_CERTIFICATE || (type === HS_SERVER_HELLO && this.tls13 === null);
    this.hsChunks = keep ? [] : null;
    return true;
  }

  private endMessage(): void {
    const type = this.hsType;
    const body = this.hsChunks ? Buffer.concat(this.hsChunks) : null;
    this.hsType = -1;
    this.hsChunks = null;
    this.hsLength = 0;
    this.hsReceived = 0;
    if (this.tls13) {
      this.onTls13Message(type, body);
      return;
    }
    if (body === null) return;
    if (type === HS_SERVER_HELLO) this.onServerHello(body);
    else if (type === HS_CERTIFICATE) this.onCertificate(body);
  }

  private onServerHello(body: Buffer): void {
    const hello = parseServerHello(body);
    if (typeof hello === 'string') {
      this.fail('malformed', `malformed ServerHello: ${hello}`);
      return;
    }
    this.serverHello = hello;
    // A HelloRetryRequest changes no keys: the real ServerHello follows in plaintext.
    if (hello.version !== TLS13 || hello.helloRetryRequest) return;
    this.encrypted = true;
    const suite = TLS13_CIPHER_SUITES.get(hello.cipherSuite);
    if (!suite) {
      this.tls13Failure = `the server chose cipher suite 0x${hello.cipherSuite.toString(16).padStart(4, '0')}, which the probe cannot decrypt`;
      this.phase = 'encrypted';
      return;
    }
    this.tls13 = { suite, decrypter: null, pending: [], pendingBytes: 0, record: null, recordFill: 0 };
    if (this.earlySecret) {
      const secret = this.earlySecret;
      this.earlySecret = null;
      this.setServerHandshakeSecret(secret);
    }
  }

  private onCertificate(body: Buffer): void {
    const certs = parseCertificateList(body);
    if (typeof certs === 'string') {
      this.fail('malformed', `malformed Certificate message: ${certs}`);
      return;
    }
    this.certificates = certs;
  }

  private onTls13Record(record: Buffer): void {
    const flight = this.tls13;
    if (!flight) return;
    if (flight.decrypter === null) {
      const cap = this.maxCertBytes + PENDING_SLACK_BYTES;
      if (flight.pendingBytes + record.length > cap) {
        this.abandonTls13(`more than ${formatBytes(cap)} of encrypted handshake arrived before Node reported the handshake secret`);
        return;
      }
      flight.pending.push(record);
      flight.pendingBytes += record.length;
      return;
    }
    this.openTls13Record(record);
  }

  private openTls13Record(record: Buffer): void {
    const decrypter = this.tls13?.decrypter;
    if (!decrypter) return;
    const opened = decrypter.open(record.subarray(0, 5), record.subarray(5));
    if (typeof opened === 'string') {
      this.abandonTls13(opened);
      return;
    }
    if (opened.type === CONTENT_HANDSHAKE) this.consumeHandshake(opened.content, true);
    else if (opened.type === CONTENT_ALERT) this.consumeAlert(opened.content);
    else this.abandonTls13(`an encrypted record of content type ${opened.type} came before the server Finished`);
  }

  /** The messages between ServerHello and the server Finished (RFC 8446 §2, in this order). */
  private onTls13Message(type: number, body: Buffer | null): void {
    switch (type) {
      case HS_ENCRYPTED_EXTENSIONS:
      case HS_CERTIFICATE_REQUEST:
      case HS_CERTIFICATE_VERIFY:
        return;
      case HS_CERTIFICATE: {
        const certs = parseTls13CertificateList(body ?? Buffer.alloc(0));
        if (typeof certs === 'string') this.abandonTls13(`malformed TLS 1.3 Certificate message: ${certs}`);
        else this.certificates = certs;
        return;
      }
      case HS_FINISHED:
        // What follows (tickets, 0.5-RTT data) is under other keys and says nothing about the chain.
        if (this.certificates === null) this.tls13Failure = 'the server finished its TLS 1.3 handshake without a Certificate message';
        this.phase = 'encrypted';
        this.dropTls13Buffers();
        return;
      case HS_COMPRESSED_CERTIFICATE:
        this.abandonTls13('the server sent a compressed Certificate message (RFC 8879), which the probe does not decode');
        return;
      default:
        this.abandonTls13(`unexpected ${handshakeName(type)} message in the encrypted server flight`);
    }
  }

  /** Stop reading TLS 1.3 records: the handshake goes on in node:tls, only the served order is lost. */
  private abandonTls13(reason: string): void {
    this.tls13Failure = reason;
    this.phase = 'encrypted';
    this.hsChunks = null;
    this.hsType = -1;
    this.hsHeaderFill = 0;
    this.dropTls13Buffers();
  }

  private dropTls13Buffers(): void {
    if (!this.tls13) return;
    this.tls13.pending = [];
    this.tls13.pendingBytes = 0;
    this.tls13.record = null;
    this.tls13.recordFill = 0;
  }
}

/** TLS 1.0–1.2 Certificate body: a 3-byte list length, then 3-byte-length-prefixed DER entries. */
export function parseCertificateList(body: Buffer): Buffer[] | string {
  if (body.length < 3) return `${body.length} bytes, too short for the list length`;
  const listLength = body.readUIntBE(0, 3);
  if (listLength !== body.length - 3) return `the list announces ${listLength} bytes but the message holds ${body.length - 3}`;
  const certs: Buffer[] = [];
  let off = 3;
  while (off < body.length) {
    if (body.length - off < 3) return `certificate ${certs.length + 1}: truncated length`;
    const len = body.readUIntBE(off, 3);
    off += 3;
    if (len === 0) return `certificate ${certs.length + 1} is empty`;
    if (len > body.length - off) return `certificate ${certs.length + 1} announces ${len} bytes, only ${body.length - off} left`;
    certs.push(Buffer.from(body.subarray(off, off + len)));
    off += len;
  }
  return certs;
}

export function parseServerHello(body: Buffer): ServerHelloInfo | string {
  let off = 0;
  const need = (n: number, what: string): string | null => (body.length - off < n ? `truncated at ${what}` : null);
  const e1 = need(2 + 32 + 1, 'version/random/session id');
  if (e1) return e1;
  const legacyVersion = body.readUInt16BE(0);
  const random = body.subarray(2, 34);
  off = 34;
  const sidLen = body[off] ?? 0;
  off += 1;
  if (sidLen > 32) return `session id of ${sidLen} bytes`;
  const e2 = need(sidLen + 2 + 1, 'cipher suite');
  if (e2) return e2;
  off += sidLen;
  const cipherSuite = body.readUInt16BE(off);
  off += 3; // cipher suite and compression method
  let version = legacyVersion;
  if (off < body.length) {
    const e3 = need(2, 'extensions length');
    if (e3) return e3;
    const extLen = body.readUInt16BE(off);
    off += 2;
    if (extLen !== body.length - off) return `extensions announce ${extLen} bytes but ${body.length - off} remain`;
    while (off < body.length) {
      const e4 = need(4, 'extension header');
      if (e4) return e4;
      const type = body.readUInt16BE(off);
      const len = body.readUInt16BE(off + 2);
      off += 4;
      if (len > body.length - off) return `extension ${type} announces ${len} bytes, only ${body.length - off} left`;
      if (type === EXT_SUPPORTED_VERSIONS) {
        if (len !== 2) return `supported_versions of ${len} bytes in a ServerHello (expected 2)`;
        version = body.readUInt16BE(off);
      }
      off += len;
    }
  }
  return {
    version,
    versionName: versionName(version),
    cipherSuite,
    helloRetryRequest: random.equals(HELLO_RETRY_RANDOM),
  };
}

/** The start of `buf` as text, up to the first line break, when it is printable ASCII. */
function printablePrefix(buf: Buffer): string {
  const head = buf.subarray(0, 80).toString('latin1');
  const line = head.split(/\r?\n/, 1)[0] ?? '';
  return /^[\x20-\x7e]*$/.test(line) ? line : '';
}

function hexPrefix(buf: Buffer): string {
  return [...buf.subarray(0, 8)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
}
