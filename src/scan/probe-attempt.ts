/**
 * One handshake attempt of a TLS probe, at one offered version: dial, put a RecordingDuplex
 * between TCP and node:tls so the ServerFlightParser sees the server's bytes first, and settle
 * exactly once, with the chain or a classified failure (probe-problems.ts). Every socket and
 * timer is released whichever way it ends. Rejects only on programming errors.
 */
import net from 'node:net';
import tls from 'node:tls';
import { DEFAULT_MAX_CERT_BYTES, ServerFlightParser, type TlsAlert } from './tls-records.js';
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

export function attempt(target: ProbeTarget, secureContext: tls.SecureContext, opts: ProbeOptions, offered: OfferedVersion): Promise<Attempt> {
  return new Promise<Attempt>((resolve, reject) => {
    new ProbeAttempt(target, secureContext, opts, offered, resolve, reject).start();
  });
}

class ProbeAttempt {
  private readonly target: ProbeTarget;
  private readonly secureContext: tls.SecureContext;
  private readonly opts: ProbeOptions;
  private readonly offered: OfferedVersion;
  private readonly resolve: (result: Attempt) => void;
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
    resolve: (result: Attempt) => void,
    reject: (err: Error) => void,
  ) {
    this.target = target;
    this.secureContext = secureContext;
    this.opts = opts;
    this.offered = offered;
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

  private finish(result: Attempt): void {
    if (this.settled) return;
    this.teardown(result.kind === 'ok');
    this.resolve(result);
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
      this.failWith(handshakeTimeout(parser.bytesSeen, opts.timeoutMs));
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

    this.duplex = new RecordingDuplex(raw, (chunk) => {
      parser.push(chunk);
      // Node enables key logging on the whole SecureContext once a socket listens for it, at a
      // cost on every later handshake: listen only when a TLS 1.3 flight needs it. The parser
      // sees the ServerHello before node:tls does, so the secret cannot be missed.
      const sock = this.tlsSocket;
      if (parser.wantsServerHandshakeSecret && sock && sock.listenerCount('keylog') === 0) sock.on('keylog', this.onKeylog);
      // Refuse before node:tls sees the bytes: an oversized announcement must not be buffered anywhere.
      return !this.parserVerdict();
    });
    this.duplex.on('error', (err: NodeJS.ErrnoException) => {
      if (this.settled || this.parserVerdict()) return;
      this.handshakeFailed(`the connection failed during the TLS handshake: ${err.code ?? err.message}`);
    });

    const sock = tls.connect({
      socket: this.duplex,
      secureContext: this.secureContext,
      // SNI carries no IP literals and no trailing dot (RFC 6066 §3).
      ...(net.isIP(target.host) === 0 ? { servername: target.host.replace(/\.$/, '') } : {}),
      rejectUnauthorized: false,
      // opensslError is OpenSSL's chain verdict only; names are checked by our own analysis.
      checkServerIdentity: () => undefined,
    });
    this.tlsSocket = sock;
    sock.on('error', this.onTlsError);
    sock.once('secureConnect', () => {
      try {
        this.onSecure();
      } catch (err) {
        this.crash(err);
      }
    });
  }

  private readonly onTlsError = (err: NodeJS.ErrnoException): void => {
    if (this.settled || this.parserVerdict()) return;
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

  private onSecure(): void {
    const sock = this.tlsSocket;
    if (this.settled || !sock) return;
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
