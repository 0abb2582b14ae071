/**
 * The dashboard's charts as inline SVG strings (issue 13), drawn by these small pure functions
 * instead of a chart library (README, "Design": page weight and dependency count). Colours come
 * from the page's CSS through classes (s-ok, s-warning, s-critical, s-unknown), so light and dark
 * follow the system; no chart relies on colour alone: each has a role="img" aria-label, each bar
 * a <title> with its counts, and monitor-only certificates are hatched and outlined, not just a
 * different shade. Every text that reaches the markup goes through escapeText.
 *
 * Coordinates are rounded to 2 decimals and stacked from rounded cumulative sums, so a stack's
 * segment heights add up exactly to its own rounded height (the unit tests check the geometry).
 */
import { STATUS_ORDER, weekTotal, TIMELINE_WEEKS } from './dashboard.js';
import { escapeHtml } from './html-escape.js';
import type { Status } from './problems.js';

/** The one HTML escape (also used by the notification emails); named for the SVG text it escapes here. */
export const escapeText: (value: string) => string = escapeHtml;

const r2 = (x: number): number => Math.round(x * 100) / 100;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "4 Dec" (UTC), independent of the server's locale; '' for an unreadable date. */
export function shortDate(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const d = new Date(t);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** "2026-12-04" (UTC); '' for an unreadable date. */
export function isoDay(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 10) : '';
}

// ---- expiry timeline ----

export interface TimelineWeekInput {
  start: string;
  end: string;
  managed: Record<Status, number>;
  monitored: Record<Status, number>;
}

/** One drawn segment of a week's stack. */
export interface TimelineSegment {
  status: Status;
  managed: boolean;
  count: number;
  y: number;
  height: number;
}

export interface TimelineBar {
  index: number;
  count: number;
  x: number;
  width: number;
  /** Top of the stack; the stack rests on the plot's baseline. */
  y: number;
  height: number;
  segments: TimelineSegment[];
  title: string;
}

export interface TimelineLayout {
  width: number;
  height: number;
  /** Plot area: bars stand on baseline and reach at most top. */
  top: number;
  baseline: number;
  /** The count a full-height bar stands for (the busiest week; 1 when every week is empty). */
  max: number;
  bars: TimelineBar[];
}

const TL = { width: 560, height: 170, left: 34, right: 6, top: 12, baseline: 140, gap: 8 } as const;

