import { type Domain, type EndpointReport } from '../../core/model.js';
import { nagiosExitCode } from '../../core/problems.js';
import { overallStatus, reportDocument } from '../../core/report.js';
import type { Config } from '../../config/types.js';
import { selectDomains } from '../../service/select.js';
import { statusReports, withLifecycle } from '../../service/status.js';
import { openStore, type Store } from '../../store/index.js';
import { createProgress } from '../progress.js';
import { renderDetail, renderNagios, renderSummary, renderTable } from '../render.js';
import { useColour } from '../style.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';

export interface ReportOptions {
  json?: boolean;
  nagios?: boolean;
}

/** Scans now, stores every result, returns the reports in inventory order. */
async function scanAndStore(config: Config, domains: Domain[], keepChain: boolean, io: Io): Promise<EndpointReport[]> {
  // Loaded here so that `status` without --refresh never loads the TLS scanner.
  const { loadScanDeps, scanAndRecord } = await import('../../service/scan-record.js');
  // Everything that can fail without the network fails before the database is created.
  const deps = await loadScanDeps(config, io.now);
  const store = openStore(config.dataDir);
  try {
    const progress = createProgress(io.stderr);
    const reports = await scanAndRecord(config, store, domains, deps, {
      keepChain,
      onProgress: (done, total, t) => progress.update(done, total, t.source === 'file' ? t.domain.name : `${t.host}:${t.port}`),
    });
    progress.finish();
    return reports;
  } finally {
    store.close();
  }
}

/**
 * What `certs renew` and deploys recorded, laid over the scan reports: renewal-failing, and
 * stale-deployment (an endpoint serving an older certificate than the newest issued one).
 */
export function withLifecycleProblems(config: Config, scanned: EndpointReport[]): EndpointReport[] {
  const store = openStore(config.dataDir, { readonly: true });
  if (!store) return scanned;
  try {
    return withLifecycle(config, store, scanned);
  } finally {
    store.close();
  }
}

/** A scanner that records into an open store; for the verify step after a deploy (trust loaded once). */
export async function makeRescanner(config: Config, store: Store, io: Io): Promise<(domains: Domain[]) => Promise<EndpointReport[]>> {
  const { loadScanDeps, recordingScanner } = await import('../../service/scan-record.js');
  return recordingScanner(config, store, await loadScanDeps(config, io.now));
}

function output(config: Config, scanned: EndpointReport[], detail: boolean, opts: ReportOptions, io: Io): number {
  const reports = withLifecycleProblems(config, scanned);
  const status = overallStatus(reports);
  if (opts.json) {
    io.stdout.write(`${JSON.stringify(reportDocument(reports, io.now()), null, 2)}\n`);
  } else if (opts.nagios) {
    io.stdout.write(`${renderNagios(status, reports, config.scan.warningDays, config.scan.criticalDays)}\n`);
  } else if (reports.length === 0) {
    io.stdout.write('No domains in the inventory: add one with `certs add <name>`.\n');
  } else {
    const colour = useColour(io.stdout);
    const body = detail
      ? reports.map((r) => renderDetail(r, colour, io.now())).join('\n\n')
      : renderTable(reports, colour);
    const summary = renderSummary(reportDocument(reports, io.now()).summary, colour);
    io.stdout.write(`${body}\n\n${summary}\n`);
  }
  return nagiosExitCode(status);
}

export async function scanCommand(names: string[], opts: ReportOptions & GlobalOptions, io: Io): Promise<number> {
  const config = configFrom(opts);
  const domains = selectDomains(config.domains, names);
  const detail = names.length > 0;
  const reports = await scanAndStore(config, domains, detail, io);
  const code = output(config, reports, detail, opts, io);
  await notifyAfterScan(config, reports, io);
  return code;
}

/**
 * Warnings go out after the scan has judged what clients see. A delivery problem never changes
 * the scan's exit code (a Nagios verdict): it is reported on stderr and stays in the outbox.
 */
async function notifyAfterScan(config: Config, reports: EndpointReport[], io: Io): Promise<void> {
  if (!config.notify || (!config.notify.email && !config.notify.webhook)) return;
  const { notifyAfterRun } = await import('../../service/notify.js');
  const store = openStore(config.dataDir);
  try {
    const r = await notifyAfterRun(config, store, withLifecycleProblems(config, reports), { now: io.now(), random: Math.random, log: (e) => io.stderr.write(`certs: notify: ${e}\n`) });
    if (r.queued > 0 || r.failed.length > 0) io.stderr.write(`certs: notify: ${r.events.length} new, ${r.delivered} delivered, ${r.pending} pending\n`);
  } catch (err) {
    io.stderr.write(`certs: notify: ${err instanceof Error ? err.message : String(err)}\n`);
  } finally {
    store.close();
  }
}

export async function statusCommand(names: string[], opts: ReportOptions & GlobalOptions & { refresh?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const domains = selectDomains(config.domains, names);
  const detail = names.length > 0;
  let reports: EndpointReport[];
  if (opts.refresh) {
    reports = await scanAndStore(config, domains, detail, io);
    const code = output(config, reports.map(stripChainUnlessDetail(detail)), detail, opts, io);
    await notifyAfterScan(config, reports, io);
    return code;
  } else {
    reports = storedReports(config, domains, detail);
  }
  return output(config, reports.map(stripChainUnlessDetail(detail)), detail, opts, io);
}

/** The last stored scan of each configured target; no network. Never-scanned targets are unknown. */
function storedReports(config: Config, domains: Domain[], withChain: boolean): EndpointReport[] {
  const store = openStore(config.dataDir, { readonly: true });
  try {
    // The lifecycle problems are laid over again by output(); doing it twice changes nothing.
    return statusReports(config, store, { domains, withChain });
  } finally {
    store?.close();
  }
}

function stripChainUnlessDetail(keep: boolean): (r: EndpointReport) => EndpointReport {
  return (r) => {
    if (keep) return r;
    const { chain: _chain, ...rest } = r;
    return rest;
  };
}
