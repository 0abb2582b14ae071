/**
 * The plaintext phase of a STARTTLS-style probe: on an already-connected TCP socket, speak just
 * enough of the service's protocol to have it switch to TLS, then hand the same socket back, so
 * that the probe's raw-record capture (recording-duplex.ts) and analysis run exactly as for
 * HTTPS. What each protocol sends:
 *
 *   smtp      read the 220 greeting (multi-line), EHLO, expect 250-STARTTLS among the extensions, STARTTLS → 220
 *   imap      read the * OK greeting, a1 CAPABILITY (expect STARTTLS), a2 STARTTLS → a2 OK
 *   pop3      read +OK, CAPA (expect STLS; a server without CAPA is asked anyway), STLS → +OK
 *   ftp       read the 220 greeting, AUTH TLS → 234
 *   ldap      StartTLS extended request (OID 1.3.6.1.4.1.1466.20037, BER) → resultCode 0
 *   postgres  SSLRequest (length 8, code 80877103) → the single byte 'S'
 *   xmpp      client stream header, expect <starttls/> in the stream features, <starttls/> → <proceed/>
 *
 * Bounded: at most `maxBytes` from the server in the whole phase (the caller's time budget covers
 * it too, by destroying the socket). Bytes after the server's go-ahead are refused, not handed to
 * TLS: they were not protected by it (the STARTTLS response-injection class of bugs).
 */
import type net from 'node:net';
import type { EndpointProtocol } from '../core/model.js';

export type UpgradeProtocol = Exclude<EndpointProtocol, 'tls'>;

/** Why the upgrade did not happen: `not-offered` is the server saying no; the rest are broken conversations. */
export type UpgradeFailureKind = 'not-offered' | 'refused' | 'protocol' | 'closed' | 'too-big' | 'socket';

export class UpgradeFailure extends Error {
  readonly kind: UpgradeFailureKind;
  constructor(kind: UpgradeFailureKind, message: string) {
    super(message);
    this.name = 'UpgradeFailure';
    this.kind = kind;
  }
}

export interface UpgradeOptions {
  /** The name the client presents (XMPP stream `to`); SMTP's EHLO uses a fixed name. */
  host: string;
  /** Most bytes accepted from the server before the TLS handshake. */
  maxBytes: number;
}

/** The command that asks for TLS, as messages name it. */
export const UPGRADE_COMMAND: Record<UpgradeProtocol, string> = {
  smtp: 'STARTTLS',
  imap: 'STARTTLS',
  pop3: 'STLS',
  ftp: 'AUTH TLS',
  ldap: 'the StartTLS extended operation',
  postgres: 'SSLRequest',
  xmpp: '<starttls/>',
};

/** The name sent in EHLO: a syntactically valid name that resolves nowhere (RFC 6761). */
const EHLO_NAME = 'certs-scanner.invalid';
/** How much of what a server said goes into a message. */
const SAID_MAX = 240;

/** A live view of the conversation, handed to the caller once at the start, for its timeout message. */
export interface UpgradeProgress {
  /** Bytes received from the server so far. */
  readonly bytesSeen: number;
  /** The last thing the client sent, e.g. "EHLO", for "no answer to EHLO"; '' before the client has sent anything. */
  readonly lastSent: string;
}

/**
 * Runs the upgrade on `socket` (connected, nothing read yet). Resolves once the server has agreed
 * and nothing else is pending; rejects with UpgradeFailure otherwise. Leaves the socket paused
 * with no 'data' listener of its own. The caller owns the socket and the clock: destroying the
 * socket ends a pending upgrade with a `closed` failure.
 */
export function upgrade(socket: net.Socket, protocol: UpgradeProtocol, opts: UpgradeOptions, progress?: (p: UpgradeProgress) => void): Promise<void> {
  const conv = new Conversation(socket, opts.maxBytes, progress);
  const run = DIALOGS[protocol];
  return run(conv, opts).then(
    () => {
      conv.close();
      conv.assertDrained(UPGRADE_COMMAND[protocol]);
    },
    (err: unknown) => {
      conv.close();
      throw err;
    },
  );
}

type Dialog = (c: Conversation, opts: UpgradeOptions) => Promise<void>;

