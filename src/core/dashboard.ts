/**
 * The dashboard's counts (issue 13), pure: the summary cards, the 13-week expiry timeline, the
 * urgency order of the endpoint table, and the share of a certificate's lifetime still ahead.
 *
 * core imports nothing from other src folders, so a row is structural here (src/web/model.ts's
 * DashboardRow satisfies DashboardRowLike); DashboardCounts and TimelineCounts are the page's own
 * DashboardSummary and TimelineWeek (web/model.ts names them).
 */
import type { Status } from './problems.js';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** How many weeks the expiry timeline shows. */
export const TIMELINE_WEEKS = 13;

/** The table's default order: what needs a person first (critical, warning, unknown, ok). */
export const URGENCY_RANK: Readonly<Record<Status, number>> = { critical: 0, warning: 1, unknown: 2, ok: 3 };

/** The order statuses are listed and stacked in (cards, legend, timeline bars bottom up). */
export const STATUS_ORDER: readonly Status[] = ['critical', 'warning', 'unknown', 'ok'];

/** What the counting needs of a row. */
export interface DashboardRowLike {
  status: Status;
  daysLeft: number | null;
  notAfter: string | null;
  managed: boolean;
  domain: string;
  endpoint: string;
}

/** The summary cards (src/web/model.ts DashboardSummary). `within7`/`within30`: expiring within 7 / 30 days, already expired included. */
export interface DashboardCounts {
  ok: number;
  warning: number;
  critical: number;
  unknown: number;
  within7: number;
  within30: number;
  total: number;
}

/** One week of the timeline (src/web/model.ts TimelineWeek): expiring in [start, end), by status, managed / monitor-only. */
export interface TimelineCounts {
  start: string;
  end: string;
  managed: Record<Status, number>;
  monitored: Record<Status, number>;
}

/**
 * Share of [notBefore, notAfter] still ahead of `now`, clamped to 0..1 (0 once expired, 1 before
 * it starts); null when a date is missing or unreadable, or the span is empty or reversed.
 */
export function lifetimeLeft(notBefore: string | null, notAfter: string | null, now: Date): number | null {
  if (notBefore === null || notAfter === null) return null;
  const from = Date.parse(notBefore);
  const to = Date.parse(notAfter);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return null;
  return Math.min(1, Math.max(0, (to - now.getTime()) / (to - from)));
}

/** Cards: one count per status, and how many expire within 7 / 30 days (already expired included). */
export function dashboardSummary(rows: readonly DashboardRowLike[]): DashboardCounts {
  const s: DashboardCounts = { ok: 0, warning: 0, critical: 0, unknown: 0, within7: 0, within30: 0, total: rows.length };
  for (const r of rows) {
    s[r.status]++;
    if (r.daysLeft !== null && r.daysLeft <= 30) {
      s.within30++;
      if (r.daysLeft <= 7) s.within7++;
    }
  }
  return s;
}

const zero = (): Record<Status, number> => ({ ok: 0, warning: 0, critical: 0, unknown: 0 });

/**
 * TIMELINE_WEEKS weeks from `now`: week i counts the rows whose notAfter falls in
 * [now + i weeks, now + i+1 weeks), managed and monitor-only apart, by status. Rows already
 * expired, without a date, or past the last week are in no week (the cards count the expired).
 */
export function expiryTimeline(rows: readonly DashboardRowLike[], now: Date, weeks = TIMELINE_WEEKS): TimelineCounts[] {
  const t0 = now.getTime();
  const out: TimelineCounts[] = [];
  for (let i = 0; i < weeks; i++) {
    out.push({ start: new Date(t0 + i * WEEK_MS).toISOString(), end: new Date(t0 + (i + 1) * WEEK_MS).toISOString(), managed: zero(), monitored: zero() });
  }
  for (const r of rows) {
    if (r.notAfter === null) continue;
    const at = Date.parse(r.notAfter) - t0;
    // NaN (an unreadable date) fails this test too.
    if (!(at >= 0)) continue;
    const week = out[Math.floor(at / WEEK_MS)];
    if (week) (r.managed ? week.managed : week.monitored)[r.status]++;
  }
  return out;
}

/** Endpoints in a timeline week (managed and monitor-only, every status). */
export function weekTotal(w: Pick<TimelineCounts, 'managed' | 'monitored'>): number {
  let n = 0;
  for (const s of STATUS_ORDER) n += w.managed[s] + w.monitored[s];
  return n;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Urgency order: status (critical, warning, unknown, ok), then fewest days left (none last), then domain, then endpoint. */
export function compareUrgency(a: DashboardRowLike, b: DashboardRowLike): number {
  return URGENCY_RANK[a.status] - URGENCY_RANK[b.status]
    || (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity)
    || cmp(a.domain, b.domain)
    || cmp(a.endpoint, b.endpoint);
}

/** Sorts `rows` in place into urgency order and returns them. */
export function byUrgency<T extends DashboardRowLike>(rows: T[]): T[] {
  return rows.sort(compareUrgency);
}

/**
 * Whether the dashboard shows its Nodes table (issue 16): on a cluster (more than one node), or
 * when a node is silent; a single machine keeps the page it had.
 */
export function showNodes(nodes: readonly { silent: boolean }[]): boolean {
  return nodes.length > 1 || nodes.some((n) => n.silent);
}
