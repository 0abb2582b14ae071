/**
 * One TLS probe: connect, handshake, return the chain as served. Never throws for network
 * problems; they come back classified as unreachable / timeout / handshake-failed.
 *
 * The chain is read from the Certificate handshake message itself (tls-records.ts), through a
 * recording stream placed between the TCP socket and node:tls, because getPeerCertificate()
 * only shows Node's reconstruction of it (ARCHITECTURE §7). That message is plaintext up to
 * TLS 1.2; under TLS 1.3 it is encrypted, and the socket's 'keylog' event gives the server
 * handshake traffic secret that opens it (tls13-decrypt.ts).
 *
 * The first attempt still caps the version at 1.2: it is one handshake for every server that
 * accepts 1.2, and against the scan benchmark's nginx a TLS 1.2 handshake with plaintext parsing
 * cost 15-20% less per endpoint than a TLS 1.3 one with decryption. A server that refuses 1.2
 * gets a second, TLS 1.3-only attempt whose flight is decrypted. Only when that fails does the
 * chain come from getPeerCertificate (orderKnown: false, with a note saying why).
 */
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { ProbeResult } from '../core/model.js';
import { DEFAULT_MAX_CERT_BYTES, describeAlert, ServerFlightParser, type TlsAlert } from './tls-records.js';
import { parseKeylogLine } from './tls13-decrypt.js';

export interface ProbeTarget {
  /** Name for SNI (omitted when it is an IP literal). */
  host: string;
  port: number;
  /** Dialled instead of `host` when set. */
  address?: string;
}

export interface ProbeOptions {
  /**
   * Trust for OpenSSL's own verdict (opensslError). Make it with createProbeContext(): version
   * limits live in the context, not in tls.connect() options (Node ignores minVersion/maxVersion
   * there when a secureContext is given), so the probe needs a TLS 1.2-capped context and a
   * TLS 1.3 one. A plain context works too: a TLS 1.3 server then negotiates 1.3 on the first
   * attempt, and its flight is decrypted there.
   */
  secureContext: tls.SecureContext;
  /** The context for the TLS 1.3 retry; default: the sibling createProbeContext() made, else secureContext. */
  secureContextTls13?: tls.SecureContext;
  /** Budget for the TLS handshake, from TCP connect to handshake completion. */
  timeoutMs: number;
  /** Budget for DNS + TCP connect; default timeoutMs. */
  connectTimeoutMs?: number;
  /** Largest Certificate message accepted; default 1 MiB. */
  maxCertBytes?: number;
  /** Name resolution instead of the system resolver (a custom resolver, or tests staying on loopback). */
  lookup?: net.LookupFunction;
}

export interface TlsProbeResult extends ProbeResult {
  /** Why the result is less than it seems, e.g. the order could not be judged under TLS 1.3. */
  note?: string;
}

type ProbeError = NonNullable<ProbeResult['error']>;

/** Why the chain is Node's view under TLS 1.3, given why the Certificate message stayed unreadable. */
function tls13Note(reason: string): string {
  return `TLS 1.3 encrypts the Certificate message and it could not be decrypted (${reason}): the chain shown is ` +
    'Node\'s reconstruction by issuer matching (it may add the root from the trust store and drop unrelated ' +
    'certificates), so the served order could not be judged';
}

const tls13Siblings = new WeakMap<tls.SecureContext, tls.SecureContext>();

export interface ProbeContextOptions {
  /** Trust anchors (PEM). An empty list trusts nothing, so every chain fails OpenSSL's check. */
  ca: readonly string[];
}

/**
 * The TLS 1.2-capped context the probe's first attempt needs, with its TLS 1.3-only sibling
 * remembered for the retry. Create once and reuse: building a context with a few hundred CAs
 * costs milliseconds, far more than a handshake on loopback.
 *
 * Security level 0 and TLS 1.0 as the floor: the scanner inspects, it sends no secrets. A server
 * that only speaks TLS 1.0 must still yield its chain, and OpenSSL's verdict must be about trust
 * alone — at the default level it reports an RSA-1024 or SHA-1 chain as "UNSPECIFIED", hiding
 * whether the chain is trusted; key and hash strength are judged by our own analysis.
 */
