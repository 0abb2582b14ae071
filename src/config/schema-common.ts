/** Small checks shared by the section schemas. */
import { normalizeHost } from '../core/names.js';
import { formatHostPort, parseHostPort } from '../lib/host-port.js';
import type { Checker, KeyPath } from './kit.js';

export const at = (path: KeyPath, key: string | number): KeyPath => [...path, key];

export function port(c: Checker, v: unknown, path: KeyPath, fallback: number): number {
  return c.optional(v, path, (x, p) => c.integer(x, p, 1, 65535)) ?? fallback;
}

export function host(c: Checker, v: unknown, path: KeyPath): string {
  return c.via(v, path, 'a host name or IP address', (s) => normalizeHost(s, { label: 'host' }));
}

/**
 * "host", "host:port", "[v6]:port" or a bare IPv6 address (lib/host-port.ts), normalised to
 * host:port with the default port filled in.
 */
export function hostPort(c: Checker, v: unknown, path: KeyPath, defaultPort: number): string {
  const what = 'a server as "host" or "host:port"';
  const r = parseHostPort(c.string(v, path, what), { bareIPv6: true });
  if (!r.ok) return c.expected(path, v, r.problem === 'port' ? 'a port from 1 to 65535 after the colon' : `${what} (${r.why})`);
  const h = c.via(r.bracketed ? `[${r.host}]` : r.host, path, 'a host name or IP address', (x) => normalizeHost(x, { label: 'server' }));
  return formatHostPort(h, r.port ?? defaultPort);
}

/** A secret string: checked for presence only, and never shown in messages even when written inline. */
export function secret(c: Checker, v: unknown, path: KeyPath): string {
  if (typeof v !== 'string' || v === '') return c.fail(path, `expected a non-empty string (a secret; consider "\${env:NAME}" or "\${file:PATH}")`);
  return v;
}
