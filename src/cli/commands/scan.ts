import { type Domain, type EndpointReport } from '../../core/model.js';
import { nagiosExitCode, worstStatus, type Problem, type Status } from '../../core/problems.js';
import { nodeLine, nodeSilentLine, type NodeView } from '../../core/nodes.js';
import { adviceContextOf, problemFix } from '../../core/advice.js';
import { endpointLabel } from '../../core/notify-policy.js';
import { overallStatus, reportDocument } from '../../core/report.js';
import type { Config } from '../../config/types.js';
import { selectDomains } from '../../service/select.js';
import { clusterNodes, overallOf, statusJson, statusReports, statusTable, withLifecycle } from '../../service/status.js';
import type { AsyncStore } from '../../store/contract.js';
import { createProgress } from '../progress.js';
import { renderDetail, renderNagios, renderSummary, renderTable, statusTableText, storedTableFields, tableCells, tableFields } from '../render.js';
import { paint, useColour } from '../style.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import { compose, type Composition } from '../compose.js';
import { writeJsonDocument, writeJsonDocumentAfter } from '../json-out.js';
import { reportLifetime, thresholdsInForce, thresholdsJson, type ThresholdSettings, type ThresholdsJson } from '../../core/thresholds.js';

export interface ReportOptions {
  json?: boolean;
  nagios?: boolean;
}

/**
 * Scans now and stores every result, prints the reports with what renew and deploys recorded
 * laid over them, then notifies: one store, opened once, for all three.
 */
async function scanReportNotify(config: Config, domains: Domain[], detail: boolean, opts: ReportOptions, io: Io): Promise<number> {
  const c = compose(io.now);
  // Loaded here so that `status` without --refresh never loads the TLS scanner.
  const { loadScanDeps, scanAndRecord } = await import('../../service/scan-record.js');
  // Everything that can fail without the network fails before the database is created.
  const deps = await loadScanDeps(config, c.now);
  const store = await c.openStore(config);
  try {
    const progress = createProgress(io.stderr);
    const scanned = await scanAndRecord(config, store, domains, deps, {
      keepChain: detail,
      onProgress: (done, total, t) => progress.update(done, total, t.source === 'file' ? t.domain.name : `${t.host}:${t.port}`),
    });
    progress.finish();
    const reports = await withLifecycle(config, store, scanned);
    const code = output(config, reports.map(stripChainUnlessDetail(detail)), detail, opts, io);
    await notifyAfterScan(config, store, reports, c, io);
    return code;
  } finally {
    await store.close();
  }
}

/**
 * What `certs renew` and deploys recorded, laid over the scan reports: renewal-failing, and
 * stale-deployment (an endpoint serving an older certificate than the newest issued one).
 */
export async function withLifecycleProblems(config: Config, scanned: EndpointReport[]): Promise<EndpointReport[]> {
  const store = await compose().readStore(config);
  if (!store) return scanned;
  try {
    return await withLifecycle(config, store, scanned);
  } finally {
    await store.close();
  }
}

/** A scanner that records into an open store; for the verify step after a deploy (trust loaded once). */
export async function makeRescanner(config: Config, store: AsyncStore, io: Io): Promise<(domains: Domain[]) => Promise<EndpointReport[]>> {
  return compose(io.now).scanner(config, store);
}

/** Prints reports that already carry the lifecycle problems; returns the Nagios exit code. */
function output(config: Config, reports: EndpointReport[], detail: boolean, opts: ReportOptions, io: Io): number {
  const status = overallStatus(reports);
  if (opts.json) {
    // The detail view (names given) also says which expiry thresholds are in force and why.
    const shown = detail ? reports.map((r) => withThresholds(config, r)) : reports;
    writeJsonDocument(io.stdout, reportDocument(shown, io.now()), 'endpoints');
  } else if (opts.nagios) {
    io.stdout.write(`${renderNagios(status, reports, config.scan.warningDays, config.scan.criticalDays)}\n`);
  } else if (reports.length === 0) {
    io.stdout.write('No domains in the inventory: add one with `certs add <name>`.\n');
  } else {
    const colour = useColour(io.stdout);
    const body = detail
      ? reports.map((r) => renderDetail(r, colour, io.now(), thresholdSettings(config, r.domain), fixesFor(config, r))).join('\n\n')
      : renderTable(reports, colour);
    const summary = renderSummary(reportDocument(reports, io.now()).summary, colour);
    io.stdout.write(`${body}\n\n${summary}\n`);
  }
  return nagiosExitCode(status);
}

/** scan.warningDays/criticalDays and the domain's notification thresholds (none without notify). */
function thresholdSettings(config: Config, domain: string): ThresholdSettings {
  const own = config.domains.find((d) => d.name === domain)?.notify?.thresholds;
  return { warningDays: config.scan.warningDays, criticalDays: config.scan.criticalDays, notify: config.notify ? own ?? config.notify.thresholds : [] };
}

/** `thresholds` on an endpoint of the detail JSON, once it has a certificate. */
function withThresholds(config: Config, r: EndpointReport): EndpointReport & { thresholds?: ThresholdsJson } {
  if (!r.notAfter) return r;
  return { ...r, thresholds: thresholdsJson(thresholdsInForce(reportLifetime(r), thresholdSettings(config, r.domain))) };
}

