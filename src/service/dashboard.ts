/**
 * The data of the dashboard (`GET /`, `GET /endpoint/<id>`), the static report (`certs report`,
 * `certs run --report`) and `certs report --json` (src/web/model.ts), from the config and the
 * store alone: the rows are what `certs status` shows (statusReports: the last stored scan with
 * the renewal and deploy lifecycle laid over it), each with its stored endpoint's id; the cards
 * and the timeline are counted from the rows (core/dashboard.ts).
 *
 * Nothing from the config but domain names and endpoints reaches the data (the config holds
 * secrets): no paths, hooks, URLs or recipients. Renewal, deploy and notification details are
 * what the store recorded, shown as `certs status <name>`, `certs certificates` and `certs notify
 * list` show them.
 */
import type { Config } from '../config/types.js';
import { configuredAddresses, storedRowsFor, type AddressMode } from '../core/addresses.js';
import type { EndpointReport } from '../core/model.js';
import { endpointLabel } from '../core/notify-policy.js';
import { adviceContextOf, problemFix } from '../core/advice.js';
import { endpointKey, targetsOf, unknownReport, type ScanTarget } from '../core/report.js';
import { byUrgency, dashboardSummary, expiryTimeline, lifetimeLeft, showNodes } from '../core/dashboard.js';
import type { RunRow } from '../store/index.js';
import type { AsyncStore, StoreReader } from '../store/contract.js';
import type { LeanScanRow } from '../store/dashboard-rows.js';
import type { DashboardData, DashboardRow, EndpointDetail, HistoryPoint, RunView } from '../web/model.js';
import { clusterNodes, renewalFailures, statusReports, withLifecycle } from './status.js';

export interface DashboardOptions {
  /** The last run to show; default: the newest finished run the store recorded. */
  lastRun?: RunView | null;
  /** The certs version shown in the footer (the CLI knows it). */
  version?: string;
}

/** Scans of one endpoint its sparkline shows, newest kept: ~3 months of twice-daily runs. */
const HISTORY_POINTS = 180;
/** Outbox messages about one endpoint its page lists, newest first. */
const NOTIFICATIONS_SHOWN = 50;
const DEFAULT_VERSION = '0.1.0';

/** Everything the dashboard's `/` shows. `store` null (nothing stored yet): every endpoint unknown, no run. */
export async function dashboardData(config: Config, store: AsyncStore | null, now: Date, opts: DashboardOptions = {}): Promise<DashboardData> {
  const rows = byUrgency(store ? await placedRows(config, store, now) : targetsOf(config.domains).map((t) => rowOf(unknownReport(t), null, managedNames(config), now, NO_DATES)));
  const lastRun = opts.lastRun !== undefined ? opts.lastRun : store ? await lastRunView(store) : null;
  const nodes = await clusterNodes(store, now);
  return {
    generatedAt: now.toISOString(),
    version: opts.version ?? DEFAULT_VERSION,
    summary: dashboardSummary(rows),
    timeline: expiryTimeline(rows, now),
    rows,
    lastRun,
    ...(showNodes(nodes) ? { nodes } : {}),
  };
}

/**
 * The rows `certs status` shows (statusReports), each with its stored endpoint's id, in no
 * particular order: the reference for dashboardData's rows, built from full reports. The page
 * uses `placedRows`, which reads only what rows show (a test holds the two equal).
 */
export async function rowsFromReports(config: Config, store: StoreReader | null, now: Date): Promise<DashboardRow[]> {
  const reports = await statusReports(config, store);
  const stored = store ? await store.views.storedEndpoints() : new Map<string, { id: number }>();
  const notBefore = store ? await missingNotBefore(store, reports) : NO_DATES;
  const managed = managedNames(config);
  return reports.map((r) => rowOf(r, stored.get(endpointKey(r))?.id ?? null, managed, now, notBefore));
}

/**
 * The rows of `rowsFromReports`, read for fleets: each stored endpoint's latest scan as a lean row
 * (store/dashboard-rows.ts), placed on the inventory's targets the way statusReports places
 * reports (core/addresses.ts storedRowsFor), and a full report, with renewal-failing,
 * stale-deployment and deploy-failed laid over it (withLifecycle), only for the rows that can
 * change: every row of a domain whose renewal or deploy is failing, and each row serving another
 * certificate than its managed domain's newest issued one (the stale-deployment check), as
 * statusJson decides for `status --json`.
 */