const DIALOGS: Record<UpgradeProtocol, Dialog> = {
  smtp: smtpDialog,
  imap: imapDialog,
  pop3: pop3Dialog,
  ftp: ftpDialog,
  ldap: ldapDialog,
  postgres: postgresDialog,
  xmpp: xmppDialog,
};

// --- the conversation: bounded reads over the raw socket ---------------------------------------

class Conversation implements UpgradeProgress {
  private readonly socket: net.Socket;
  readonly maxBytes: number;
  private buf: Buffer = Buffer.alloc(0);
  /** Where the line search resumes in `buf` (everything before has no line end). */
  private scanFrom = 0;
  private waiter: (() => void) | null = null;
  private failure: UpgradeFailure | null = null;
  private ended = false;
  bytesSeen = 0;
  lastSent = '';

  constructor(socket: net.Socket, maxBytes: number, progress?: (p: UpgradeProgress) => void) {
    this.socket = socket;
    this.maxBytes = maxBytes;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    // The caller holds this live view from the start (its timeout names what was last sent).
    progress?.(this);
  }

  close(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('error', this.onError);
    // Nothing must flow until the TLS layer attaches its own reader.
    this.socket.pause();
  }

  /** After the go-ahead the server must wait for our ClientHello: anything it sent early is refused. */
  assertDrained(command: string): void {
    if (this.buf.length > 0) {
      throw new UpgradeFailure('protocol', `the server sent ${this.buf.length} bytes after accepting ${command}, before the TLS handshake (${said(this.buf)}); refusing them`);
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    this.bytesSeen += chunk.length;
    if (this.bytesSeen > this.maxBytes) {
      this.fail(new UpgradeFailure('too-big', `the server sent more than ${this.maxBytes} bytes before the TLS handshake (${this.after()}); cut off`));
      this.socket.destroy();
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.wake();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake();
  };

  private readonly onClose = (): void => {
    this.ended = true;
    this.wake();
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.fail(new UpgradeFailure('socket', `the connection failed during the plaintext exchange (${this.after()}): ${err.code ?? err.message}`));
  };

  private fail(f: UpgradeFailure): void {
    if (!this.failure) this.failure = f;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.ended) {
      const tail = this.buf.length > 0 ? `; it had sent: ${said(this.buf)}` : '';
      throw new UpgradeFailure('closed', `the server closed the connection ${this.after()}${tail}`);
    }
  }

  /** "after EHLO", or "before its greeting" while the client has sent nothing. */
  after(): string {
    return this.lastSent === '' ? 'before sending a complete greeting' : `after ${this.lastSent}`;
  }

  send(data: string | Buffer, label: string): void {
    this.lastSent = label;
    this.socket.write(data);
  }

  /** One line without its CR LF (a bare LF is accepted too). */
  async line(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a, this.scanFrom);
      if (nl >= 0) {
        const end = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
        const text = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(nl + 1);
        this.scanFrom = 0;
        return text;
      }
      this.scanFrom = this.buf.length;
      this.check();
      await this.wait();
    }
  }

  /** Exactly `n` bytes. */
  async bytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      this.check();
      await this.wait();
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.scanFrom = 0;
    return out;
  }

  /** Reads until `done(buffered text)` returns an index past the end of what it wants; returns that text. */
  async until(done: (text: string) => number): Promise<string> {
    for (;;) {
      const text = this.buf.toString('latin1');
      const end = done(text);
      if (end >= 0) {
        this.buf = this.buf.subarray(end);
        this.scanFrom = 0;
        return text.slice(0, end);
      }
      this.check();
      await this.wait();
    }
  }
}

/** What the server said, for a message: printable ASCII, line breaks as " | ", truncated. */
export function said(input: Buffer | string | readonly string[]): string {
  const text = Array.isArray(input) ? input.join('\n') : Buffer.isBuffer(input) ? input.toString('latin1') : (input as string);
  let out = '';
  for (const ch of text.replace(/\r\n?/g, '\n').trim()) {
    if (out.length >= SAID_MAX) return `"${out}…"`;
    const c = ch.charCodeAt(0);
    if (ch === '\n') out += ' | ';
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += '?';
  }
  return `"${out}"`;
}

