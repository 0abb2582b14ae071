import type { Domain } from '../core/model.js';
import { UsageError } from '../core/errors.js';
import { isIpLiteral, normalizeDomainName, normalizeHost } from '../core/names.js';
import { nearest } from '../core/nearest.js';

/** The domains named on the command line (by primary or alt name), or all when none is named. */
export function selectDomains(domains: readonly Domain[], names: readonly string[]): Domain[] {
  if (names.length === 0) return [...domains];
  const byName = new Map<string, Domain>();
  for (const d of domains) for (const n of [d.name, ...d.altNames]) if (!byName.has(n)) byName.set(n, d);
  const picked = new Set<Domain>();
  for (const raw of names) {
    // Normalised as the config normalises names (schema-domains certName): IP names (RFC 8738)
    // and single-label monitor-only names must be selectable too.
    const name = isIpLiteral(raw.trim()) ? normalizeHost(raw, { label: 'domain' }) : normalizeDomainName(raw, { allowWildcard: true, minLabels: 1 });
    const domain = byName.get(name);
    if (!domain) {
      const guess = nearest(name, [...byName.keys()]);
      throw new UsageError(`domain "${raw}" is not in the inventory${guess ? `; did you mean "${guess}"?` : ''}`, {
        hint: 'List the inventory with `certs list`, add a domain with `certs add <name>`.',
      });
    }
    picked.add(domain);
  }
  return domains.filter((d) => picked.has(d));
}