export async function scanCommand(names: string[], opts: ReportOptions & GlobalOptions, io: Io): Promise<number> {
  const config = configFrom(opts);
  const domains = selectDomains(config.domains, names);
  return scanReportNotify(config, domains, names.length > 0, opts, io);
}

/**
 * Warnings go out after the scan has judged what clients see. A delivery problem never changes
 * the scan's exit code (a Nagios verdict): it is reported on stderr and stays in the outbox.
 */
async function notifyAfterScan(config: Config, store: AsyncStore, reports: EndpointReport[], c: Composition, io: Io): Promise<void> {
  if (!config.notify || (!config.notify.email && !config.notify.webhook && !config.notify.channels?.length)) return;
  const { notifyAfterRun } = await import('../../service/notify.js');
  try {
    const r = await notifyAfterRun(config, store, reports, { now: c.now(), random: c.random, channels: c.channels(config), log: (e) => io.stderr.write(`certs: notify: ${e}\n`) });
    if (r.queued > 0 || r.failed.length > 0) io.stderr.write(`certs: notify: ${r.events.length} new, ${r.delivered} delivered, ${r.pending} pending\n`);
  } catch (err) {
    io.stderr.write(`certs: notify: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

export async function statusCommand(names: string[], opts: ReportOptions & GlobalOptions & { refresh?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const domains = selectDomains(config.domains, names);
  const detail = names.length > 0;
  if (opts.refresh) return scanReportNotify(config, domains, detail, opts, io);
  if (opts.json && !detail) return await wholeInventoryJson(config, io);
  if (!opts.json && !opts.nagios && !detail) return await wholeInventoryTable(config, io);
  return output(config, (await storedReports(config, domains, detail)).map(stripChainUnlessDetail(detail)), detail, opts, io);
}

/** The fixes of a report's problems, worded for its domain as configured (managed or monitor-only). */
function fixesFor(config: Config, r: EndpointReport): ((p: Problem) => string) | undefined {
  const domain = config.domains.find((d) => d.name === r.domain);
  if (!domain) return undefined;
  const ctx = adviceContextOf(r, domain, endpointLabel(r));
  return (p) => problemFix(p, ctx);
}

/** `certs status --json` without names: the document written as the store serialised most of it. */
async function wholeInventoryJson(config: Config, io: Io): Promise<number> {
  const store = await compose().readStore(config);
  try {
    const { batches, summary } = statusJson(config, store);
    const nodes = await clusterNodes(store, io.now());
    await writeJsonDocumentAfter(io.stdout, batches, 'endpoints', () => ({ generatedAt: io.now().toISOString(), summary, ...(nodes.length > 0 ? { nodes } : {}), endpoints: [] }));
    return nagiosExitCode(withNodes(overallOf(summary), nodes));
  } finally {
    await store?.close();
  }
}

/** `certs status` without names: the table, from the fields the store wrote where it could. */
async function wholeInventoryTable(config: Config, io: Io): Promise<number> {
  const store = await compose().readStore(config);
  try {
    const { batches, summary } = statusTable(config, store);
    const nodes = await clusterNodes(store, io.now());
    const colour = useColour(io.stdout);
    const issuers = new Map<string | null, string>();
    const text = statusTableText();
    for await (const batch of batches) for (const e of batch) text.add(tableCells('fields' in e ? storedTableFields(e, issuers) : tableFields(e), colour));
    if (text.size === 0) io.stdout.write('No domains in the inventory: add one with `certs add <name>`.\n');
    else {
      for (const chunk of text.chunks()) io.stdout.write(chunk);
      io.stdout.write(`\n${renderSummary(summary, colour)}\n`);
    }
    if (nodes.length > 1 || nodes.some((n) => n.silent)) io.stdout.write(`${nodesText(nodes, colour)}\n`);
    return nagiosExitCode(withNodes(overallOf(summary), nodes));
  } finally {
    await store?.close();
  }
}

/** The last stored scan of each configured target; no network. Never-scanned targets are unknown. */
async function storedReports(config: Config, domains: Domain[], withChain: boolean): Promise<EndpointReport[]> {
  const store = await compose().readStore(config);
  try {
    return await statusReports(config, store, { domains, withChain });
  } finally {
    await store?.close();
  }
}

function stripChainUnlessDetail(keep: boolean): (r: EndpointReport) => EndpointReport {
  return (r) => {
    if (keep) return r;
    const { chain: _chain, ...rest } = r;
    return rest;
  };
}

/** A silent node is a warning: something that should be renewing or deploying has stopped. */
function withNodes(status: Status, nodes: readonly NodeView[]): Status {
  return nodes.some((n) => n.silent) ? worstStatus(status, 'warning') : status;
}

/** One line per node (a cluster, or a silent node): name, version, last seen, last run. */
function nodesText(nodes: readonly NodeView[], colour: boolean): string {
  const lines = [`nodes: ${nodes.map((n) => `${n.name}${n.silent ? ' (silent)' : ''}`).join(', ')}`];
  for (const n of nodes) lines.push(n.silent ? paint(colour, 'yellow', nodeSilentLine(n)) : `  ${nodeLine(n)}`);
  return lines.join('\n');
}
