/**
 * The one `host:port` parser: config servers and resolvers (config/schema-common.ts), dns-01
 * propagation servers (acme/dns/propagation.ts) and `-e host[:port][@address]` on the command line
 * (parseEndpointSpec below). Pure. parseHostPort only splits and checks the port; whether the host
 * is a valid name or address is the caller's normalizeHost, so each caller keeps its own labels,
 * defaults and error kind.
 */
import { ValidationError } from '../core/errors.js';
import type { Endpoint, EndpointProtocol } from '../core/model.js';
import { normalizeHost } from '../core/names.js';

/** empty: nothing given; syntax: brackets, colons or a missing host; port: not an integer from 1 to 65535. */
export type HostPortProblem = 'empty' | 'syntax' | 'port';

export type HostPortResult =
  | {
      ok: true;
      /** Without brackets. */
      host: string;
      /** Absent when the spec has none: the caller's default applies. */
      port: number | undefined;
      /** Written as `[…]`: hand `[host]` to normalizeHost, which then insists on an IPv6 address. */
      bracketed: boolean;
    }
  | { ok: false; problem: HostPortProblem; why: string };

export interface HostPortOptions {
  /**
   * Take a spec with more than one colon and no brackets as a bare IPv6 address without a port
   * ("2001:db8::1"), as DNS server lists usually are written: the whole spec is the host, and the
   * caller's host check says whether it is a valid address. Off: more than one colon asks for
   * brackets.
   */
  bareIPv6?: boolean;
}

const MISSING_HOST = 'the host is missing';

/** Splits "host", "host:port", "[v6]" or "[v6]:port" (surrounding white space ignored). */
export function parseHostPort(spec: string, opts: HostPortOptions = {}): HostPortResult {
  const s = spec.trim();
  if (s === '') return { ok: false, problem: 'empty', why: 'empty' };
  let host: string;
  let portText: string | undefined;
  const bracketed = s.startsWith('[');
  if (bracketed) {
    const close = s.indexOf(']');
    if (close < 0) return { ok: false, problem: 'syntax', why: 'missing "]" after the IPv6 address' };
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return { ok: false, problem: 'syntax', why: `unexpected ${JSON.stringify(rest)} after "]"` };
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = s.indexOf(':');
    if (colon >= 0 && s.indexOf(':', colon + 1) >= 0) {
      if (opts.bareIPv6) return { ok: true, host: s, port: undefined, bracketed: false };
      return { ok: false, problem: 'syntax', why: 'IPv6 addresses need brackets, like "[2001:db8::1]:443"' };
    }
    host = colon < 0 ? s : s.slice(0, colon);
    portText = colon < 0 ? undefined : s.slice(colon + 1);
  }
  if (host === '') return { ok: false, problem: 'syntax', why: MISSING_HOST };
  if (portText === undefined) return { ok: true, host, port: undefined, bracketed };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return { ok: false, problem: 'port', why: `port ${JSON.stringify(portText)}: expected an integer from 1 to 65535` };
  return { ok: true, host, port, bracketed };
}

/** "host:port", with brackets around an IPv6 address. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const ENDPOINT_USAGE = 'expected [scheme://]host[:port][@address], like "example.com:443", "example.com:443@[2001:db8::1]" or "smtp://mail.example.com:587"';

/**
 * `scheme://` prefixes of `certs add -e`: the endpoint protocol each selects and its default port.
 * `smtps`, `imaps`, `pop3s` and `ldaps` are implicit TLS (protocol tls) on their own ports;
 * `submission` is SMTP with STARTTLS on 587.
 */
export const ENDPOINT_SCHEMES: Readonly<Record<string, { protocol: EndpointProtocol; port: number }>> = {
  https: { protocol: 'tls', port: 443 },
  tls: { protocol: 'tls', port: 443 },
  smtp: { protocol: 'smtp', port: 25 },
  submission: { protocol: 'smtp', port: 587 },
  smtps: { protocol: 'tls', port: 465 },
  imap: { protocol: 'imap', port: 143 },
  imaps: { protocol: 'tls', port: 993 },
  pop3: { protocol: 'pop3', port: 110 },
  pop3s: { protocol: 'tls', port: 995 },
  ftp: { protocol: 'ftp', port: 21 },
  ldap: { protocol: 'ldap', port: 389 },
  ldaps: { protocol: 'tls', port: 636 },
  postgres: { protocol: 'postgres', port: 5432 },
  postgresql: { protocol: 'postgres', port: 5432 },
  xmpp: { protocol: 'xmpp', port: 5222 },
};

/**
 * Parse `[scheme://]host[:port][@address]` as typed on the command line. IPv6 hosts need brackets
 * (`[::1]:8443`); the address after `@` may be bare or bracketed. The scheme (ENDPOINT_SCHEMES)
 * sets the protocol and the default port; without one the port defaults to 443 and the protocol
 * stays unset (tls). Throws ValidationError naming the spec.
 */
export function parseEndpointSpec(spec: string): Endpoint {
  const where = `endpoint ${JSON.stringify(spec)}`;
  const fail = (why: string): never => {
    throw new ValidationError(`${where}: ${why}`);
  };
  if (typeof spec !== 'string' || spec.trim() === '') fail(`empty; ${ENDPOINT_USAGE}`);
  let s = spec.trim();
  let scheme: (typeof ENDPOINT_SCHEMES)[string] | undefined;
  const sep = s.indexOf('://');
  if (sep >= 0) {
    const name = s.slice(0, sep).toLowerCase();
    scheme = Object.hasOwn(ENDPOINT_SCHEMES, name) ? ENDPOINT_SCHEMES[name] : undefined;
    if (!scheme) fail(`unknown scheme ${JSON.stringify(s.slice(0, sep))}; expected one of ${Object.keys(ENDPOINT_SCHEMES).join(', ')}`);
    s = s.slice(sep + 3);
    // A trailing "/" (as URLs are often written) means nothing here; a path does.
    if (s.endsWith('/')) s = s.slice(0, -1);
    if (s.includes('/')) fail(`a path is not part of an endpoint; ${ENDPOINT_USAGE}`);
  }
  const at = s.indexOf('@');
  if (at !== s.lastIndexOf('@')) fail(`more than one "@"; ${ENDPOINT_USAGE}`);
  const hp = parseHostPort(at < 0 ? s : s.slice(0, at));
  if (!hp.ok) return fail(hp.problem === 'port' ? hp.why : `${hp.why}; ${ENDPOINT_USAGE}`);
  const endpoint: Endpoint = { host: normalizeHost(hp.bracketed ? `[${hp.host}]` : hp.host), port: hp.port ?? scheme?.port ?? 443 };
  if (scheme && scheme.protocol !== 'tls') endpoint.protocol = scheme.protocol;
  if (at >= 0) {
    const addressText = s.slice(at + 1);
    if (addressText === '') fail(`nothing after "@"; ${ENDPOINT_USAGE}`);
    endpoint.address = normalizeHost(addressText, { label: 'address' });
  }
  return endpoint;
}
