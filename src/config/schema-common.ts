/** Small checks shared by the section schemas. */
import { normalizeHost } from '../core/names.js';
import type { Checker, KeyPath } from './kit.js';

export const at = (path: KeyPath, key: string | number): KeyPath => [...path, key];

export function port(c: Checker, v: unknown, path: KeyPath, fallback: number): number {
  return c.optional(v, path, (x, p) => c.integer(x, p, 1, 65535)) ?? fallback;
}

export function host(c: Checker, v: unknown, path: KeyPath): string {
  return c.via(v, path, 'a host name or IP address', (s) => normalizeHost(s, { label: 'host' }));
}

/** "host", "host:port" or "[v6]:port", normalised to host:port with the default port filled in. */
export function hostPort(c: Checker, v: unknown, path: KeyPath, defaultPort: number): string {
  const s = c.string(v, path, `a server as "host" or "host:port"`).trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s) ?? (s.includes(':') ? [s, s, undefined] : null);
  if (!m) return c.expected(path, v, 'a server as "host" or "host:port"');
  const h = c.via(m[1], path, 'a host name or IP address', (x) => normalizeHost(x, { label: 'server' }));
  const p = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(p) || p < 1 || p > 65535) return c.expected(path, v, 'a port from 1 to 65535 after the colon');
  return h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`;
}

/** A secret string: checked for presence only, and never shown in messages even when written inline. */
export function secret(c: Checker, v: unknown, path: KeyPath): string {
  if (typeof v !== 'string' || v === '') return c.fail(path, `expected a non-empty string (a secret; consider "\${env:NAME}" or "\${file:PATH}")`);
  return v;
}