function countsText(counts: Record<Status, number>): string {
  const parts: string[] = [];
  for (const s of STATUS_ORDER) if (counts[s] > 0) parts.push(`${counts[s]} ${s}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Where every bar and segment of the timeline goes (timelineSvg draws it; the tests read it). */
export function timelineLayout(weeks: readonly TimelineWeekInput[]): TimelineLayout {
  const n = Math.max(weeks.length, 1);
  const slot = (TL.width - TL.left - TL.right) / n;
  const plot = TL.baseline - TL.top;
  let max = 1;
  for (const w of weeks) max = Math.max(max, weekTotal(w));
  const scale = plot / max;
  const bars = weeks.map((w, index): TimelineBar => {
    const segments: TimelineSegment[] = [];
    let cum = 0;
    let prevTop: number = TL.baseline;
    // Managed first (solid, at the bottom), then monitor-only (hatched), each by status.
    for (const managed of [true, false]) {
      const counts = managed ? w.managed : w.monitored;
      for (const status of STATUS_ORDER) {
        const count = counts[status];
        if (count <= 0) continue;
        cum += count;
        const top = r2(TL.baseline - cum * scale);
        segments.push({ status, managed, count, y: top, height: r2(prevTop - top) });
        prevTop = top;
      }
    }
    const title = `Week from ${shortDate(w.start)}: ${cum} expiring. `
      + `Managed: ${countsText(w.managed)}. Monitor-only: ${countsText(w.monitored)}.`;
    return { index, count: cum, x: r2(TL.left + index * slot + TL.gap / 2), width: r2(slot - TL.gap), y: prevTop, height: r2(TL.baseline - prevTop), segments, title };
  });
  return { width: TL.width, height: TL.height, top: TL.top, baseline: TL.baseline, max, bars };
}

/**
 * The expiry timeline: one stacked bar per week (data-testid="timeline-bar", data-count = the
 * week's endpoints), managed solid, monitor-only hatched and outlined. `id` prefixes the hatch
 * pattern's id, unique within a page.
 */
export function timelineSvg(weeks: readonly TimelineWeekInput[], id = 'tl'): string {
  const L = timelineLayout(weeks);
  const total = L.bars.reduce((a, b) => a + b.count, 0);
  let busiest: TimelineBar | undefined;
  for (const b of L.bars) if (b.count > 0 && (!busiest || b.count > busiest.count)) busiest = b;
  const label = `Certificates expiring per week over the next ${weeks.length || TIMELINE_WEEKS} weeks: ${total} in all`
    + (busiest ? `; the most, ${busiest.count}, in the week from ${shortDate(weeks[busiest.index]!.start)}.` : '.');
  const hatch = `${escapeText(id)}-hatch`;
  const out: string[] = [
    `<svg class="timeline" viewBox="0 0 ${L.width} ${L.height}" role="img" aria-label="${escapeText(label)}" xmlns="http://www.w3.org/2000/svg">`,
    `<defs><pattern id="${hatch}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="hatch" width="2.5" height="6"/></pattern></defs>`,
    `<line class="axis" x1="${TL.left}" y1="${L.baseline}" x2="${L.width - TL.right}" y2="${L.baseline}"/>`,
    `<line class="grid" x1="${TL.left}" y1="${L.top}" x2="${L.width - TL.right}" y2="${L.top}"/>`,
    `<text class="tick" x="${TL.left - 4}" y="${L.top + 4}" text-anchor="end">${L.max}</text>`,
    `<text class="tick" x="${TL.left - 4}" y="${L.baseline + 4}" text-anchor="end">0</text>`,
  ];
  for (const b of L.bars) {
    out.push(`<g data-testid="timeline-bar" data-count="${b.count}" data-week="${b.index}"><title>${escapeText(b.title)}</title>`);
    // A transparent column under the stack: the title shows on hover anywhere in the week.
    out.push(`<rect class="hit" x="${b.x}" y="${L.top}" width="${b.width}" height="${L.baseline - L.top}"/>`);
    for (const s of b.segments) {
      const geo = `x="${b.x}" y="${s.y}" width="${b.width}" height="${s.height}"`;
      if (s.managed) out.push(`<rect class="seg s-${s.status}" ${geo}/>`);
      else out.push(`<rect class="seg mon s-${s.status}" ${geo}/><rect class="seg-hatch" fill="url(#${hatch})" ${geo}/>`);
    }
    out.push('</g>');
    if (b.index % 2 === 0 && weeks[b.index]) {
      out.push(`<text class="tick" x="${r2(b.x + b.width / 2)}" y="${L.baseline + 16}" text-anchor="middle">${escapeText(shortDate(weeks[b.index]!.start))}</text>`);
    }
  }
  out.push('</svg>');
  return out.join('');
}

// ---- days-left sparkline ----

export interface SparkInput {
  scannedAt: string;
  daysLeft: number | null;
  status: Status;
}

export interface SparkLayout {
  width: number;
  height: number;
  /** One per input point, in order; null where the scan had no days left (a gap in the line). */
  points: Array<{ x: number; y: number } | null>;
  /** The days-left range drawn from the bottom (min) to the top (max); 0 is always inside it. */
  min: number;
  max: number;
  /** y of the 0-days line. */
  zeroY: number;
}

const SP = { width: 300, height: 64, pad: 4 } as const;

/**
 * Where each scan of the sparkline goes: x by scan time (evenly spread when the times are
 * missing or all equal), y by days left, the range always including 0 so expiry is visible.
 */
