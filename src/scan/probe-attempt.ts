/**
 * One handshake attempt of a TLS probe, at one offered version: dial, handshake, and settle
 * exactly once, with the chain or a classified failure (probe-problems.ts). Every socket and
 * timer is released whichever way it ends. Rejects only on programming errors.
 *
 * Two ways to run it:
 * - recording: a RecordingDuplex between TCP and node:tls, so the ServerFlightParser sees the
 *   server's bytes first. It names every failure precisely (alerts, non-TLS data, cut records,
 *   oversized announcements), but node:tls then drives OpenSSL from JavaScript
 *   (js_stream_socket), which cost ~0.3-0.4 ms of CPU per handshake over a native socket: on
 *   loopback a third of the whole handshake (issue 12 §6).
 * - native: node:tls directly on the TCP socket. The served chain comes from OpenSSL's peer
 *   chain (SSL_get_peer_cert_chain), which holds the Certificate message's entries as sent —
 *   order, duplicates and unrelated extras included, under TLS 1.2 and 1.3 alike. Node hands it
 *   over through getPeerX509Certificate(), whose issuerCertificate links follow that stack
 *   entry by entry (so in Node 20's code and in the current ncrypto-based one; the unit tests
 *   compare the result with the bytes on the wire); getPeerCertificate(true), by contrast,
 *   rebuilds the chain by issuer matching. A handshake that completes, a timeout and a fatal
 *   alert from the server are reported from here exactly as the recording path reports them;
 *   every other failure is 'unsure' and the attempt is run again recording, so failures read
 *   as before (at the price of a second connection, and of a second budget if the first
 *   failure came late).
 * Plain TLS goes native first; the STARTTLS family records (the upgrade owns the socket's reads).
 */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { alertName, DEFAULT_MAX_CERT_BYTES, ServerFlightParser, type TlsAlert } from './tls-records.js';
import { parseKeylogLine } from './tls13-decrypt.js';
import { RecordingDuplex } from './recording-duplex.js';
import { upgrade, UpgradeFailure, UPGRADE_COMMAND, type UpgradeProgress } from './starttls.js';
import {
  alertMessage,
  connectFailure,
  connectTimeout,
  errnoOf,
  failedDuringHandshake,
  handshakeTimeout,
  isPeerClose,
  peerClosedMessage,
  tlsFailureMessage,
  unorderedChainNote,
  versionRefused,
  type DialState,
  type OfferedVersion,
  type ProbeError,
  type ProbeProblem,
} from './probe-problems.js';
import type { ProbeOptions, ProbeTarget } from './tls-probe.js';

export interface Succeeded {
  kind: 'ok';
  remoteAddress: string;
  protocol: string;
  orderKnown: boolean;
  chain: Buffer[];
  opensslError: string | null;
  note?: string;
}

export interface Failed {
  kind: 'failed';
  error: ProbeError;
  remoteAddress?: string;
  /** The server refused the version we offered: worth one TLS 1.3-only attempt. */
  retryTls13: boolean;
}

export type Attempt = Succeeded | Failed;

/** A native attempt that cannot say what the recording one would: run it again, recording. */
interface Unsure {
  kind: 'unsure';
}

type Mode = 'native' | 'recording';

export async function attempt(target: ProbeTarget, secureContext: tls.SecureContext, opts: ProbeOptions, offered: OfferedVersion): Promise<Attempt> {
  if ((target.protocol ?? 'tls') === 'tls') {
    const fast = await run(target, secureContext, opts, offered, 'native');
    if (fast.kind !== 'unsure') return fast;
  }
  return (await run(target, secureContext, opts, offered, 'recording')) as Attempt;
}

function run(target: ProbeTarget, secureContext: tls.SecureContext, opts: ProbeOptions, offered: OfferedVersion, mode: Mode): Promise<Attempt | Unsure> {
  return new Promise<Attempt | Unsure>((resolve, reject) => {
    new ProbeAttempt(target, secureContext, opts, offered, mode, resolve, reject).start();
  });
}

class ProbeAttempt {
  private readonly target: ProbeTarget;
  private readonly secureContext: tls.SecureContext;
  private readonly opts: ProbeOptions;
  private readonly offered: OfferedVersion;
  private readonly native: boolean;
  private readonly resolve: (result: Attempt | Unsure) => void;
  private readonly reject: (err: Error) => void;

