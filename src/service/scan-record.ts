/**
 * Scan and record: the one way a scan reaches the store, for `certs scan`, `status --refresh`,
 * the run cycle and the verify step after a deploy. It checks the write lock before the first
 * probe (a database another process holds is reported now, not after a long scan is thrown
 * away) and stores results in batches as they arrive (memory stays flat on large inventories).
 */
import type { Domain, EndpointReport } from '../core/model.js';
import type { ScanTarget } from '../core/report.js';
import type { Config } from '../config/types.js';
import type { RecordItem } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import { scanDomains, type ScanDeps } from './scan-inventory.js';

/** Results stored per transaction. */
export const STORE_BATCH = 500;

export interface ScanRecordOptions {
  /** Keep each certificate's details in the returned reports (default false). */
  keepChain?: boolean;
  onProgress?: (done: number, total: number, target: ScanTarget) => void;
}

/** Scans `domains` and stores every result in `store`; the reports in inventory order. */
export async function scanAndRecord(config: Config, store: AsyncStore, domains: readonly Domain[], deps: ScanDeps, opts: ScanRecordOptions = {}): Promise<EndpointReport[]> {
  await store.assertWritable();
  let pending: RecordItem[] = [];
  // Batches are written one after another while the scan goes on; after a failed write no later
  // batch is written, and the failure is thrown when the scan is done.
  let writing: Promise<unknown> = Promise.resolve();
  const flush = (): void => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    writing = writing.then(() => store.scans.recordMany(batch));
    writing.catch(() => undefined);
  };
  const reports = await scanDomains(config, domains, deps, {
    ...(opts.keepChain ? { keepChain: true } : {}),
    onOutcome: (o) => {
      pending.push({ report: o.report, chainDer: o.chain, ...(o.path ? { extra: { path: o.path } } : {}) });
      if (pending.length >= STORE_BATCH) flush();
    },
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  flush();
  await writing;
  return reports;
}

/**
 * Loads the trust anchors once (the slow part: the system bundle) and returns the scanner deps.
 * Imported lazily so that commands that never scan never load the TLS scanner.
 */
export async function loadScanDeps(config: Config, now: () => Date): Promise<ScanDeps> {
  const { loadTrust } = await import('../scan/trust.js');
  const trust = loadTrust({ ...config.trust });
  const deps: ScanDeps = { anchors: trust.anchors, secureContext: trust.secureContext, now };
  if ((config.scan.addresses ?? 'all') === 'all') {
    const { resolveRun } = await import('../scan/resolve.js');
    const opts = { timeoutMs: config.scan.timeoutMs, ...(config.scan.resolver ? { resolver: config.scan.resolver } : {}) };
    deps.resolveRun = () => resolveRun(opts);
  }
  if (config.scan.revocation) {
    const { RevocationChecker } = await import('../scan/revocation.js');
    deps.revocation = new RevocationChecker({ allowPrivateAddresses: config.fetch.allowPrivateAddresses });
  }
  return deps;
}

export type Rescanner = (domains: readonly Domain[]) => Promise<EndpointReport[]>;

/** A scanner bound to one open store and loaded trust: the run cycle's and the deploy verify's. */
export function recordingScanner(config: Config, store: AsyncStore, deps: ScanDeps): Rescanner {
  return (domains) => scanAndRecord(config, store, domains, deps);
}

/**
 * A scanner that records nothing and returns what to record: a sharded cycle's batches are
 * recorded by ScanBatchStore.complete, with the claim's token, in one transaction (issue 16).
 */
export function collectingScanner(config: Config, deps: ScanDeps): (domains: readonly Domain[]) => Promise<RecordItem[]> {
  return async (domains) => {
    const items: RecordItem[] = [];
    await scanDomains(config, domains, deps, {
      onOutcome: (o) => items.push({ report: o.report, chainDer: o.chain, ...(o.path ? { extra: { path: o.path } } : {}) }),
    });
    return items;
  };
}
