/**
 * The document of `certs status --json`, built from the config and the store alone (no network),
 * for `certs status`, the daemon's `/status` and whoever else needs it, reading one store.
 */
import type { Config } from '../config/types.js';
import type { Domain, EndpointReport } from '../core/model.js';
import { endpointKey, reportDocument, targetsOf, unknownReport, type ReportDocument } from '../core/report.js';
import { withRenewalFailures, withStaleDeployments, type IssuedSummary, type RenewalFailure } from '../core/renewal-status.js';
import { withDeployFailures } from '../core/deploy-status.js';
import type { Store } from '../store/index.js';
import { configuredAddresses, storedRowsFor } from '../core/addresses.js';

export interface StatusReportOptions {
  /** Only these domains (default: every configured one). */
  domains?: readonly Domain[];
  /** Keep each report's certificate chain (default false, as `certs status` without names). */
  withChain?: boolean;
}

/**
 * The last stored scan of each configured target with renewal-failing and stale-deployment laid
 * over it, in inventory order. `store` null (nothing stored yet): every target is unknown.
 */
export function statusReports(config: Config, store: Store | null, opts: StatusReportOptions = {}): EndpointReport[] {
  const domains = opts.domains ?? config.domains;
  const withChain = opts.withChain ?? false;
  const targets = targetsOf(domains);
  if (!store) return targets.map(unknownReport);
  const filter = domains.length === config.domains.length ? undefined : { domains: domains.map((d) => d.name) };
  // Stored rows by endpoint without its address: a configured name (scan.addresses all) shows
  // every address row it was scanned at (core/addresses.ts storedRowsFor), a fixed address its own.
  const byEndpoint = new Map<string, EndpointReport[]>();
  for (const r of store.scans.latest({ ...filter, withChain })) {
    const key = endpointKey({ ...r, address: undefined });
    const group = byEndpoint.get(key);
    if (group) group.push(r);
    else byEndpoint.set(key, [r]);
  }
  const mode = config.scan.addresses ?? 'all';
  const configured = configuredAddresses(targets);
  const scanned = targets.flatMap((t) => {
    const rows = storedRowsFor(t, byEndpoint.get(endpointKey({ ...t, domain: t.domain.name, address: undefined })) ?? [], mode, configured);
    return rows.length > 0 ? rows : [unknownReport(t)];
  });
  const reports = withLifecycle(config, store, scanned);
  return withChain ? reports : reports.map(stripChain);
}

/** `certs status --json` as one object: `{generatedAt, summary, endpoints}` (ARCHITECTURE §3). */
export function statusDocument(config: Config, store: Store | null, now: Date, opts: StatusReportOptions = {}): ReportDocument {
  return reportDocument(statusReports(config, store, opts), now);
}

/** Consecutive renewal failures per lineage, as the store has them. */
export function renewalFailures(store: Store): Map<string, RenewalFailure> {
  const failing = new Map<string, RenewalFailure>();
  for (const [lineage, s] of store.renewals.all()) {
    if (s.failures > 0 && s.lastError) failing.set(lineage, { failures: s.failures, lastError: s.lastError, lastAttemptAt: s.lastAttemptAt, nextAttemptAt: s.nextAttemptAt });
  }
  return failing;
}

/** renewal-failing, stale-deployment and deploy-failed laid over scan reports, from what the store recorded. */
export function withLifecycle(config: Config, store: Store, scanned: EndpointReport[]): EndpointReport[] {
  const managed = new Set(config.domains.filter((d) => d.managed).map((d) => d.name));
  const latest = new Map<string, IssuedSummary>();
  for (const [lineage, c] of store.issued.latestAll()) if (managed.has(lineage) && !c.revokedAt) latest.set(lineage, { version: c.version, fingerprint256: c.fingerprint256, notAfter: c.notAfter });
  // Critical near expiry, in the window scaled to each certificate's lifetime (issue 12 §4).
  const window = { warningDays: config.scan.warningDays, criticalDays: config.scan.criticalDays };
  const stale = withStaleDeployments(withRenewalFailures(scanned, renewalFailures(store), window), latest, window);
  return withDeployFailures(stale, store.deployments.failures(), window);
}

function stripChain(r: EndpointReport): EndpointReport {
  const { chain: _chain, ...rest } = r;
  return rest;
}