export function sparklineLayout(points: readonly SparkInput[]): SparkLayout {
  const times = points.map((p) => Date.parse(p.scannedAt));
  const timed = times.every(Number.isFinite);
  const t0 = timed && times.length ? Math.min(...times) : 0;
  const t1 = timed && times.length ? Math.max(...times) : 0;
  let min = 0;
  let max = 1;
  for (const p of points) {
    if (p.daysLeft === null) continue;
    min = Math.min(min, p.daysLeft);
    max = Math.max(max, p.daysLeft);
  }
  const innerW = SP.width - 2 * SP.pad;
  const innerH = SP.height - 2 * SP.pad;
  const yOf = (d: number): number => r2(SP.pad + ((max - d) / (max - min)) * innerH);
  const xOf = (i: number): number => {
    if (points.length === 1) return SP.width / 2;
    if (timed && t1 > t0) return r2(SP.pad + ((times[i]! - t0) / (t1 - t0)) * innerW);
    return r2(SP.pad + (i / (points.length - 1)) * innerW);
  };
  return {
    width: SP.width,
    height: SP.height,
    points: points.map((p, i) => (p.daysLeft === null ? null : { x: xOf(i), y: yOf(p.daysLeft) })),
    min,
    max,
    zeroY: yOf(0),
  };
}

/** The days-left history of one endpoint (oldest first) as a small line chart. */
export function sparklineSvg(points: readonly SparkInput[]): string {
  const L = sparklineLayout(points);
  const known = points.filter((p) => p.daysLeft !== null);
  const last = points.at(-1);
  const label = points.length === 0
    ? 'No scans recorded yet.'
    : `Days left over ${points.length} scan${points.length === 1 ? '' : 's'} from ${isoDay(points[0]!.scannedAt)} to ${isoDay(last!.scannedAt)}`
      + (known.length ? `: now ${last!.daysLeft ?? 'unknown'}, lowest ${Math.min(...known.map((p) => p.daysLeft!))}, highest ${Math.max(...known.map((p) => p.daysLeft!))}.` : ': none had a certificate date.');
  const out: string[] = [`<svg class="spark" viewBox="0 0 ${L.width} ${L.height}" role="img" aria-label="${escapeText(label)}" xmlns="http://www.w3.org/2000/svg"><title>${escapeText(label)}</title>`];
  out.push(`<line class="zero" x1="0" y1="${L.zeroY}" x2="${L.width}" y2="${L.zeroY}"/>`);
  // The scale: the top of the range, and 0 (where the certificate expires).
  if (known.length) out.push(`<text class="tick" x="${L.width - 2}" y="${SP.pad + 8}" text-anchor="end">${L.max} d</text>`, `<text class="tick" x="${L.width - 2}" y="${r2(L.zeroY - 2)}" text-anchor="end">0</text>`);
  // One polyline per run of known points: a scan without days left breaks the line.
  let run: string[] = [];
  const flush = (): void => {
    if (run.length > 1) out.push(`<polyline class="line" points="${run.join(' ')}"/>`);
    run = [];
  };
  for (const p of L.points) {
    if (p === null) flush();
    else run.push(`${p.x},${p.y}`);
  }
  flush();
  L.points.forEach((p, i) => {
    if (p && (points[i]!.status !== 'ok' || i === L.points.length - 1)) out.push(`<circle class="dot s-${escapeText(points[i]!.status)}" cx="${p.x}" cy="${p.y}" r="${i === L.points.length - 1 ? 3 : 2}"/>`);
  });
  out.push('</svg>');
  return out.join('');
}

// ---- lifetime bar ----

/** Share of lifetime left as a whole percent, 0..100; null stays null. */
export function lifetimePercent(fraction: number | null): number | null {
  if (fraction === null || !Number.isFinite(fraction)) return null;
  return Math.round(Math.min(1, Math.max(0, fraction)) * 100);
}

/**
 * The table's lifetime bar from a whole percent: SVG attributes (not a style attribute, which
 * the page's CSP refuses). The page's script builds the same markup (test/unit/web/pages.test.ts
 * compares them), so change both together.
 */
export function lifetimeBarSvg(percent: number | null, status: Status): string {
  if (percent === null) return '<span class="muted">–</span>';
  return `<svg class="life" viewBox="0 0 100 8" role="img" aria-label="${percent}% of lifetime left"><rect class="life-bg" width="100" height="8"/><rect class="s-${status}" width="${percent}" height="8"/></svg>`;
}
