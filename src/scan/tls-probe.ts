/**
 * One TLS probe: connect, handshake, return the chain as served. Never throws for network
 * problems; they come back classified as unreachable / timeout / handshake-failed.
 *
 * The chain is the Certificate handshake message's as served, never getPeerCertificate()'s
 * reconstruction (ARCHITECTURE §7). Plain TLS reads it from OpenSSL's peer chain on a native
 * socket (probe-attempt.ts says why that is the served list); any failure other than a timeout
 * or a server alert, and every STARTTLS-family probe, goes through a recording stream between
 * the TCP socket and node:tls instead, which parses the message itself (tls-records.ts):
 * plaintext up to TLS 1.2, and under TLS 1.3 opened with the server handshake traffic secret
 * from the socket's 'keylog' event (tls13-decrypt.ts).
 *
 * The attempt itself is probe-attempt.ts; how its failures read is probe-problems.ts.
 *
 * The first attempt still caps the version at 1.2: it is one handshake for every server that
 * accepts 1.2, and against the scan benchmark's nginx a TLS 1.2 handshake with plaintext parsing
 * cost 15-20% less per endpoint than a TLS 1.3 one with decryption. A server that refuses 1.2
 * gets a second, TLS 1.3-only attempt whose flight is decrypted. Only when that fails does the
 * chain come from getPeerCertificate (orderKnown: false, with a note saying why).
 */
import type net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { EndpointProtocol, ProbeResult } from '../core/model.js';
import { attempt } from './probe-attempt.js';

export interface ProbeTarget {
  /** Name for SNI (omitted when it is an IP literal). */
  host: string;
  port: number;
  /** Dialled instead of `host` when set. */
  address?: string;
  /** The plaintext upgrade before the handshake (starttls.ts); default `tls`, none. */
  protocol?: EndpointProtocol;
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

/** The TLS 1.3 sibling of each createProbeContext() context, built on first use (see there). */
const tls13Siblings = new WeakMap<tls.SecureContext, () => tls.SecureContext>();

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
  // Built when the first TLS 1.3-only server needs the retry: with a few hundred anchors each
  // context costs ~20 ms of start-up, and most fleets never need this one (issue 12 §6).
  let tls13: tls.SecureContext | undefined;
  tls13Siblings.set(tls12, () => (tls13 ??= tls.createSecureContext({ ...common, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' })));
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
    const ctx13 = opts.secureContextTls13 ?? tls13Siblings.get(opts.secureContext)?.() ?? opts.secureContext;
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