export function placedRows(config: Config, store: AsyncStore, now: Date): Promise<DashboardRow[]> {
  // One read transaction: the lean rows, the lifecycle facts and the full reports are of the
  // same moment even while a run writes (WAL readers keep their snapshot).
  return store.snapshot((tx) => placeRows(config, tx, now));
}

async function placeRows(config: Config, store: StoreReader, now: Date): Promise<DashboardRow[]> {
  const targets = targetsOf(config.domains);
  const byEndpoint = new Map<string, LeanScanRow[]>();
  for (const r of await store.views.leanScanRows()) {
    // endpointKey without the address: every address row of the endpoint in one group.
    const key = `${r.source}|${r.domain}|${r.host}|${r.port}|`;
    const group = byEndpoint.get(key);
    if (group) group.push(r);
    else byEndpoint.set(key, [r]);
  }
  const managed = managedNames(config);
  const failing = await renewalFailures(store);
  const deployFailures = await store.deployments.failures();
  const issued = new Map<string, string>();
  for (const [lineage, c] of await store.issued.latestAll()) if (managed.has(lineage) && !c.revokedAt) issued.set(lineage, c.fingerprint256);
  const mode = config.scan.addresses ?? 'all';
  const configured = configuredAddresses(targets);

  const out: DashboardRow[] = [];
  const lean: LeanScanRow[] = [];
  const full: number[] = [];
  for (const t of targets) {
    const group = byEndpoint.get(`${t.source}|${t.domain.name}|${t.host}|${t.port}|`);
    const picked = group ? pick(t, group, mode, configured) : [];
    if (picked.length === 0) {
      out.push(rowOf(unknownReport(t), null, managed, now, NO_DATES));
      continue;
    }
    const whole = failing.has(t.domain.name) || deployFailures.has(t.domain.name);
    const newest = issued.get(t.domain.name);
    for (const r of picked) {
      if (whole || (newest !== undefined && r.fingerprint256 !== newest)) full.push(r.id);
      else lean.push(r);
    }
  }
  if (full.length > 0) {
    const reports = await store.scans.reportsById(full);
    const ids = full.filter((id) => reports.has(id));
    const laid = await withLifecycle(config, store, ids.map((id) => reports.get(id)!));
    const notBefore = await missingNotBefore(store, laid);
    for (let i = 0; i < ids.length; i++) out.push(rowOf(laid[i]!, ids[i]!, managed, now, notBefore));
  }
  const notBefore = await missingNotBefore(store, lean);
  for (const r of lean) out.push(rowOf(r, r.id, managed, now, notBefore));
  return out;
}

/**
 * The detail of stored endpoint `id` as the dashboard shows it, or null when there is no such
 * endpoint, or it is not (any more) one the inventory shows: its domain was removed, or the
 * address row is no longer among those `status` shows for its name.
 */
export async function endpointDetail(config: Config, store: StoreReader, id: number, now: Date, opts: Pick<DashboardOptions, 'version'> = {}): Promise<EndpointDetail | null> {
  if (!Number.isSafeInteger(id) || id < 1) return null;
  const ep = await store.views.storedEndpoint(id);
  if (!ep) return null;
  const domain = config.domains.find((d) => d.name === ep.domain);
  if (!domain) return null;
  const key = endpointKey(ep);
  const report = (await statusReports(config, store, { domains: [domain], withChain: true })).find((r) => endpointKey(r) === key);
  if (!report) return null;
  const row = rowOf(report, ep.id, managedNames(config), now, await missingNotBefore(store, [report]));
  const hints = report.problems;
  const advice = adviceContextOf(report, domain, endpointLabel(report));
  const history: HistoryPoint[] = (await store.scans
    .history({ domain: ep.domain, host: ep.host, port: ep.port, address: ep.address ?? '', source: ep.source }, HISTORY_POINTS))
    .reverse()
    .map((h) => ({ scannedAt: h.scannedAt ?? '', daysLeft: h.daysLeft, status: h.status }));
  return {
    generatedAt: now.toISOString(),
    version: opts.version ?? DEFAULT_VERSION,
    row,
    chain: report.chain ?? [],
    servedCount: report.servedCount ?? report.chain?.length ?? 0,
    // The fix as the email words it for this domain (managed or monitor-only; core/advice.ts).
    problems: hints.map((p) => ({ code: p.code, severity: p.severity, message: p.message, hint: problemFix(p, advice) })),
    history,
    renewals: domain.managed ? await renewalsOf(store, domain.name) : [],
    deployments: await deploymentsOf(store, domain.name),
    notifications: await notificationsOf(store, report),
  };
}

