/**
 * What the dashboard (`GET /`, `GET /endpoint/<id>` of `certs daemon`) and the static report
 * (`certs report --html`, `certs run --report`) show: plain data, built by src/service/dashboard.ts
 * from the config and the store, rendered by src/web/ (pure: data in, HTML out). The same data is
 * `certs report --json`. Issue 13.
 */
import type { NodeView } from '../core/nodes.js';
import type { CertInfo } from '../core/model.js';
import type { DashboardCounts, TimelineCounts } from '../core/dashboard.js';
import type { Status } from '../core/problems.js';

/** One row of the endpoint table: one stored endpoint (per address), or a configured one never scanned. */
export interface DashboardRow {
  /** The stored endpoint's id (its detail page is /endpoint/<id>); null when never scanned. */
  id: number | null;
  domain: string;
  host: string;
  port: number;
  address?: string;
  /** `host:port`, `host:port @address`, or the file path for file endpoints: what the table shows. */
  endpoint: string;
  source: 'tls' | 'file';
  managed: boolean;
  status: Status;
  daysLeft: number | null;
  notBefore: string | null;
  notAfter: string | null;
  /** Share of the leaf's lifetime still ahead, 0..1 (0 once expired); null without dates. */
  lifetimeLeft: number | null;
  issuer: string | null;
  /** Subject label as status shows it ("(empty subject) www.example.com" for an empty DN). */
  subject: string | null;
  problems: { code: string; severity: 'warning' | 'critical' }[];
  scannedAt: string | null;
}

/**
 * The cards and the timeline are counted in core (src/core/dashboard.ts, pure); web/ may import
 * core, so the page's types are those, not a copy to keep in step.
 */
export type DashboardSummary = DashboardCounts;
/** One week of the expiry timeline: endpoints whose certificate expires in [start, end), by status, managed / monitor-only. */
export type TimelineWeek = TimelineCounts;

/** What the last run did (the `runs` table; null before the first recorded run). */
export interface RunView {
  startedAt: string;
  finishedAt: string | null;
  outcome: 'ok' | 'warning' | 'critical' | 'failed' | 'error';
  renewed: string[];
  deployed: string[];
  /** Notifications the run sent (or queued): subject lines or event keys, as recorded. */
  notified: number;
  failed: string[];
}

export interface DashboardData {
  generatedAt: string;
  version: string;
  summary: DashboardSummary;
  /** 13 weeks from generatedAt; endpoints already expired are not in it (they are in the cards). */
  timeline: TimelineWeek[];
  /** Every endpoint, most urgent first (critical, warning, unknown, ok; then fewest days left). */
  rows: DashboardRow[];
  lastRun: RunView | null;
  /** The nodes of a cluster (issue 16): present when there is more than one, or one is silent. */
  nodes?: NodeView[];
}

export interface HistoryPoint {
  scannedAt: string;
  daysLeft: number | null;
  status: Status;
}

export interface EndpointDetail {
  generatedAt: string;
  version: string;
  row: DashboardRow;
  /** The served chain, in the order served, then what the trust store added (servedCount tells). */
  chain: CertInfo[];
  servedCount: number;
  problems: { code: string; severity: 'warning' | 'critical'; message: string; hint: string }[];
  /** Oldest first. */
  history: HistoryPoint[];
  renewals: { at: string; ok: boolean; version: number | null; detail: string }[];
  deployments: { at: string; version: number | null; state: string; detail: string }[];
  notifications: { at: string; subject: string; state: string }[];
}
