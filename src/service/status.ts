/**
 * The document of `certs status --json`, built from the config and the store alone (no network),
 * for `certs status`, the daemon's `/status` and whoever else needs it, reading one store.
 */
import { nodeViews, type NodeView } from '../core/nodes.js';
import type { AsyncStore } from '../store/contract.js';
import type { Config } from '../config/types.js';
import type { Domain, EndpointReport } from '../core/model.js';
import { endpointKey, RenderedReport, reportDocument, targetsOf, unknownReport, type ReportDocument, type ReportSummary, type ScanTarget } from '../core/report.js';
import { withRenewalFailures, withStaleDeployments, type IssuedSummary, type RenewalFailure } from '../core/renewal-status.js';
import { withDeployFailures, type DeployFailure } from '../core/deploy-status.js';
import { worstStatus, type Status } from '../core/problems.js';
import type { CriticalSetting } from '../core/thresholds.js';
import type { StoreReader } from '../store/contract.js';
import { parseStatusRows, type StatusForm, type StatusRow } from '../store/scans.js';
import { configuredAddresses, needsResolution, storedRowsFor, type AddressMode } from '../core/addresses.js';

export interface StatusReportOptions {
  /** Only these domains (default: every configured one). */
  domains?: readonly Domain[];
  /** Keep each report's certificate chain (default false, as `certs status` without names). */
  withChain?: boolean;
  /** Lay renewal-failing, stale-deployment and deploy-failed over the reports (default true). */
  lifecycle?: boolean;
}

/**
 * The last stored scan of each configured target with renewal-failing and stale-deployment laid
 * over it, in inventory order. `store` null (nothing stored yet): every target is unknown.
 */