/** The `runs` row as the dashboard shows it; null before the first finished run. */
export function runView(run: RunRow | null): RunView | null {
  if (!run || run.finishedAt === null || run.outcome === null) return null;
  const s = run.summary ?? { renewed: [], deployed: [], failed: [], notified: 0 };
  return { startedAt: run.startedAt, finishedAt: run.finishedAt, outcome: run.outcome, renewed: s.renewed, deployed: s.deployed, notified: s.notified, failed: s.failed };
}

/** The newest finished run in the store; null before one (or in a store too old to have `runs`). */
export async function lastRunView(store: StoreReader): Promise<RunView | null> {
  return runView(await store.runs.latestFinished());
}

function managedNames(config: Config): Set<string> {
  const out = new Set<string>();
  for (const d of config.domains) if (d.managed) out.add(d.name);
  return out;
}

/**
 * The rows `status` shows of one target among the stored rows of its endpoint: one row with the
 * target's own address is that row in every mode (the common case, decided here as storedRowsFor
 * would); anything else goes to storedRowsFor, which reads `address` and `scannedAt` of each row
 * and returns some of the rows it was given.
 */
function pick(t: ScanTarget, group: LeanScanRow[], mode: AddressMode, configured: ReadonlySet<string>): LeanScanRow[] {
  if (group.length === 1 && (group[0]!.address ?? '') === (t.address ?? '')) return group;
  return storedRowsFor(t, group as unknown as EndpointReport[], mode, configured) as unknown as LeanScanRow[];
}

/** What a row is made of: a report, or a lean row of the store (the same fields). */
type RowSource = Pick<EndpointReport, 'domain' | 'host' | 'port' | 'address' | 'source' | 'file' | 'status' | 'daysLeft' | 'notBefore' | 'leafNotAfter' | 'notAfter' | 'fingerprint256' | 'issuer' | 'subject' | 'scannedAt'> & {
  problems: readonly { code: string; severity: 'warning' | 'critical' }[];
};

const NO_DATES: ReadonlyMap<string, string | null> = new Map();

/**
 * notBefore by certificate fingerprint, remembered across renders: a fingerprint names one
 * certificate, whose dates never change, and reading them from the store is the costly part
 * (certificateNotBefore). Bounded: emptied when it grows past NOT_BEFORE_CACHE entries.
 */
const notBeforeCache = new Map<string, string | null>();
const NOT_BEFORE_CACHE = 200_000;

/** The leaf's notBefore for rows stored without it (scans recorded before reports carried it), from the stored certificate. */
async function missingNotBefore(store: StoreReader, rows: readonly RowSource[]): Promise<ReadonlyMap<string, string | null>> {
  const wanted = new Set<string>();
  for (const r of rows) if (r.notBefore == null && r.fingerprint256 && !notBeforeCache.has(r.fingerprint256)) wanted.add(r.fingerprint256);
  if (wanted.size > 0) {
    if (notBeforeCache.size + wanted.size > NOT_BEFORE_CACHE) notBeforeCache.clear();
    const found = await store.views.certificateNotBefore([...wanted]);
    for (const fp of wanted) notBeforeCache.set(fp, found.get(fp) ?? null);
  }
  return notBeforeCache;
}