  private readonly dial: string;
  private readonly dialledLabel: string;
  private readonly connectTimeoutMs: number;
  private readonly parser: ServerFlightParser;
  private readonly raw = new net.Socket();

  private settled = false;
  private lookedUp: boolean;
  private remoteAddress: string | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private duplex: RecordingDuplex | undefined;
  private tlsSocket: tls.TLSSocket | undefined;
  private sawSecret = false;
  /** While the plaintext upgrade (STARTTLS and kin) runs: how far it got, for the timeout message. */
  private upgrading: UpgradeProgress | null = null;

  constructor(
    target: ProbeTarget,
    secureContext: tls.SecureContext,
    opts: ProbeOptions,
    offered: OfferedVersion,
    mode: Mode,
    resolve: (result: Attempt | Unsure) => void,
    reject: (err: Error) => void,
  ) {
    this.target = target;
    this.secureContext = secureContext;
    this.opts = opts;
    this.offered = offered;
    this.native = mode === 'native';
    this.resolve = resolve;
    this.reject = reject;
    this.dial = target.address ?? target.host;
    this.dialledLabel = target.address !== undefined && target.address !== target.host ? ` (dialled ${target.address})` : '';
    this.connectTimeoutMs = opts.connectTimeoutMs ?? opts.timeoutMs;
    this.parser = new ServerFlightParser({ maxCertBytes: opts.maxCertBytes ?? DEFAULT_MAX_CERT_BYTES });
    this.lookedUp = net.isIP(this.dial) !== 0;
  }