export async function statusReports(config: Config, store: StoreReader | null, opts: StatusReportOptions = {}): Promise<EndpointReport[]> {
  const domains = opts.domains ?? config.domains;
  const withChain = opts.withChain ?? false;
  const targets = targetsOf(domains);
  if (!store) return targets.map(unknownReport);
  const filter = domains.length === config.domains.length ? undefined : { domains: domains.map((d) => d.name) };
  // Stored rows by endpoint without its address: a configured name (scan.addresses all) shows
  // every address row it was scanned at (core/addresses.ts storedRowsFor), a fixed address its own.
  const byEndpoint = new Map<string, EndpointReport[]>();
  for (const r of await store.scans.latest({ ...filter, withChain })) {
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
  const reports = opts.lifecycle === false ? scanned : await withLifecycle(config, store, scanned);
  return withChain ? reports : reports.map(stripChain);
}

/** `certs status --json` as one object: `{generatedAt, summary, endpoints}` (ARCHITECTURE §3). */
export async function statusDocument(config: Config, store: StoreReader | null, now: Date, opts: StatusReportOptions = {}): Promise<ReportDocument> {
  return reportDocument(await statusReports(config, store, opts), now);
}

/** Consecutive renewal failures per lineage, as the store has them. */
export async function renewalFailures(store: StoreReader): Promise<Map<string, RenewalFailure>> {
  const failing = new Map<string, RenewalFailure>();
  for (const [lineage, s] of await store.renewals.all()) {
    if (s.failures > 0 && s.lastError) failing.set(lineage, { failures: s.failures, lastError: s.lastError, lastAttemptAt: s.lastAttemptAt, nextAttemptAt: s.nextAttemptAt });
  }
  return failing;
}

/**
 * The nodes whose deployment of a domain is behind its newest version, or was not seen served
 * after the reload; only for domains that more than one node deploys (one machine needs no name).
 */
export function laggingNodes(rows: ReadonlyArray<{ lineage: string; node: string; version?: number | null; staleSince: string | null }>, latest: ReadonlyMap<string, { version: number }>): Map<string, string[]> {
  const byLineage = new Map<string, Array<{ node: string; version?: number | null; staleSince: string | null }>>();
  for (const r of rows) byLineage.set(r.lineage, [...(byLineage.get(r.lineage) ?? []), r]);
  const out = new Map<string, string[]>();
  for (const [lineage, deps] of byLineage) {
    const l = latest.get(lineage);
    if (!l || new Set(deps.map((d) => d.node)).size < 2) continue;
    const behind = deps.filter((d) => d.staleSince !== null || (d.version !== null && d.version !== undefined && d.version !== l.version)).map((d) => d.node);
    if (behind.length > 0) out.set(lineage, [...new Set(behind)]);
  }
  return out;
}

/** What the store recorded about renewals and deploys, to lay over scan reports. */
interface Lifecycle {
  failing: Map<string, RenewalFailure>;
  latest: Map<string, IssuedSummary>;
  deployFailures: ReadonlyMap<string, DeployFailure>;
  window: CriticalSetting;
  /** Per domain, the nodes whose deployment lags the newest version (only when several nodes deploy it). */
  lagging: Map<string, string[]>;
}

async function lifecycleOf(config: Config, store: StoreReader): Promise<Lifecycle> {
  const managed = new Set(config.domains.filter((d) => d.managed).map((d) => d.name));
  const latest = new Map<string, IssuedSummary>();
  for (const [lineage, c] of await store.issued.latestAll()) if (managed.has(lineage) && !c.revokedAt) latest.set(lineage, { version: c.version, fingerprint256: c.fingerprint256, notAfter: c.notAfter });
  // Critical near expiry, in the window scaled to each certificate's lifetime (issue 12 §4).
  const window = { warningDays: config.scan.warningDays, criticalDays: config.scan.criticalDays };
  return { failing: await renewalFailures(store), latest, deployFailures: await store.deployments.failures(), window, lagging: laggingNodes(await store.deployments.everywhere(), latest) };
}

/** Each report on its own: a report the lifecycle does not touch comes back as it was (see `touches`). */
function applyLifecycle(l: Lifecycle, scanned: EndpointReport[]): EndpointReport[] {
  return withDeployFailures(withStaleDeployments(withRenewalFailures(scanned, l.failing, l.window), l.latest, l.window, l.lagging), l.deployFailures, l.window);
}

/** renewal-failing, stale-deployment and deploy-failed laid over scan reports, from what the store recorded. */
export async function withLifecycle(config: Config, store: StoreReader, scanned: EndpointReport[]): Promise<EndpointReport[]> {
  return applyLifecycle(await lifecycleOf(config, store), scanned);
}

/** Targets asked of the store at a time (statusRows): the rows of a batch are written before the next is read. */
const TARGETS_PER_BATCH = 500;

/** `certs status` of the whole inventory, a batch of endpoints at a time (see statusJson, statusTable). */
export interface StatusBatches<T> {
  /** The endpoints in document order, a batch at a time: reports, or rows the store wrote. */
  batches: AsyncIterable<(EndpointReport | T)[]>;
  /** Complete once `batches` has been read to the end. */
  summary: ReportSummary;
}

/** `certs status --json` of the whole inventory, for cli/json-out.ts writeJsonDocumentAfter. */
export type StatusJson = StatusBatches<RenderedReport>;

/**
 * The endpoints of `statusDocument(config, store, now)`, byte for byte the same once written,
 * built for fleets: the store serialises each report it can (ScanRepository.statusRows), a few
 * hundred targets at a time, and only the rest — scans with problems, rows the lifecycle
 * touches, never-scanned targets — become report objects. At 100,000 endpoints the reports,
 * their copies and the garbage they left were most of `status --json`'s time (issue 12 §6).
 */
export function statusJson(config: Config, store: StoreReader | null): StatusJson {
  const summary: ReportSummary = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  return { batches: statusBatches(config, store, summary, 'json', (t, row, text) => new RenderedReport(text, row.status)), summary };
}

/** A status table line the store wrote: the JSON array of ScanRepository.StatusRow.text ('table'), with its row. */
export interface TableRow {
  target: ScanTarget;
  row: StatusRow;
  fields: [daysLeft: number | null, notAfter: string | null, issuer: string | null, error: string | null, file: string | null, codes: string];
}

/** The reports `statusReports(config, store)` gives, as statusJson does it: the table's fields where the store wrote them. */
export function statusTable(config: Config, store: StoreReader | null): StatusBatches<TableRow> {
  const summary: ReportSummary = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  return { batches: statusBatches(config, store, summary, 'table', (target, row, text) => ({ target, row, fields: JSON.parse(text) as TableRow['fields'] })), summary };
}

async function* statusBatches<T>(config: Config, store: StoreReader | null, summary: ReportSummary, form: StatusForm, wrap: (target: ScanTarget, row: StatusRow, text: string) => T): AsyncGenerator<(EndpointReport | T)[]> {
  const targets = targetsOf(config.domains);
  if (!store) {
    const reports = targets.map(unknownReport);
    for (const r of reports) summary[r.status]++;
    yield reports;
    return;
  }
  const lifecycle = await lifecycleOf(config, store);
  const mode = config.scan.addresses ?? 'all';
  const configured = configuredAddresses(targets);
  const batches: ScanTarget[][] = [];
  for (let from = 0; from < targets.length; from += TARGETS_PER_BATCH) batches.push(targets.slice(from, from + TARGETS_PER_BATCH));
  // `issued`: a row serving another certificate than the newest issued one is `touched`, the
  // stale-deployment check (withStaleDeployments leaves every other row as it is).
  const asked = batches.map((batch) => batch.map((t) => ({
    domain: t.domain.name, host: t.host, port: t.port, source: t.source, issued: lifecycle.latest.get(t.domain.name)?.fingerprint256 ?? null,
  })));
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b]!;
    const rows = parseStatusRows(await store.scans.statusText(asked[b]!, form));
    // Each shown place: a row the store wrote, or a row or never-scanned target to make a report of.
    const shown: (EndpointReport | StatusRow)[] = [];
    const written = new Map<StatusRow, ScanTarget>();
    const wanted: number[] = [];
    let next = 0;
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      let end = next;
      while (end < rows.length && rows[end]!.target === i) end++;
      const picked = end === next ? [] : rowsOf(t, rows, next, end, mode, configured);
      next = end;
      if (picked.length === 0) shown.push(unknownReport(t));
      // Renewal and deploy failures change every report of their domain.
      const failing = lifecycle.failing.has(t.domain.name) || lifecycle.deployFailures.has(t.domain.name);
      for (const row of picked) {
        if (row.text !== null && !row.touched && !failing) written.set(row, t);
        else wanted.push(row.id);
        shown.push(row);
      }
    }
    const reports = await store.scans.reportsById(wanted);
    // Reports in document order, with the lifecycle laid over them as statusReports does
    // (report by report, so a batch at a time gives the same).
    const objects: EndpointReport[] = [];
    for (const e of shown) if (!isRow(e) || !written.has(e)) objects.push(isRow(e) ? reports.get(e.id)! : e);
    const laid = applyLifecycle(lifecycle, objects);
    const out = new Array<EndpointReport | T>(shown.length);
    let o = 0;
    for (let i = 0; i < shown.length; i++) {
      const e = shown[i]!;
      const t = isRow(e) ? written.get(e) : undefined;
      if (isRow(e) && t !== undefined) {
        summary[e.status]++;
        out[i] = wrap(t, e, e.text!);
      } else {
        const r = laid[o++]!;
        summary[r.status]++;
        out[i] = r;
      }
    }
    yield out;
  }
}