export function createProbeContext(opts: ProbeContextOptions): tls.SecureContext {
  // Always an array, even empty: without `ca` Node would load its bundled roots, and a context
  // built from an empty list must trust nothing.
  const common = { ciphers: 'DEFAULT:@SECLEVEL=0', ca: [...opts.ca] };
  const tls12 = tls.createSecureContext({ ...common, minVersion: 'TLSv1', maxVersion: 'TLSv1.2' });
  const tls13 = tls.createSecureContext({ ...common, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  tls13Siblings.set(tls12, tls13);
  return tls12;
}

/** Probes one endpoint. Resolves for every network outcome; rejects only on programming errors. */
export async function probe(target: ProbeTarget, opts: ProbeOptions): Promise<TlsProbeResult> {
  const started = performance.now();
  const base = {
    host: target.host,
    port: target.port,
    ...(target.address !== undefined ? { address: target.address } : {}),
  };
  const first = await attempt(target, opts.secureContext, opts, 'TLSv1.2');
  let outcome = first;
  if (first.kind === 'failed' && first.retryTls13) {
    const ctx13 = opts.secureContextTls13 ?? tls13Siblings.get(opts.secureContext) ?? opts.secureContext;
    const second = await attempt(target, ctx13, opts, 'TLSv1.3');
    if (second.kind === 'failed') {
      outcome = {
        ...second,
        error: { ...second.error, message: `TLS 1.2 refused (${first.error.message}); TLS 1.3: ${second.error.message}` },
      };
    } else {
      outcome = second;
    }
  }
  const durationMs = performance.now() - started;
  if (outcome.kind === 'failed') {
    return {
      ...base,
      ...(outcome.remoteAddress ? { remoteAddress: outcome.remoteAddress } : {}),
      orderKnown: false,
      chain: [],
      opensslError: null,
      error: outcome.error,
      durationMs,
    };
  }
  const note = outcome.orderKnown ? undefined : outcome.note;
  return {
    ...base,
    remoteAddress: outcome.remoteAddress,
    protocol: outcome.protocol,
    orderKnown: outcome.orderKnown,
    chain: outcome.chain,
    opensslError: outcome.opensslError,
    durationMs,
    ...(note ? { note } : {}),
  };
}

interface Succeeded {
  kind: 'ok';
  remoteAddress: string;
  protocol: string;
  orderKnown: boolean;
  chain: Buffer[];
  opensslError: string | null;
  note?: string;
}

interface Failed {
  kind: 'failed';
  error: ProbeError;
  remoteAddress?: string;
  /** The server refused the version we offered: worth one TLS 1.3-only attempt. */
  retryTls13: boolean;
}

type Attempt = Succeeded | Failed;

/** Alerts a server sends when it will not speak the offered version (or its 1.2 cipher suites). */
const VERSION_REFUSAL_ALERTS = new Set([40, 70, 71]);
/** OpenSSL's names for the same refusals, when it reports them before our parser sees an alert. */
const VERSION_REFUSAL_CODES = /ALERT_PROTOCOL_VERSION|ALERT_HANDSHAKE_FAILURE|ALERT_INSUFFICIENT_SECURITY|UNSUPPORTED_PROTOCOL/;

function attempt(target: ProbeTarget, secureContext: tls.SecureContext, opts: ProbeOptions, offered: 'TLSv1.2' | 'TLSv1.3'): Promise<Attempt> {
  const dial = target.address ?? target.host;
  const connectTimeoutMs = opts.connectTimeoutMs ?? opts.timeoutMs;
  const parser = new ServerFlightParser({ maxCertBytes: opts.maxCertBytes ?? DEFAULT_MAX_CERT_BYTES });
  const dialledLabel = target.address !== undefined && target.address !== target.host ? ` (dialled ${target.address})` : '';

  return new Promise<Attempt>((resolve, reject) => {
    let settled = false;
    let lookedUp = net.isIP(dial) !== 0;
    let remoteAddress: string | undefined;
    let handshakeTimer: NodeJS.Timeout | undefined;
    let duplex: RecordingDuplex | undefined;
    let tlsSocket: tls.TLSSocket | undefined;
    let sawSecret = false;

    const raw = new net.Socket();

    const release = (): void => {
      // Error listeners stay attached on purpose: late errors from teardown must not go unhandled.
      tlsSocket?.destroy();
      duplex?.destroy();
      raw.destroy();
    };

    const teardown = (afterHandshake = false): void => {
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(handshakeTimer);
      // 'secureConnect' fires inside OpenSSL's read, before node:tls writes what that read
      // produced: under TLS 1.3 that is the client Finished. Destroying now would leave the
      // server with an aborted handshake (and a log line) on every scan, so let it go out first.
      if (afterHandshake) setImmediate(release);
      else release();
    };

    const finish = (result: Attempt): void => {
      if (settled) return;
      teardown(result.kind === 'ok');
      resolve(result);
    };

    /** A bug or bad argument (not a network outcome): still release everything, then reject. */
    const crash = (err: unknown): void => {
      if (settled) return;
      teardown();
      reject(err instanceof Error ? err : new Error(String(err)));
    };

    const fail = (code: ProbeError['code'], phase: ProbeError['phase'], message: string, retryTls13 = false): void => {
      finish({ kind: 'failed', error: { code, message, phase }, retryTls13, ...(remoteAddress ? { remoteAddress } : {}) });
    };

    const handshakeFailed = (message: string, alert: TlsAlert | null = null, errCode = ''): void => {
      const retry = offered === 'TLSv1.2' && ((alert !== null && VERSION_REFUSAL_ALERTS.has(alert.description)) || VERSION_REFUSAL_CODES.test(errCode));
      fail('handshake-failed', 'handshake', message, retry);
    };

    /** The parser's view is more precise than OpenSSL's error string: prefer it when it has one. */
    const parserVerdict = (): boolean => {
      if (parser.error) {
        handshakeFailed(parser.error.message);
        return true;
      }
      if (parser.alert && parser.alert.level === 'fatal') {
        handshakeFailed(`the server sent a ${describeAlert(parser.alert)}${alertHint(parser.alert, offered)}`, parser.alert);
        return true;
      }
      return false;
    };

    raw.on('lookup', (err) => {
      if (!err) lookedUp = true;
    });
    raw.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (remoteAddress === undefined) {
        const code = errnoOf(err);
        if (!lookedUp || err.syscall === 'getaddrinfo') {
          fail('unreachable', 'dns', `DNS lookup of "${dial}" failed (${code})`);
        } else if (code === 'ETIMEDOUT') {
          fail('timeout', 'connect', `TCP connect${dialledLabel} timed out (ETIMEDOUT)`);
        } else {
          fail('unreachable', 'connect', `TCP connect${dialledLabel} failed: ${connectErrorText(code)} (${code})`);
        }
        return;
      }
      if (parserVerdict()) return;
      handshakeFailed(`the connection failed during the TLS handshake: ${errnoOf(err)}${received(parser.bytesSeen)}`);
    });

    raw.once('connect', () => {
      try {
        startHandshake();
      } catch (err) {
        crash(err);
      }
    });

    const startHandshake = (): void => {
      clearTimeout(connectTimer);
      remoteAddress = raw.remoteAddress ?? dial;
      handshakeTimer = setTimeout(() => {
        if (parserVerdict()) return;
        const what = parser.bytesSeen === 0
          ? 'the peer accepted the TCP connection but sent nothing'
          : `the handshake stalled after ${parser.bytesSeen} bytes from the peer`;
        fail('timeout', 'handshake', `no TLS handshake within ${opts.timeoutMs} ms: ${what}`);
      }, opts.timeoutMs);

      duplex = new RecordingDuplex(raw, (chunk) => {
        parser.push(chunk);
        // Node enables key logging on the whole SecureContext once a socket listens for it, at a
        // cost on every later handshake: listen only when a TLS 1.3 flight needs it. The parser
        // sees the ServerHello before node:tls does, so the secret cannot be missed.
        if (parser.wantsServerHandshakeSecret && tlsSocket && tlsSocket.listenerCount('keylog') === 0) tlsSocket.on('keylog', onKeylog);
        // Refuse before node:tls sees the bytes: an oversized announcement must not be buffered anywhere.
        return !parserVerdict();
      });
      duplex.on('error', (err: NodeJS.ErrnoException) => {
        if (settled || parserVerdict()) return;
        handshakeFailed(`the connection failed during the TLS handshake: ${err.code ?? err.message}`);
      });

      tlsSocket = tls.connect({
        socket: duplex,
        secureContext,
        // SNI carries no IP literals and no trailing dot (RFC 6066 §3).
        ...(net.isIP(target.host) === 0 ? { servername: target.host.replace(/\.$/, '') } : {}),
        rejectUnauthorized: false,
        // opensslError is OpenSSL's chain verdict only; names are checked by our own analysis.
        checkServerIdentity: () => undefined,
      });
      tlsSocket.on('error', (err: NodeJS.ErrnoException) => {
        if (settled || parserVerdict()) return;
        const code = err.code ?? '';
        if (code === 'ECONNRESET' || /socket disconnected/i.test(err.message)) {
          // Only an end of stream can cut a record short; asking earlier would mislabel OpenSSL's own errors.
          const cut = parser.end();
          const what = parser.bytesSeen === 0
            ? 'the peer closed the connection without answering the TLS ClientHello'
            : cut
              ? `the peer closed the connection during the TLS handshake: ${cut.message}`
              : `the peer closed the connection during the TLS handshake${received(parser.bytesSeen)}`;
          handshakeFailed(what, null, code);
          return;
        }
        handshakeFailed(`TLS handshake failed: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`, null, code);
      });
      tlsSocket.once('secureConnect', () => {
        try {
          onSecure();
        } catch (err) {
          crash(err);
        }
      });
    };

    /**
     * Each TLSSocket gets only its own key log lines (Node finds the socket from the SSL object),
     * so the client random needs no check; a wrong secret would fail authentication anyway. The
     * line comes while OpenSSL processes the ServerHello, after the parser has seen the bytes that
     * follow it in the same chunk: those wait in the parser, bounded, and are opened now.
     */
    const onKeylog = (line: Buffer): void => {
      if (settled) return;
      const entry = parseKeylogLine(line);
      if (entry?.label !== 'SERVER_HANDSHAKE_TRAFFIC_SECRET') return;
      sawSecret = true;
      parser.setServerHandshakeSecret(entry.secret);
      // A refusal decided inside OpenSSL's callback is acted on once node:tls has unwound.
      if (parser.error || parser.alert?.level === 'fatal') {
        process.nextTick(() => {
          if (!settled) parserVerdict();
        });
      }
    };

    const onSecure = (): void => {
      const sock = tlsSocket;
      if (settled || !sock) return;
      // The TLS 1.3 flight is opened during the handshake: a refusal may already be waiting.
      if (parserVerdict()) return;
      const protocol = sock.getProtocol() ?? 'unknown';
      const opensslError = sock.authorized ? null : authorizationCode(sock.authorizationError as unknown);
      if (parser.certificates !== null) {
        finish({ kind: 'ok', remoteAddress: remoteAddress ?? dial, protocol, orderKnown: true, chain: parser.certificates, opensslError });
        return;
      }
      const note = protocol === 'TLSv1.3'
        ? tls13Note(parser.tls13Failure ?? (sawSecret ? 'no Certificate message was found in the decrypted flight' : 'Node reported no server handshake secret for this connection'))
        : `no plaintext Certificate message was seen under ${protocol}: the chain shown is Node's reconstruction`;
      finish({ kind: 'ok', remoteAddress: remoteAddress ?? dial, protocol, orderKnown: false, chain: chainFromPeer(sock), opensslError, note });
    };

    // Declared last and only used from callbacks: nothing above can fire before connect() runs.
    const connectTimer = setTimeout(() => {
      if (!lookedUp) fail('timeout', 'dns', `DNS lookup of "${dial}" did not finish within ${connectTimeoutMs} ms`);
      else fail('timeout', 'connect', `no TCP connection${dialledLabel} within ${connectTimeoutMs} ms`);
    }, connectTimeoutMs);

    try {
      raw.connect({ host: dial, port: target.port, ...(opts.lookup ? { lookup: opts.lookup } : {}) });
    } catch (err) {
      // e.g. ERR_SOCKET_BAD_PORT, thrown synchronously: the timer above must not outlive it.
      crash(err);
    }
  });
}

