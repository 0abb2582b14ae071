/**
 * Every address of a name (issue 12 §1), the pure half: which targets are resolved, how a
 * resolved name becomes one target per address, and which stored rows `status` shows for a
 * configured endpoint. The resolving itself (node:dns) is src/scan/resolve.ts.
 *
 * An expanded target is exactly an endpoint with `address` set: the name stays the SNI and the
 * hostname checked, the address is dialled, and the store keys it by (domain, host, port,
 * address, source) like any configured address. Endpoints that name an `address` are left alone.
 */
import type { EndpointReport } from './model.js';
import { isIpLiteral } from './names.js';
import type { ScanTarget } from './report.js';

/** `all`: every A and AAAA address, one row each (default); `first`: one connection, the OS picks. */
export type AddressMode = 'all' | 'first';
export const ADDRESS_MODES: readonly AddressMode[] = ['all', 'first'];

/** What resolving one name gave: its addresses (IPv4 first, then IPv6, each once), or why none. */
export type Resolution = { ok: true; addresses: string[] } | { ok: false; message: string };

/** A target that needs its name resolved before it can be scanned at every address. */
export function needsResolution(t: Pick<ScanTarget, 'source' | 'host' | 'address'>): boolean {
  return t.source === 'tls' && !t.address && !isIpLiteral(t.host);
}

/** The names to resolve, each once, in first-seen order. */
export function namesToResolve(targets: readonly ScanTarget[]): string[] {
  const seen = new Set<string>();
  for (const t of targets) if (needsResolution(t)) seen.add(t.host.toLowerCase());
  return [...seen];
}

/** One planned scan: a target to probe, or one whose name resolved to nothing (`unresolved`: the resolver's answer). */
export interface PlannedTarget {
  target: ScanTarget;
  unresolved?: string;
}

/**
 * Each target whose name resolved becomes one target per address, in the resolver's order;
 * a name that resolved to nothing stays one target (no address) carrying the resolver's answer.
 * Targets with an address, IP hosts and certificate files pass through unchanged.
 */
export function expandTargets(targets: readonly ScanTarget[], resolved: ReadonlyMap<string, Resolution>): PlannedTarget[] {
  const out: PlannedTarget[] = [];
  // An address the config also names for the same endpoint is scanned once, as configured.
  const explicit = new Set(targets.filter((t) => t.source === 'tls' && t.address).map((t) => explicitKey(t, t.address!)));
  for (const target of targets) {
    const r = needsResolution(target) ? resolved.get(target.host.toLowerCase()) : undefined;
    if (!r) {
      out.push({ target });
    } else if (!r.ok) {
      out.push({ target, unresolved: r.message });
    } else if (r.addresses.length === 0) {
      out.push({ target, unresolved: 'the name has no A or AAAA records' });
    } else {
      for (const address of r.addresses) if (!explicit.has(explicitKey(target, address))) out.push({ target: { ...target, address } });
    }
  }
  return out;
}

const explicitKey = (t: Pick<ScanTarget, 'domain' | 'host' | 'port'>, address: string): string => `${t.domain.name}|${t.host.toLowerCase()}|${t.port}|${address}`;

/** The addresses the config names for each endpoint (domain, host, port), to leave out of a name's expansion in `status`. */
export function configuredAddresses(targets: readonly ScanTarget[]): Set<string> {
  return new Set(targets.filter((t) => t.source === 'tls' && t.address).map((t) => explicitKey(t, t.address!)));
}

/**
 * How long an address row stays in `status` after the name's newest scan when it was not scanned
 * again: an address that left DNS drops out an hour after the next scan (its history stays).
 * Addresses of one name are scanned side by side in one run, seconds apart at most.
 */
export const GONE_ADDRESS_MS = 60 * 60 * 1000;

const at = (r: EndpointReport): number => (r.scannedAt ? Date.parse(r.scannedAt) : -Infinity);

/**
 * The stored rows `status` shows for one configured target, given every stored row of its
 * (domain, host, port, source) — whatever their address:
 * - a target with an address, an IP host, a file, or mode `first`: the row of exactly that key;
 * - otherwise (a name, mode `all`): its address rows, in address order, unless the address-less
 *   row (the name resolved to nothing, or was scanned under `first`) is the newest: then that one.
 *   Address rows older than that row, or older than the newest row by more than GONE_ADDRESS_MS,
 *   are addresses the name no longer has.
 * Empty: nothing stored (the caller shows `unknown`).
 */
export function storedRowsFor(target: Pick<ScanTarget, 'source' | 'host' | 'address'> & Partial<Pick<ScanTarget, 'domain' | 'port'>>, rows: readonly EndpointReport[], mode: AddressMode, configured: ReadonlySet<string> = new Set()): EndpointReport[] {
  const exact = rows.filter((r) => (r.address ?? '') === (target.address ?? ''));
  if (mode === 'first' || !needsResolution(target)) return exact.slice(0, 1);
  const plain = exact[0];
  const own = (r: EndpointReport): boolean => !(target.domain && target.port !== undefined && configured.has(explicitKey({ domain: target.domain, host: target.host, port: target.port }, r.address!)));
  const withAddress = rows.filter((r) => r.address && own(r));
  const newest = Math.max(...rows.map(at));
  if (plain && at(plain) >= newest) return [plain];
  const current = (r: EndpointReport): boolean => at(r) >= newest - GONE_ADDRESS_MS && (!plain || at(r) > at(plain));
  return withAddress.filter(current).sort((a, b) => compareAddresses(a.address!, b.address!));
}

/** IPv4 before IPv6, then numerically (127.0.0.10 after 127.0.0.9). */
export function compareAddresses(a: string, b: string): number {
  const v6a = a.includes(':');
  const v6b = b.includes(':');
  if (v6a !== v6b) return v6a ? 1 : -1;
  if (!v6a) {
    const pa = a.split('.').map(Number);
    const pb = b.split('.').map(Number);
    for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * After a deploy: each endpoint row (every address of a name) that does not serve `fingerprint`,
 * named with its address — "a.test:443 @192.0.2.11 still serves 4F:…(expires 2027-01-10)".
 */
export function notServedDetail(reports: readonly EndpointReport[], fingerprint: string): string[] {
  return reports
    .filter((r) => r.source === 'tls' && r.fingerprint256 !== fingerprint)
    .map((r) => `${r.host}:${r.port}${r.address ? ` @${r.address}` : ''} still serves ${r.fingerprint256 ? r.fingerprint256.slice(0, 17) : 'nothing'} (${r.error ?? (r.notAfter ? `expires ${r.notAfter.slice(0, 10)}` : r.problems[0]?.message ?? r.status)})`);
}