/**
 * The rows `status` shows of one target, of its stored rows rows[from..end) (every address of
 * the endpoint): core/addresses.ts storedRowsFor decides, and one row with the target's own
 * address, the common case, is decided here the way it would.
 */
function rowsOf(t: ScanTarget, rows: readonly StatusRow[], from: number, end: number, mode: AddressMode, configured: ReadonlySet<string>): readonly StatusRow[] {
  if (end - from === 1) {
    const row = rows[from]!;
    // Exactly the row of that key, in every mode (for a name: the plain row, and the newest).
    if ((row.address ?? '') === (t.address ?? '')) return [row];
    // The one address row of a name scanned at every address, when the config names no address.
    if (mode === 'all' && !t.address && row.address && configured.size === 0 && needsResolution(t)) return [row];
  }
  // storedRowsFor reads `address` and `scannedAt` of each row and returns some of the rows it was given.
  const shims = rows.slice(from, end).map((row) => ({ row, address: row.address, scannedAt: new Date(row.scannedAtMs).toISOString() }));
  const picked = storedRowsFor(t, shims as unknown as EndpointReport[], mode, configured) as unknown as typeof shims;
  return picked.map((p) => p.row);
}

function isRow(e: EndpointReport | StatusRow): e is StatusRow {
  return 'touched' in e;
}

/** The Nagios verdict of a document: the worst status shown, unknown when nothing is. */
export function overallOf(summary: ReportSummary): Status {
  const shown = (['ok', 'warning', 'unknown', 'critical'] as const).filter((s) => summary[s] > 0);
  return shown.length === 0 ? 'unknown' : shown.reduce<Status>((acc, s) => worstStatus(acc, s), 'ok');
}

function stripChain(r: EndpointReport): EndpointReport {
  const { chain: _chain, ...rest } = r;
  return rest;
}

/**
 * The nodes of a cluster as status, /status, /metrics and the dashboard show them (issue 16):
 * only for the PostgreSQL store, where several daemons share one. A SQLite store is one
 * machine's, and the schedule cron gives `certs run` is not known to it: a weekly cron would
 * otherwise read as a silent node for good (ARCHITECTURE: node-silent is PostgreSQL only).
 */
export async function clusterNodes(store: Pick<AsyncStore, 'engine' | 'nodes'> | null, now: Date): Promise<NodeView[]> {
  if (!store || store.engine !== 'postgres') return [];
  return nodeViews(await store.nodes.list(), now);
}
