/**
 * The CAA preflight of an order (issue 17, RFC 8659), run before each issuer is asked: an issuer
 * that a name's CAA records do not allow is skipped, naming the record, and costs no CA request
 * beyond its directory (no order, no rate limit).
 *
 * Only a definite answer skips an issuer. A lookup that fails here (no resolver reachable, a
 * split-horizon name this machine cannot see, SERVFAIL) is inconclusive, as for the http-01 and
 * dns-01 preflights: it is logged and the CA decides, since the CA does its own CAA check anyway
 * and a flaky resolver here must not stop renewals everywhere.
 */
import { caaIdentitiesOf, caaPreflight, createCaaLookup, memoizeCaaLookup, type CaaLookup } from '../acme/caa.js';
import type { AcmeConfig } from '../config/types.js';
import type { CaaCheck } from './renew.js';

/** One check for a run: each name is asked once for every issuer and domain of the run. */
export function caaCheckFor(acme: AcmeConfig, log?: (domain: string, event: string) => void, dns?: CaaLookup): CaaCheck | undefined {
  if (!acme.preflight.enabled) return undefined;
  let lookup: CaaLookup | undefined = dns && memoizeCaaLookup(dns);
  return async (issuer, directory, names) => {
    lookup ??= memoizeCaaLookup(createCaaLookup({ timeoutMs: acme.preflight.timeoutMs, ...(acme.preflight.resolver !== undefined ? { resolver: acme.preflight.resolver } : {}) }));
    const identities = issuer.caaIdentities ?? caaIdentitiesOf(await directory());
    const result = await caaPreflight(names, identities, lookup);
    const domain = names[0] ?? '';
    for (const n of result.names) {
      if (n.outcome === 'lookup-failed') log?.(domain, `CAA preflight inconclusive, asking the CA anyway: ${n.message}`);
      else if (n.outcome === 'identities-unknown') log?.(domain, `CAA preflight: ${n.message}`);
    }
    const refused = result.names.filter((n) => !n.allowed && n.outcome !== 'lookup-failed');
    if (refused.length === 0) return { allowed: true };
    return { allowed: false, reason: `CAA: ${refused.map((n) => n.message).join('; ')}` };
  };
}