function notOffered(command: string, what: string): UpgradeFailure {
  const named = command === 'STARTTLS' ? 'STARTTLS' : `STARTTLS (${command})`;
  return new UpgradeFailure('not-offered', `the server did not offer ${named}; it said: ${what}`);
}

// --- SMTP and FTP: numbered replies ------------------------------------------------------------

interface Reply {
  code: number;
  lines: string[];
}

/**
 * One reply: `ddd-text` lines then `ddd text` (RFC 5321 §4.2.1). FTP (RFC 959 §4.2) allows other
 * text between the first and last line, so only a line starting with the same code and a space
 * (or nothing) ends it.
 */
async function reply(c: Conversation): Promise<Reply> {
  const first = await c.line();
  const m = /^(\d{3})([ -]|$)/.exec(first);
  if (!m) throw new UpgradeFailure('protocol', `expected a numbered reply ${c.lastSent === '' ? 'as the greeting' : `to ${c.lastSent}`}, got ${said(first)}`);
  const code = Number(m[1]);
  const lines = [first];
  if (m[2] !== '-') return { code, lines };
  for (;;) {
    const l = await c.line();
    lines.push(l);
    if (l.startsWith(m[1]!) && (l.length === 3 || l[3] === ' ')) return { code, lines };
  }
}

async function greeting(c: Conversation, service: string): Promise<void> {
  let r = await reply(c);
  // FTP's 120: "service ready in nnn minutes", followed by the real greeting.
  while (r.code === 120) r = await reply(c);
  if (r.code !== 220) throw new UpgradeFailure('refused', `the ${service} server refused the session: ${said(r.lines)}`);
}

async function smtpDialog(c: Conversation): Promise<void> {
  await greeting(c, 'SMTP');
  c.send(`EHLO ${EHLO_NAME}\r\n`, 'EHLO');
  const ehlo = await reply(c);
  if (ehlo.code !== 250) throw notOffered('STARTTLS', `${said(ehlo.lines)} (EHLO refused)`);
  // The first line is the greeting; each later one names an extension.
  const offered = ehlo.lines.slice(1).some((l) => /^250[ -]STARTTLS\s*$/i.test(l));
  if (!offered) throw notOffered('STARTTLS', said(ehlo.lines));
  c.send('STARTTLS\r\n', 'STARTTLS');
  const go = await reply(c);
  if (go.code !== 220) throw notOffered('STARTTLS', said(go.lines));
}

async function ftpDialog(c: Conversation): Promise<void> {
  await greeting(c, 'FTP');
  c.send('AUTH TLS\r\n', 'AUTH TLS');
  const go = await reply(c);
  if (go.code !== 234) throw notOffered('AUTH TLS', said(go.lines));
}

// --- IMAP and POP3 -----------------------------------------------------------------------------

async function imapDialog(c: Conversation): Promise<void> {
  const hello = await c.line();
  if (/^\* PREAUTH/i.test(hello)) throw notOffered('STARTTLS', `${said(hello)} (a pre-authenticated session cannot start TLS)`);
  if (!/^\* OK/i.test(hello)) throw new UpgradeFailure('refused', `the IMAP server refused the session: ${said(hello)}`);
  c.send('a1 CAPABILITY\r\n', 'CAPABILITY');
  const caps: string[] = [];
  let done: string;
  for (;;) {
    const l = await c.line();
    if (/^a1 /i.test(l)) {
      done = l;
      break;
    }
    caps.push(l);
  }
  const offered = caps.some((l) => /^\* CAPABILITY\b/i.test(l) && /(^|\s)STARTTLS(\s|$)/i.test(l));
  if (!/^a1 OK/i.test(done) || !offered) throw notOffered('STARTTLS', said([...caps, done]));
  c.send('a2 STARTTLS\r\n', 'STARTTLS');
  for (;;) {
    const l = await c.line();
    if (/^a2 OK/i.test(l)) return;
    if (/^a2 /i.test(l)) throw notOffered('STARTTLS', said(l));
    // Untagged lines before the tagged answer are allowed; a BYE ends the session.
    if (/^\* BYE/i.test(l)) throw new UpgradeFailure('refused', `the IMAP server ended the session: ${said(l)}`);
  }
}