/**
 * Passes bytes between the TCP socket and node:tls unchanged, showing every server byte to
 * `inspect` first. When `inspect` returns false the bytes are dropped: the probe is tearing down.
 */
class RecordingDuplex extends Duplex {
  private readonly raw: net.Socket;
  private readonly inspect: (chunk: Buffer) => boolean;

  constructor(raw: net.Socket, inspect: (chunk: Buffer) => boolean) {
    super();
    this.raw = raw;
    this.inspect = inspect;
    raw.on('data', this.onData);
    raw.on('end', this.onEnd);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.inspect(chunk)) return;
    if (!this.push(chunk)) this.raw.pause();
  };

  private readonly onEnd = (): void => {
    this.push(null);
  };

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.raw.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.raw.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.off('data', this.onData);
    this.raw.off('end', this.onEnd);
    this.raw.destroy();
    callback(error);
  }
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

/** Happy-eyeballs connects fail with an AggregateError that holds the per-address errors. */
function errnoOf(err: NodeJS.ErrnoException): string {
  if (err.code) return err.code;
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const code = (e as NodeJS.ErrnoException | undefined)?.code;
      if (code) return code;
    }
  }
  return err.message;
}

function connectErrorText(code: string): string {
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (nothing listens on this port, or a firewall rejects it)';
    case 'EHOSTUNREACH': return 'no route to host';
    case 'ENETUNREACH': return 'network unreachable';
    case 'EADDRNOTAVAIL': return 'address not available';
    case 'ECONNRESET': return 'connection reset';
    default: return 'error';
  }
}

function alertHint(alert: TlsAlert, offered: 'TLSv1.2' | 'TLSv1.3'): string {
  switch (alert.description) {
    case 70: return offered === 'TLSv1.2' ? ' (it does not accept TLS 1.2 or lower)' : ' (it does not accept TLS 1.3)';
    case 112: return ' (it has no certificate for this name: check the SNI host name)';
    case 40: return ' (no protocol version or cipher suite in common)';
    default: return '';
  }
}

function received(bytes: number): string {
  return bytes === 0 ? '' : ` (after ${bytes} bytes from the peer)`;
}
