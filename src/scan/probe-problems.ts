/**
 * How a TLS probe's failures read: socket errors, timeouts and TLS alerts turned into the
 * problem a scan reports (code, phase, message), and whether a refusal is worth a TLS 1.3-only
 * retry. Pure: the probe (probe-attempt.ts) passes in what it saw, so every wording and every
 * errno can be checked from a table without a network.
 */
import type { ProbeResult } from '../core/model.js';
import { describeAlert, type TlsAlert } from './tls-records.js';

export type ProbeError = NonNullable<ProbeResult['error']>;

/** What went wrong, as the probe result carries it. */
export interface ProbeProblem {
  code: ProbeError['code'];
  phase: ProbeError['phase'];
  message: string;
}

export type OfferedVersion = 'TLSv1.2' | 'TLSv1.3';

/** Where the probe was dialling when it failed. */
export interface DialState {
  /** The host or address given to connect(). */
  dial: string;
  /** ` (dialled 192.0.2.1)` when an address stands in for the host, else ''. */
  dialledLabel: string;
  /** The name has been resolved (or needed no resolving). */
  lookedUp: boolean;
}

/** The errno of a socket error; happy-eyeballs connects fail with an AggregateError that holds the per-address errors. */
export function errnoOf(err: { code?: string | undefined; message: string; errors?: unknown }): string {
  if (err.code) return err.code;
  const inner = err.errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const code = (e as { code?: unknown } | undefined)?.code;
      if (typeof code === 'string' && code) return code;
    }
  }
  return err.message;
}

/** A socket error before the TCP connection was up: a failed lookup, a refused or timed-out connect. */
export function connectFailure(errno: string, syscall: string | undefined, at: DialState): ProbeProblem {
  if (!at.lookedUp || syscall === 'getaddrinfo') return { code: 'unreachable', phase: 'dns', message: `DNS lookup of "${at.dial}" failed (${errno})` };
  if (errno === 'ETIMEDOUT') return { code: 'timeout', phase: 'connect', message: `TCP connect${at.dialledLabel} timed out (ETIMEDOUT)` };
  return { code: 'unreachable', phase: 'connect', message: `TCP connect${at.dialledLabel} failed: ${connectErrorText(errno)} (${errno})` };
}

/** The connect budget ran out: still resolving, or resolved and waiting for TCP. */
export function connectTimeout(at: DialState, timeoutMs: number): ProbeProblem {
  if (!at.lookedUp) return { code: 'timeout', phase: 'dns', message: `DNS lookup of "${at.dial}" did not finish within ${timeoutMs} ms` };
  return { code: 'timeout', phase: 'connect', message: `no TCP connection${at.dialledLabel} within ${timeoutMs} ms` };
}

/** The handshake budget ran out, with how far the peer got. */
export function handshakeTimeout(bytesSeen: number, timeoutMs: number): ProbeProblem {
  const what = bytesSeen === 0
    ? 'the peer accepted the TCP connection but sent nothing'
    : `the handshake stalled after ${bytesSeen} bytes from the peer`;
  return { code: 'timeout', phase: 'handshake', message: `no TLS handshake within ${timeoutMs} ms: ${what}` };
}

export function connectErrorText(errno: string): string {
  switch (errno) {
    case 'ECONNREFUSED': return 'connection refused (nothing listens on this port, or a firewall rejects it)';
    case 'EHOSTUNREACH': return 'no route to host';
    case 'ENETUNREACH': return 'network unreachable';
    case 'EADDRNOTAVAIL': return 'address not available';
    case 'ECONNRESET': return 'connection reset';
    default: return 'error';
  }
}

/** Alerts a server sends when it will not speak the offered version (or its 1.2 cipher suites). */
const VERSION_REFUSAL_ALERTS = new Set([40, 70, 71]);
/** OpenSSL's names for the same refusals, when it reports them before our parser sees an alert. */
const VERSION_REFUSAL_CODES = /ALERT_PROTOCOL_VERSION|ALERT_HANDSHAKE_FAILURE|ALERT_INSUFFICIENT_SECURITY|UNSUPPORTED_PROTOCOL/;

/** The server refused the TLS 1.2-capped offer in a way a TLS 1.3-only attempt might get past. */
export function versionRefused(offered: OfferedVersion, alertDescription: number | null, errCode: string): boolean {
  return offered === 'TLSv1.2' && ((alertDescription !== null && VERSION_REFUSAL_ALERTS.has(alertDescription)) || VERSION_REFUSAL_CODES.test(errCode));
}

/** A fatal alert from the server, with what it most likely means. */
export function alertMessage(alert: TlsAlert, offered: OfferedVersion): string {
  return `the server sent a ${describeAlert(alert)}${alertHint(alert, offered)}`;
}

export function alertHint(alert: TlsAlert, offered: OfferedVersion): string {
  switch (alert.description) {
    case 70: return offered === 'TLSv1.2' ? ' (it does not accept TLS 1.2 or lower)' : ' (it does not accept TLS 1.3)';
    case 112: return ' (it has no certificate for this name: check the SNI host name)';
    case 40: return ' (no protocol version or cipher suite in common)';
    default: return '';
  }
}

/** A socket error once TCP was up (the parser had nothing better to say). */
export function failedDuringHandshake(errno: string, bytesSeen: number): string {
  return `the connection failed during the TLS handshake: ${errno}${received(bytesSeen)}`;
}

/** node:tls's way of saying the peer closed the connection mid-handshake. */
export function isPeerClose(code: string, message: string): boolean {
  return code === 'ECONNRESET' || /socket disconnected/i.test(message);
}

/** The peer closed the connection: before answering at all, inside a record (`cut`), or between records. */
export function peerClosedMessage(bytesSeen: number, cut: { message: string } | null): string {
  if (bytesSeen === 0) return 'the peer closed the connection without answering the TLS ClientHello';
  if (cut) return `the peer closed the connection during the TLS handshake: ${cut.message}`;
  return `the peer closed the connection during the TLS handshake${received(bytesSeen)}`;
}

/** Any other node:tls error, with its code when the message does not already say it. */
export function tlsFailureMessage(message: string, code: string): string {
  return `TLS handshake failed: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`;
}

/**
 * Why a handshake that succeeded gave no served order: under TLS 1.3 the Certificate message
 * stayed encrypted (`tls13Failure` says why, else whether Node gave the secret at all); below
 * 1.3 no plaintext Certificate message was seen.
 */
export function unorderedChainNote(protocol: string, tls13Failure: string | null, sawSecret: boolean): string {
  if (protocol !== 'TLSv1.3') return `no plaintext Certificate message was seen under ${protocol}: the chain shown is Node's reconstruction`;
  const reason = tls13Failure ?? (sawSecret ? 'no Certificate message was found in the decrypted flight' : 'Node reported no server handshake secret for this connection');
  return `TLS 1.3 encrypts the Certificate message and it could not be decrypted (${reason}): the chain shown is ` +
    'Node\'s reconstruction by issuer matching (it may add the root from the trust store and drop unrelated ' +
    'certificates), so the served order could not be judged';
}

function received(bytes: number): string {
  return bytes === 0 ? '' : ` (after ${bytes} bytes from the peer)`;
}