  start(): void {
    const raw = this.raw;
    raw.on('lookup', (err) => {
      if (!err) this.lookedUp = true;
    });
    raw.on('error', this.onSocketError);
    raw.once('connect', () => {
      try {
        this.startHandshake();
      } catch (err) {
        this.crash(err);
      }
    });
    this.connectTimer = setTimeout(() => this.failWith(connectTimeout(this.dialState(), this.connectTimeoutMs)), this.connectTimeoutMs);
    try {
      raw.connect({ host: this.dial, port: this.target.port, ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}) });
    } catch (err) {
      // e.g. ERR_SOCKET_BAD_PORT, thrown synchronously: the timer above must not outlive it.
      this.crash(err);
    }
  }

  // --- settling -------------------------------------------------------------------------------

  private release(): void {
    // Error listeners stay attached on purpose: late errors from teardown must not go unhandled.
    this.tlsSocket?.destroy();
    this.duplex?.destroy();
    this.raw.destroy();
  }

  private teardown(afterHandshake = false): void {
    this.settled = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.handshakeTimer);
    // 'secureConnect' fires inside OpenSSL's read, before node:tls writes what that read
    // produced: under TLS 1.3 that is the client Finished. Destroying now would leave the
    // server with an aborted handshake (and a log line) on every scan, so let it go out first.
    if (afterHandshake) setImmediate(() => this.release());
    else this.release();
  }

  private finish(result: Attempt | Unsure, afterHandshake = result.kind === 'ok'): void {
    if (this.settled) return;
    this.teardown(afterHandshake);
    this.resolve(result);
  }

  /** Native mode only: this outcome needs the recording path to be named as before. */
  private unsure(afterHandshake = false): void {
    this.finish({ kind: 'unsure' }, afterHandshake);
  }

  /** A bug or bad argument (not a network outcome): still release everything, then reject. */
  private crash(err: unknown): void {
    if (this.settled) return;
    this.teardown();
    this.reject(err instanceof Error ? err : new Error(String(err)));
  }

  private failWith(p: ProbeProblem, retryTls13 = false): void {
    const remoteAddress = this.remoteAddress;
    this.finish({ kind: 'failed', error: { code: p.code, message: p.message, phase: p.phase }, retryTls13, ...(remoteAddress ? { remoteAddress } : {}) });
  }

  private handshakeFailed(message: string, alert: TlsAlert | null = null, errCode = ''): void {
    this.failWith({ code: 'handshake-failed', phase: 'handshake', message }, versionRefused(this.offered, alert?.description ?? null, errCode));
  }

  /** The parser's view is more precise than OpenSSL's error string: prefer it when it has one. */
  private parserVerdict(): boolean {
    const parser = this.parser;
    if (parser.error) {
      this.handshakeFailed(parser.error.message);
      return true;
    }
    if (parser.alert && parser.alert.level === 'fatal') {
      this.handshakeFailed(alertMessage(parser.alert, this.offered), parser.alert);
      return true;
    }
    return false;
  }

  private dialState(): DialState {
    return { dial: this.dial, dialledLabel: this.dialledLabel, lookedUp: this.lookedUp };
  }

  // --- events ---------------------------------------------------------------------------------

  private readonly onSocketError = (err: NodeJS.ErrnoException): void => {
    if (this.settled) return;
    if (this.remoteAddress === undefined) {
      this.failWith(connectFailure(errnoOf(err), err.syscall, this.dialState()));
      return;
    }
    // The upgrade reports its own socket errors, with what it was waiting for.
    if (this.upgrading) return;
    if (this.native) {
      this.unsure();
      return;
    }
    if (this.parserVerdict()) return;
    this.handshakeFailed(failedDuringHandshake(errnoOf(err), this.parser.bytesSeen));
  };

  private startHandshake(): void {
    const { raw, parser, opts, target } = this;
    clearTimeout(this.connectTimer);
    this.remoteAddress = raw.remoteAddress ?? this.dial;
    // One budget for the plaintext upgrade and the handshake after it.
    this.handshakeTimer = setTimeout(() => {
      const up = this.upgrading;
      if (up) {
        this.failWith(upgradeTimeout(up, opts.timeoutMs, target.protocol));
        return;
      }
      if (this.parserVerdict()) return;
      // Natively nothing parses the flight, but the TCP handle counts what it read: for plain TLS
      // (the only native case) that is the server's handshake bytes the parser would have counted.
      this.failWith(handshakeTimeout(this.native ? raw.bytesRead : parser.bytesSeen, opts.timeoutMs));
    }, opts.timeoutMs);
    const protocol = target.protocol ?? 'tls';
    if (protocol === 'tls') {
      this.startTls();
      return;
    }
    this.upgrading = { bytesSeen: 0, lastSent: '' };
    upgrade(raw, protocol, { host: target.host, maxBytes: opts.maxCertBytes ?? DEFAULT_MAX_CERT_BYTES }, (p) => {
      this.upgrading = p;
    }).then(
      () => {
        if (this.settled) return;
        this.upgrading = null;
        try {
          this.startTls();
        } catch (err) {
          this.crash(err);
        }
      },
      (err: unknown) => {
        if (this.settled) return;
        if (!(err instanceof UpgradeFailure)) {
          this.crash(err);
          return;
        }
        // Every way the plaintext phase fails is a failed handshake; the message says which.
        this.failWith({ code: 'handshake-failed', phase: 'handshake', message: `${protocol}: ${err.message}` });
      },
    );
  }

  /** The TLS handshake, over the socket as connected (or as the upgrade left it). */
  private startTls(): void {
    const { raw, parser, target } = this;
    // A connected net.Socket: node:tls takes over its native handle (no JavaScript in between).
    const transport = this.native ? raw : this.recordingDuplex(raw, parser);
    const sock = tls.connect({
      socket: transport,
      secureContext: this.secureContext,
      // SNI carries no IP literals and no trailing dot (RFC 6066 §3).
      ...(net.isIP(target.host) === 0 ? { servername: target.host.replace(/\.$/, '') } : {}),
      rejectUnauthorized: false,
      // opensslError is OpenSSL's chain verdict only; names are checked by our own analysis.
      checkServerIdentity: () => undefined,
    });
    this.tlsSocket = sock;
    // node:tls calls getPeerCertificate(true) for checkServerIdentity whenever OpenSSL trusts the
    // chain, and ours ignores it: that object tree (every certificate decoded, three fingerprints
    // each, the issuer looked up in the trust store) was ~0.2-0.4 ms of CPU per handshake, a
    // fifth of a scan's client time on loopback (issue 12 §6). The instance gets an empty answer
    // until 'secureConnect'; onSecure removes it before anything of ours can ask.
    Object.defineProperty(sock, 'getPeerCertificate', { value: skippedPeerCertificate, configurable: true, writable: true });
    sock.on('error', this.onTlsError);
    sock.once('secureConnect', () => {
      try {
        this.onSecure();
      } catch (err) {
        this.crash(err);
      }
    });
  }

  private recordingDuplex(raw: net.Socket, parser: ServerFlightParser): RecordingDuplex {

    const duplex = new RecordingDuplex(raw, (chunk) => {
      parser.push(chunk);
      // Node enables key logging on the whole SecureContext once a socket listens for it, at a
      // cost on every later handshake: listen only when a TLS 1.3 flight needs it. The parser
      // sees the ServerHello before node:tls does, so the secret cannot be missed.
      const sock = this.tlsSocket;
      if (parser.wantsServerHandshakeSecret && sock && sock.listenerCount('keylog') === 0) sock.on('keylog', this.onKeylog);
      // Refuse before node:tls sees the bytes: an oversized announcement must not be buffered anywhere.
      return !this.parserVerdict();
    });
    duplex.on('error', (err: NodeJS.ErrnoException) => {
      if (this.settled || this.parserVerdict()) return;
      this.handshakeFailed(`the connection failed during the TLS handshake: ${err.code ?? err.message}`);
    });
    this.duplex = duplex;
    return duplex;
  }

  private readonly onTlsError = (err: NodeJS.ErrnoException): void => {
    if (this.settled) return;
    if (this.native) {
      this.nativeFailure(err);
      return;
    }
    if (this.parserVerdict()) return;
    const code = err.code ?? '';
    if (isPeerClose(code, err.message)) {
      // Only an end of stream can cut a record short; asking earlier would mislabel OpenSSL's own errors.
      const cut = this.parser.end();
      this.handshakeFailed(peerClosedMessage(this.parser.bytesSeen, cut), null, code);
      return;
    }
    this.handshakeFailed(tlsFailureMessage(err.message, code), null, code);
  };

  /**
   * Each TLSSocket gets only its own key log lines (Node finds the socket from the SSL object),
   * so the client random needs no check; a wrong secret would fail authentication anyway. The
   * line comes while OpenSSL processes the ServerHello, after the parser has seen the bytes that
   * follow it in the same chunk: those wait in the parser, bounded, and are opened now.
   */
  private readonly onKeylog = (line: Buffer): void => {
    if (this.settled) return;
    const entry = parseKeylogLine(line);
    if (entry?.label !== 'SERVER_HANDSHAKE_TRAFFIC_SECRET') return;
    this.sawSecret = true;
    const parser = this.parser;
    parser.setServerHandshakeSecret(entry.secret);
    // A refusal decided inside OpenSSL's callback is acted on once node:tls has unwound.
    if (parser.error || parser.alert?.level === 'fatal') {
      process.nextTick(() => {
        if (!this.settled) this.parserVerdict();
      });
    }
  };

  /**
   * A fatal alert from the server is named as the parser names it: OpenSSL reports the received
   * alert's number ("SSL alert number 40"), and the parser would have stopped on that same alert
   * before OpenSSL saw it. Anything else (non-TLS data, a cut record, a reset) is for the parser.
   */
  private nativeFailure(err: NodeJS.ErrnoException): void {
    const m = /SSL alert number (\d+)/.exec(err.message);
    const description = m ? Number(m[1]) : NaN;
    if (!(description >= 0 && description <= 255)) {
      this.unsure();
      return;
    }
    const alert: TlsAlert = { level: 'fatal', levelCode: 2, description, name: alertName(description) };
    this.handshakeFailed(alertMessage(alert, this.offered), alert);
  }

  private onSecure(): void {
    const sock = this.tlsSocket;
    if (this.settled || !sock) return;
    Reflect.deleteProperty(sock, 'getPeerCertificate');
    if (this.native) {
      this.onSecureNative(sock);
      return;
    }
    // The TLS 1.3 flight is opened during the handshake: a refusal may already be waiting.
    if (this.parserVerdict()) return;
    const protocol = sock.getProtocol() ?? 'unknown';
    const opensslError = sock.authorized ? null : authorizationCode(sock.authorizationError as unknown);
    const remoteAddress = this.remoteAddress ?? this.dial;
    const parser = this.parser;
    if (parser.certificates !== null) {
      this.finish({ kind: 'ok', remoteAddress, protocol, orderKnown: true, chain: parser.certificates, opensslError });
      return;
    }
    const note = unorderedChainNote(protocol, parser.tls13Failure, this.sawSecret);
    this.finish({ kind: 'ok', remoteAddress, protocol, orderKnown: false, chain: chainFromPeer(sock), opensslError, note });
  }

  /**
   * No peer chain (a suite without certificates) or one over maxCertBytes: the recording path
   * says what it says about those. OpenSSL's own limit on the message (100 KiB by default) holds
   * while the handshake runs, so nothing larger was buffered here either.
   */
  private onSecureNative(sock: tls.TLSSocket): void {
    const protocol = sock.getProtocol() ?? 'unknown';
    const opensslError = sock.authorized ? null : authorizationCode(sock.authorizationError as unknown);
    const chain = servedChain(sock);
    if (chain.length === 0 || certificateMessageBytes(chain, protocol) > (this.opts.maxCertBytes ?? DEFAULT_MAX_CERT_BYTES)) {
      this.unsure(true);
      return;
    }
    this.finish({ kind: 'ok', remoteAddress: this.remoteAddress ?? this.dial, protocol, orderKnown: true, chain, opensslError });
  }
}

