/**
 * The nodes sharing a store, as `status`, `/status`, the dashboard and `/metrics` show them
 * (issue 16). Pure: `now` is an argument. A node is silent when it has not been seen for
 * SILENT_CYCLES of its own cycle (its daemon.schedule's interval, recorded with its heartbeat).
 */
export const SILENT_CYCLES = 3;
/** The default schedule runs twice a day: the cycle of a node that recorded none. */
export const DEFAULT_CYCLE_MS = 12 * 3_600_000;

export interface NodeRecord {
  name: string;
  version: string;
  lastSeenAt: string;
  cycleMs: number | null;
  lastRun: { startedAt: string; finishedAt: string | null; outcome: string | null } | null;
}

export interface NodeView {
  name: string;
  version: string;
  lastSeenAt: string;
  lastRun: { startedAt: string; finishedAt: string | null; outcome: string | null } | null;
  silent: boolean;
}

export function isSilent(n: Pick<NodeRecord, 'lastSeenAt' | 'cycleMs'>, now: Date): boolean {
  const seen = Date.parse(n.lastSeenAt);
  // An unreadable time is not proof of life.
  if (!Number.isFinite(seen)) return true;
  return now.getTime() - seen > SILENT_CYCLES * (n.cycleMs ?? DEFAULT_CYCLE_MS);
}

export function nodeViews(rows: readonly NodeRecord[], now: Date): NodeView[] {
  return rows.map((n) => ({ name: n.name, version: n.version, lastSeenAt: n.lastSeenAt, lastRun: n.lastRun, silent: isSilent(n, now) }));
}

const minute = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/** One line for `certs status`: `node-silent: node web-2 not seen since …; last run …`. */
export function nodeSilentLine(n: NodeView): string {
  const run = n.lastRun ? `last run started ${minute(n.lastRun.startedAt)}${n.lastRun.outcome ? ` (${n.lastRun.outcome})` : ', unfinished'}` : 'no run recorded';
  return `node-silent: node ${n.name} (certs ${n.version}) not seen since ${minute(n.lastSeenAt)}; ${run}`;
}

/** One line for `certs status` of a node that is not silent: `web-1 (certs 1.2.0): seen …; last run …`. */
export function nodeLine(n: NodeView): string {
  const run = n.lastRun ? `last run started ${minute(n.lastRun.startedAt)}${n.lastRun.outcome ? ` (${n.lastRun.outcome})` : ', in progress'}` : 'no run recorded';
  return `${n.name} (certs ${n.version}): seen ${minute(n.lastSeenAt)}; ${run}`;
}
