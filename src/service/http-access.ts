/**
 * Who may read the daemon's HTTP endpoint: the bearer of `daemon.http.token`, and, on a loopback
 * listener, only requests addressed to a loopback name. Pure functions over header values, so the
 * rules are tested without a socket.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopbackHost } from '../config/schema-extras.js';
import { isIPv6 } from '../core/ip.js';
import { parseHostPort } from '../lib/host-port.js';

/** The challenge sent with every 401: both accepted schemes, one realm. */
export const WWW_AUTHENTICATE = 'Bearer, Basic realm="certs"';

/**
 * Whether an `Authorization` header carries `token`: `Bearer <token>`, or HTTP Basic with the
 * token as the password and any user name (Prometheus' `basic_auth`, a browser prompt, `curl -u
 * x:token`). Scheme names are case-insensitive (RFC 9110 §11.1).
 */
export function authorized(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^([A-Za-z]+) +(\S+) *$/.exec(header);
  if (!m) return false;
  const scheme = m[1]!.toLowerCase();
  let offered: string;
  if (scheme === 'bearer') offered = m[2]!;
  else if (scheme === 'basic') {
    const b64 = m[2]!;
    // Buffer.from ignores characters outside the alphabet; a credential that is not clean base64 is refused outright.
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
    const decoded = Buffer.from(b64, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return false;
    offered = decoded.slice(colon + 1);
  } else return false;
  return sameSecret(offered, token);
}

/**
 * Constant-time equality that also hides the token's length: both sides are hashed first, so
 * timingSafeEqual always compares 32 bytes and a wrong guess of any length costs the same.
 */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** The host part of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), or null when it is none of those. */
export function hostOf(header: string | undefined): string | null {
  // Taken as sent: white space, user info or a path make it none of those forms.
  if (header === undefined || /[\s/@]/.test(header)) return null;
  const r = parseHostPort(header);
  if (!r.ok || (r.bracketed && !isIPv6(r.host))) return null;
  return r.host;
}

/**
 * Whether a request may be served on a listener bound to `boundAddress`. On loopback the `Host`
 * must be a loopback name or address: a web page whose name an attacker re-points at 127.0.0.1
 * (DNS rebinding) still sends its own name, and is refused. A listener off loopback requires the
 * token instead (enforced at config load and start), and answers whatever name it is reached by.
 */
export function hostAllowed(boundAddress: string, hostHeader: string | undefined): boolean {
  if (!isLoopbackHost(boundAddress)) return true;
  const host = hostOf(hostHeader);
  return host !== null && isLoopbackHost(host);
}