/**
 * The served chain from OpenSSL's peer chain (see the top of this file): the leaf, then each
 * issuerCertificate link, which is the next entry of the Certificate message. Read once: Node
 * takes the entries out of the SSL's stack as it links them.
 */
function servedChain(sock: tls.TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  for (let cert: X509Certificate | undefined = sock.getPeerX509Certificate(); cert; cert = cert.issuerCertificate) chain.push(cert.raw);
  return chain;
}

/** What node:tls hands checkServerIdentity during our handshakes (see startTls): nothing. */
function skippedPeerCertificate(): tls.DetailedPeerCertificate {
  return {} as tls.DetailedPeerCertificate;
}

/**
 * The Certificate message's body size, as the parser measures it against maxCertBytes: the list
 * length, then per entry a 3-byte length and the DER, plus under TLS 1.3 the request context
 * length byte and each entry's (empty: our ClientHello asks for no per-certificate extension)
 * extension block.
 */
function certificateMessageBytes(chain: readonly Buffer[], protocol: string): number {
  const perEntry = protocol === 'TLSv1.3' ? 5 : 3;
  return chain.reduce((n, der) => n + perEntry + der.length, protocol === 'TLSv1.3' ? 4 : 3);
}

/** The budget ran out during the plaintext upgrade: name what the server was last asked. */
function upgradeTimeout(p: UpgradeProgress, timeoutMs: number, protocol: ProbeTarget['protocol']): ProbeProblem {
  const what = p.lastSent === ''
    ? `the server accepted the TCP connection but sent no complete greeting (${p.bytesSeen} bytes)`
    : `no complete answer to ${p.lastSent} (${p.bytesSeen} bytes from the server so far)`;
  const command = protocol && protocol !== 'tls' ? UPGRADE_COMMAND[protocol] : 'STARTTLS';
  return { code: 'timeout', phase: 'handshake', message: `${protocol ?? 'tls'}: no TLS upgrade (${command}) within ${timeoutMs} ms: ${what}` };
}

/**
 * getPeerCertificate(true) links each certificate to its issuer; the root links to itself.
 * Followed with a seen-set so that a cross-signed loop cannot spin.
 */
function chainFromPeer(sock: tls.TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
  while (cert && cert.raw && cert.raw.length > 0) {
    const key = cert.fingerprint256 || cert.raw.toString('base64');
    if (seen.has(key)) break;
    seen.add(key);
    chain.push(Buffer.from(cert.raw));
    const next: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!next || next === cert) break;
    cert = next;
  }
  return chain;
}

/** Node documents authorizationError as an Error but sets the OpenSSL code string. */
function authorizationCode(value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  if (value instanceof Error) return (value as NodeJS.ErrnoException).code ?? value.message;
  return 'UNKNOWN_VERIFY_ERROR';
}