function rowOf(r: RowSource, id: number | null, managed: ReadonlySet<string>, now: Date, storedNotBefore: ReadonlyMap<string, string | null>): DashboardRow {
  const notBefore = r.notBefore ?? (r.fingerprint256 ? storedNotBefore.get(r.fingerprint256) : undefined) ?? null;
  // The lifetime bar is the leaf's own lifetime, even when an intermediate expires first.
  const leafNotAfter = r.leafNotAfter ?? r.notAfter;
  const row: DashboardRow = {
    id,
    domain: r.domain,
    host: r.host,
    port: r.port,
    endpoint: r.source === 'file' ? r.file ?? r.host : endpointLabel(r),
    source: r.source,
    managed: managed.has(r.domain),
    status: r.status,
    daysLeft: r.daysLeft,
    notBefore,
    notAfter: r.notAfter,
    lifetimeLeft: lifetimeLeft(notBefore, leafNotAfter, now),
    issuer: r.issuer,
    subject: r.subject,
    problems: r.problems.map((p) => ({ code: p.code, severity: p.severity })),
    scannedAt: r.scannedAt,
  };
  if (r.address !== undefined) row.address = r.address;
  return row;
}

async function renewalsOf(store: StoreReader, lineage: string): Promise<EndpointDetail['renewals']> {
  const issued = await store.issued.list(lineage);
  return (await store.renewals.attempts(lineage)).map((a) => {
    // The version an attempt produced: the one issued between its start and end.
    const v = a.outcome === 'issued' ? issued.find((c) => c.issuedAt >= a.startedAt && (a.finishedAt === null || c.issuedAt <= a.finishedAt)) : undefined;
    const detail = a.outcome === 'failed' ? a.error ?? 'failed' : a.outcome === null ? 'did not finish' : a.reason ?? '';
    return { at: a.startedAt, ok: a.outcome === 'issued', version: v?.version ?? null, detail };
  });
}

/** The last deployment of the domain and its failed deploy waiting for a retry (the store keeps one of each). */
async function deploymentsOf(store: StoreReader, lineage: string): Promise<EndpointDetail['deployments']> {
  const out: EndpointDetail['deployments'] = [];
  const d = await store.deployments.get(lineage);
  // Not the snippet path: it comes from the config (nginx.snippetDir).
  if (d) out.push({ at: d.deployedAt, version: d.version ?? null, state: d.staleSince ? 'stale' : d.verifiedAt ? 'verified' : 'deployed', detail: d.staleDetail ?? '' });
  const f = await store.deployments.failure(lineage);
  if (f) out.push({ at: f.lastAt, version: f.version, state: 'failed', detail: `${f.code}: ${f.detail}${f.failures > 1 ? ` (${f.failures} attempts since ${f.since})` : ''}` });
  return out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

/**
 * Outbox messages about this endpoint, newest first (store/outbox-search.ts finds candidates): a
 * webhook message lists its events (domain and endpoint), an email names the endpoint in its
 * text. Subjects and states only: recipients and server responses stay out.
 */
async function notificationsOf(store: StoreReader, r: EndpointReport): Promise<EndpointDetail['notifications']> {
  const label = endpointLabel(r);
  const out: EndpointDetail['notifications'] = [];
  for (const m of await store.views.outboxMentioning(label, NOTIFICATIONS_SHOWN)) {
    if (!mentions(m.payload, m.text, r.domain, label)) continue;
    const state = m.deliveredAt ? 'delivered' : m.lastError ? `failed ${m.attempts}×, retrying` : 'pending';
    out.push({ at: m.createdAt, subject: m.subject, state });
  }
  return out;
}

function mentions(payload: unknown, text: string, domain: string, label: string): boolean {
  const events = (payload as { events?: unknown } | null)?.events;
  if (Array.isArray(events)) return events.some((e) => (e as { domain?: unknown }).domain === domain && (e as { endpoint?: unknown }).endpoint === label);
  // In text, the label must end there: host:443 is not host:4430.
  for (let at = text.indexOf(label); at !== -1; at = text.indexOf(label, at + 1)) {
    const next = text.charAt(at + label.length);
    if (!/[0-9A-Za-z.@-]/.test(next) && !(next === ' ' && text.charAt(at + label.length + 1) === '@')) return true;
  }
  return false;
}