async function pop3Dialog(c: Conversation): Promise<void> {
  const hello = await c.line();
  if (!hello.startsWith('+OK')) throw new UpgradeFailure('refused', `the POP3 server refused the session: ${said(hello)}`);
  c.send('CAPA\r\n', 'CAPA');
  const head = await c.line();
  if (head.startsWith('+OK')) {
    const caps: string[] = [];
    for (;;) {
      const l = await c.line();
      if (l === '.') break;
      caps.push(l);
    }
    if (!caps.some((l) => /^STLS\s*$/i.test(l))) throw notOffered('STLS', said([head, ...caps]));
  }
  // A server without CAPA (RFC 2449) may still know STLS (RFC 2595): ask.
  c.send('STLS\r\n', 'STLS');
  const go = await c.line();
  if (!go.startsWith('+OK')) throw notOffered('STLS', said(go));
}

// --- LDAP: the StartTLS extended operation (RFC 4511 §4.14), BER by hand -----------------------

const LDAP_STARTTLS_OID = '1.3.6.1.4.1.1466.20037';

/** LDAPMessage { messageID 1, ExtendedRequest [APPLICATION 23] { requestName [0] OID } }. */
export function ldapStartTlsRequest(): Buffer {
  const oid = Buffer.from(LDAP_STARTTLS_OID, 'latin1');
  const requestName = Buffer.concat([Buffer.from([0x80, oid.length]), oid]);
  const op = Buffer.concat([Buffer.from([0x77, requestName.length]), requestName]);
  const body = Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), op]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

const LDAP_RESULTS: Record<number, string> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  80: 'other',
};

interface Tlv {
  tag: number;
  value: Buffer;
  /** Bytes the whole element took. */
  size: number;
}

/** One BER element from the start of `buf`, or null if it is not all there yet. Definite lengths only (LDAP requires them). */
function readTlv(buf: Buffer): Tlv | null | 'bad' {
  if (buf.length < 2) return null;
  const tag = buf[0]!;
  let len = buf[1]!;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) return 'bad';
    if (buf.length < 2 + n) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[2 + i]!;
    head = 2 + n;
  }
  if (buf.length < head + len) return null;
  return { tag, value: buf.subarray(head, head + len), size: head + len };
}

/** The parts of an LDAPResult that matter here, or a reason it could not be read. */
export function parseLdapExtendedResponse(message: Buffer): { messageId: number; resultCode: number; diagnostic: string } | string {
  const outer = readTlv(message);
  if (outer === null || outer === 'bad' || outer.tag !== 0x30) return 'not an LDAPMessage';
  const id = readTlv(outer.value);
  if (id === null || id === 'bad' || id.tag !== 0x02 || id.value.length === 0 || id.value.length > 4) return 'no message ID';
  const messageId = id.value.readUIntBE(0, id.value.length);
  const op = readTlv(outer.value.subarray(id.size));
  if (op === null || op === 'bad') return 'no protocol operation';
  if (op.tag !== 0x78) return `an operation with tag 0x${op.tag.toString(16)} instead of an ExtendedResponse`;
  const code = readTlv(op.value);
  if (code === null || code === 'bad' || code.tag !== 0x0a || code.value.length === 0 || code.value.length > 4) return 'no resultCode';
  const resultCode = code.value.readUIntBE(0, code.value.length);
  const matched = readTlv(op.value.subarray(code.size));
  let diagnostic = '';
  if (matched !== null && matched !== 'bad') {
    const diag = readTlv(op.value.subarray(code.size + matched.size));
    if (diag !== null && diag !== 'bad' && diag.tag === 0x04) diagnostic = diag.value.toString('utf8');
  }
  return { messageId, resultCode, diagnostic };
}

async function ldapDialog(c: Conversation): Promise<void> {
  c.send(ldapStartTlsRequest(), 'the StartTLS extended request');
  // The header first (tag, length and its length bytes), then exactly the rest of the message.
  const head = await c.bytes(2);
  if (head[0] !== 0x30) throw new UpgradeFailure('protocol', `the server did not answer with an LDAP message (first bytes ${head.toString('hex')})`);
  let len = head[1]!;
  let lenBytes: Buffer = Buffer.alloc(0);
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new UpgradeFailure('protocol', 'the server\'s LDAP message has an invalid length');
    lenBytes = await c.bytes(n);
    len = lenBytes.readUIntBE(0, n);
  }
  // The conversation's byte budget bounds this too, but an announced length is refused up front.
  if (len > c.maxBytes) throw new UpgradeFailure('too-big', `the server announced an LDAP message of ${len} bytes, more than the ${c.maxBytes} accepted before the TLS handshake`);
  const body = await c.bytes(len);
  const parsed = parseLdapExtendedResponse(Buffer.concat([head, lenBytes, body]));
  if (typeof parsed === 'string') throw new UpgradeFailure('protocol', `the server's answer to StartTLS is not an LDAP ExtendedResponse: ${parsed}`);
  if (parsed.messageId === 0) throw new UpgradeFailure('refused', `the LDAP server ended the session (notice of disconnection): ${said(parsed.diagnostic)}`);
  if (parsed.resultCode !== 0) {
    const name = LDAP_RESULTS[parsed.resultCode] ?? 'error';
    throw notOffered('StartTLS extended operation', `resultCode ${parsed.resultCode} (${name})${parsed.diagnostic ? ` ${said(parsed.diagnostic)}` : ''}`);
  }
}

// --- PostgreSQL: SSLRequest (protocol docs §55.2.10) --------------------------------------------

export const POSTGRES_SSL_REQUEST = Buffer.from([0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f]);

async function postgresDialog(c: Conversation): Promise<void> {
  c.send(POSTGRES_SSL_REQUEST, 'SSLRequest');
  const [answer] = await c.bytes(1);
  if (answer === 0x53) return; // 'S'
  if (answer === 0x4e) throw notOffered('SSLRequest', '"N" (SSL is off on this server)');
  if (answer === 0x45) {
    // 'E': an ErrorResponse from a server too old for SSLRequest; show what is already there.
    const rest = await c.until((t) => t.length);
    throw new UpgradeFailure('refused', `the PostgreSQL server answered SSLRequest with an error: ${said(rest.replace(/\0/g, ' '))}`);
  }
  throw new UpgradeFailure('protocol', `the server answered SSLRequest with byte 0x${(answer ?? 0).toString(16).padStart(2, '0')}, expected "S" or "N"`);
}

// --- XMPP (RFC 6120 §5) -------------------------------------------------------------------------

function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');
}

/** End of the features element, or -1: `</stream:features>` or a self-closed `<stream:features/>`. */
function featuresEnd(text: string): number {
  const close = /<\/(?:stream:)?features\s*>/.exec(text);
  if (close) return close.index + close[0].length;
  const empty = /<(?:stream:)?features\s*\/>/.exec(text);
  if (empty) return empty.index + empty[0].length;
  const error = /<\/(?:stream:)?error\s*>|<\/(?:stream:)?stream\s*>/.exec(text);
  return error ? error.index + error[0].length : -1;
}

async function xmppDialog(c: Conversation, opts: UpgradeOptions): Promise<void> {
  c.send(
    `<?xml version='1.0'?><stream:stream to='${xmlAttr(opts.host.replace(/\.$/, ''))}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
    'the XMPP stream header',
  );
  const header = await c.until(featuresEnd);
  if (/<(?:stream:)?error[\s>]/.test(header) || !/<(?:stream:)?features[\s>/]/.test(header)) {
    throw new UpgradeFailure('refused', `the XMPP server refused the stream: ${said(header)}`);
  }
  const features = header.slice(header.search(/<(?:stream:)?features[\s>/]/));
  if (!/<starttls[^>]*xmlns=(['"])urn:ietf:params:xml:ns:xmpp-tls\1/.test(features)) throw notOffered('<starttls/>', said(features));
  c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", '<starttls/>');
  const answer = await c.until((t) => {
    const m = /<(proceed|failure)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1\s*>)/.exec(t);
    return m ? m.index + m[0].length : -1;
  });
  if (!/<proceed\b/.test(answer)) throw notOffered('<starttls/>', said(answer));
}
