/**
 * The digest a reader gets after a run (issue 14), pure: no I/O, the clock is an argument.
 *
 * - The subject is at most 78 characters (RFC 5322's line length, and about what mail clients
 *   show) and leads with the worst thing: `[certs] CRITICAL: expired.example.com expired; 4 more
 *   problems`, `[certs] 2 certificates expire within 30 days: a.com, b.com`. Names are whole or
 *   left out ("and 3 more"); only a name that cannot fit on its own is shortened, at a dot where
 *   it can, and the 78 is a hard cap whatever the input.
 * - The story the subject used to tell (every code and name) opens the body, then one summary
 *   line (counts by status; new, still open and recovered since the last digest), then ONE table
 *   in urgency order: critical, warning, recovered; then days left, ascending; then domain and
 *   endpoint. Every problem row carries one fix (core/advice.ts fixFor), shown once.
 * - Over MAX_ROWS rows, the most urgent MAX_ROWS are shown and one line counts the rest by
 *   status, with where to see all of them (the dashboard, the --report file): nothing is
 *   dropped without saying so.
 */
import type { ActiveProblem, NotifyEvent, NotifySeverity } from './notify-policy.js';
import { DAY_MS, formatSpan } from './thresholds.js';

/** RFC 5322 §2.1.1: a line SHOULD be at most 78 characters; clients show about that much. */
export const MAX_SUBJECT = 78;
/** Rows shown in a digest; the rest are counted (issue 14). */
export const MAX_ROWS = 50;

const PREFIX = '[certs] ';

export type RowStatus = 'critical' | 'warning' | 'recovered' | 'open';

/** One line of the digest's table, every value a finished plain string (renderers escape them). */
export interface DigestRow {
  status: RowStatus;
  domain: string;
  /** "host:port @address" or "file:/path". */
  endpoint: string;
  daysLeft: number | null;
  /** YYYY-MM-DD, or '' when unknown. */
  expires: string;
  /** Short issuer ("R11 (Let's Encrypt)"), or '' when unknown. */
  issuer: string;
  /** What is wrong (or what recovered). */
  problem: string;
  /** The one fix (problem and expiry rows); absent for recoveries. */
  fix?: string;
}

export interface DigestGroup {
  severity: NotifySeverity;
  title: string;
  events: NotifyEvent[];
}

/** Where the whole list can be seen when a digest shows only the most urgent rows. */
export interface DigestLinks {
  /** The dashboard's URL (daemon.http). */
  dashboard?: string;
  /** The HTML report file (`certs run --report FILE`). */
  report?: string;
}

export interface Digest {
  /** ≤ MAX_SUBJECT characters, the worst first. */
  subject: string;
  /** The whole story on one line (every code and up to five names per part), the body's first line. */
  story: string;
  /** Counts by status and what changed since the last digest, on one line. */
  summary: string;
  counts: { critical: number; warning: number; info: number };
  /** Events by severity (critical, warning, recovered), each in urgency order (kept for templates that use them). */
  groups: DigestGroup[];
  /** Every row, in urgency order. */
  rows: DigestRow[];
  /** How many of `rows` the body shows (MAX_ROWS at most). */
  shown: number;
  /** The line counting the rows not shown, and where to see them; null when all are shown. */
  rest: string | null;
  /** The plain text body: story, summary, the table with its fix lines, the rest line. */
  text: string;
}

const MAX_NAMES = 5;
const GROUP_TITLES: Record<NotifySeverity, string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'RECOVERED' };
const SEVERITY_ORDER: readonly NotifySeverity[] = ['critical', 'warning', 'info'];
export const STATUS_LABELS: Readonly<Record<RowStatus, string>> = { critical: 'CRITICAL', warning: 'WARNING', recovered: 'RECOVERED', open: 'OPEN' };
const STATUS_RANK: Readonly<Record<RowStatus, number>> = { critical: 0, warning: 1, open: 2, recovered: 3 };

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const day = (iso: string | null): string => (iso ? iso.slice(0, 10) : '');
const stamp = (d: Date): string => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
/** Code-point order: the same on every machine and locale (golden files depend on it). */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** At most five names, then "and N more" (the story's lists). */
export function nameList(names: readonly string[]): string {
  const unique = [...new Set(names)];
  if (unique.length <= MAX_NAMES) return unique.join(', ');
  return `${unique.slice(0, MAX_NAMES).join(', ')} and ${unique.length - MAX_NAMES} more`;
}

function statusOfEvent(e: NotifyEvent): RowStatus {
  if (e.kind === 'recovery') return 'recovered';
  return e.severity === 'critical' ? 'critical' : 'warning';
}

/** Urgency: critical, warning, recovered; then days left ascending (unknown last); then domain, endpoint. */
export function byUrgency(a: NotifyEvent, b: NotifyEvent): number {
  return (
    STATUS_RANK[statusOfEvent(a)] - STATUS_RANK[statusOfEvent(b)] ||
    (a.daysLeft ?? Number.POSITIVE_INFINITY) - (b.daysLeft ?? Number.POSITIVE_INFINITY) ||
    cmp(a.domain, b.domain) ||
    cmp(a.endpoint, b.endpoint) ||
    cmp(a.code ?? '', b.code ?? '')
  );
}

/**
 * byUrgency over a whole list, each key computed once (a digest of a fleet sorts 10,000 events);
 * the same order as byUrgency.
 */
export function sortByUrgency(events: readonly NotifyEvent[]): NotifyEvent[] {
  const keyed = events.map((e) => ({ e, rank: STATUS_RANK[statusOfEvent(e)], days: e.daysLeft ?? Number.POSITIVE_INFINITY }));
  keyed.sort((a, b) => a.rank - b.rank || a.days - b.days || cmp(a.e.domain, b.e.domain) || cmp(a.e.endpoint, b.e.endpoint) || cmp(a.e.code ?? '', b.e.code ?? ''));
  return keyed.map((k) => k.e);
}

const CN_RE = /(?:^|,\s*)CN=([^,]+)/;
const O_RE = /(?:^|,\s*)O=([^,]+)/;
/** A fleet has a handful of issuers: each is shortened once. */
const issuerCache = new Map<string, string>();

/** "C=US, O=Let's Encrypt, CN=R11" → "R11 (Let's Encrypt)"; anything else as it is. */
export function shortIssuer(issuer: string | null | undefined): string {
  if (!issuer) return '';
  let short = issuerCache.get(issuer);
  if (short === undefined) {
    short = shortenIssuer(issuer);
    if (issuerCache.size < 1000) issuerCache.set(issuer, short);
  }
  return short;
}

function shortenIssuer(issuer: string): string {
  const cn = CN_RE.exec(issuer)?.[1]?.trim();
  const o = O_RE.exec(issuer)?.[1]?.trim();
  // Both when they are short ("R11 (Let's Encrypt)"); a long CN says enough on its own.
  if (cn && o && o !== cn && cn.length + o.length <= 36) return `${cn} (${o})`;
  return cn ?? o ?? issuer;
}

/** A crossed threshold as it reads: "7 days", or what is in force for a short-lived certificate ("11 hours"). */
const thresholdLabel = (e: NotifyEvent): string => (e.thresholdInForce !== undefined ? formatSpan(e.thresholdInForce * DAY_MS) : plural(e.threshold ?? 0, 'day'));

function expiresIn(daysLeft: number | null): string {
  if (daysLeft === null) return 'expires soon';
  return daysLeft <= 0 ? 'expires within a day' : `expires in ${plural(daysLeft, 'day')}`;
}

/** What an event is called in lists: its problem code, or for run and store events (issue 17) its kind. */
export function eventLabel(e: Pick<NotifyEvent, 'kind' | 'code'>): string {
  return e.code ?? (e.kind === 'problem' || e.kind === 'recovery' ? 'problem' : e.kind);
}

function problemText(e: NotifyEvent): string {
  if (e.kind === 'expiry') return `${expiresIn(e.daysLeft)} (threshold: ${thresholdLabel(e)})`;
  const detail = e.detail ?? e.message;
  if (e.kind === 'recovery') return `${eventLabel(e)} cleared (${detail})`;
  return `${eventLabel(e)}: ${detail}`;
}

export function rowOf(e: NotifyEvent): DigestRow {
  return {
    status: statusOfEvent(e),
    domain: e.domain,
    endpoint: e.endpoint,
    daysLeft: e.daysLeft,
    expires: day(e.notAfter),
    issuer: shortIssuer(e.issuer),
    problem: problemText(e),
    ...(e.kind !== 'recovery' && e.fix ? { fix: e.fix } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The story (the long, complete line the subject used to be)

// These take lists already in urgency order (sortByUrgency): a fleet's digest sorts once.

function expiryPart(sorted: NotifyEvent[]): string {
  const certs = new Set(sorted.map((e) => e.fingerprint256 ?? e.endpointKey)).size;
  return `${certs} certificate${certs === 1 ? ' expires' : 's expire'} ${withinPart(sorted)}: ${nameList(sorted.map((e) => e.domain))}`;
}

/** "within 30 days", or "within 30 days (2 within 7)" when the thresholds crossed differ. */
function withinPart(sorted: NotifyEvent[]): string {
  const inForce = (e: NotifyEvent): number => e.thresholdInForce ?? e.threshold ?? 0;
  const least = sorted.reduce((a, b) => (inForce(b) < inForce(a) ? b : a));
  const most = sorted.reduce((a, b) => (inForce(b) > inForce(a) ? b : a));
  const leastLabel = thresholdLabel(least);
  const mostLabel = thresholdLabel(most);
  if (leastLabel === mostLabel) return `within ${mostLabel}`;
  const n = sorted.filter((e) => thresholdLabel(e) === leastLabel).length;
  return `within ${mostLabel} (${n} within ${leastLabel.replace(/ days?$/, '')})`;
}

function problemPart(sorted: NotifyEvent[], severity: 'critical' | 'warning'): string {
  const n = sorted.length;
  const label = severity === 'critical' ? plural(n, 'critical problem') : plural(n, 'warning');
  // Grouped by code, so forty hosts with the same fault read as one story.
  const byCode = new Map<string, string[]>();
  for (const e of sorted) {
    const code = eventLabel(e);
    const list = byCode.get(code);
    if (list) list.push(e.domain);
    else byCode.set(code, [e.domain]);
  }
  return `${label}: ${[...byCode].map(([code, domains]) => `${code} on ${nameList(domains)}`).join(', ')}`;
}

/** Every part of a set of events on one line, leading with the worst (the digest's first body line). */
export function digestStory(events: readonly NotifyEvent[]): string {
  return storyOf(sortByUrgency(events));
}

function storyOf(events: readonly NotifyEvent[]): string {
  if (events.length === 0) return 'nothing new';
  const expiry = events.filter((e) => e.kind === 'expiry');
  // Run and store events (issue 17) read as problems: each names its kind.
  const isProblem = (e: NotifyEvent): boolean => e.kind !== 'expiry' && e.kind !== 'recovery';
  const critical = events.filter((e) => isProblem(e) && e.severity === 'critical');
  const warning = events.filter((e) => isProblem(e) && e.severity !== 'critical');
  const recovered = events.filter((e) => e.kind === 'recovery');
  const expiryCritical = expiry.some((e) => e.severity === 'critical');
  const parts: Array<[number, string]> = [];
  if (critical.length) parts.push([0, problemPart(critical, 'critical')]);
  if (expiry.length) parts.push([expiryCritical ? 1 : 2, expiryPart(expiry)]);
  if (warning.length) parts.push([3, problemPart(warning, 'warning')]);
  if (recovered.length) parts.push([4, `recovered: ${nameList(recovered.map((e) => e.domain))}`]);
  parts.sort((a, b) => a[0] - b[0]);
  return parts.map(([, text]) => text).join('; ');
}

// ---------------------------------------------------------------------------------------------
// The subject (≤ 78)

/**
 * `name` shortened to `room` characters: whole leading labels and "…" where they fit
 * ("very-long-host.eu-west-1…"), cut inside a label only when even the first one does not.
 */
export function shortenName(name: string, room: number): string {
  if (name.length <= room) return name;
  if (room <= 1) return '…'.slice(0, Math.max(room, 0));
  let cut = name.lastIndexOf('.', room - 1);
  if (cut <= 0) cut = room - 1;
  return `${name.slice(0, cut)}…`;
}

/** Whole names, in order, while they fit in `room`, then "and N more"; '' when not even one fits. */
export function fitNames(names: readonly string[], room: number, join = ', '): string {
  const unique = [...new Set(names)];
  let best = '';
  let acc = '';
  for (let i = 0; i < unique.length; i++) {
    acc = acc ? `${acc}${join}${unique[i]}` : unique[i]!;
    if (acc.length > room) break;
    const left = unique.length - i - 1;
    const candidate = left > 0 ? `${acc} and ${left} more` : acc;
    if (candidate.length <= room) best = candidate;
  }
  return best;
}

/**
 * The subject: "[certs] " + lead + optional parts, each optional part only if it fits whole; the
 * lead's name is shortened (at a dot) only when the lead alone does not fit; hard cap at 78.
 */
function composeSubject(lead: (room: number) => string, optional: readonly string[]): string {
  let s = PREFIX + lead(MAX_SUBJECT - PREFIX.length);
  for (const part of optional) if (s.length + part.length <= MAX_SUBJECT) s += part;
  return s.length <= MAX_SUBJECT ? s : `${s.slice(0, MAX_SUBJECT - 1)}…`;
}

function expiryOnlySubject(sorted: NotifyEvent[], recovered: number): string {
  const certs = new Set(sorted.map((e) => e.fingerprint256 ?? e.endpointKey)).size;
  const critical = sorted.some((e) => e.severity === 'critical') ? 'CRITICAL: ' : '';
  const head = `${critical}${certs} certificate${certs === 1 ? ' expires' : 's expire'} ${withinPart(sorted)}`;
  const tail = recovered > 0 ? `; ${recovered} recovered` : '';
  return composeSubject((room) => {
    const names = fitNames(sorted.map((e) => e.domain), room - head.length - tail.length - 2);
    return names ? `${head}: ${names}` : head;
  }, tail ? [tail] : []);
}

/** "[certs] CRITICAL: expired.example.com expired; 3 more problems", at most 78 characters. */
export function digestSubject(events: readonly NotifyEvent[]): string {
  return subjectOf(sortByUrgency(events));
}

function subjectOf(sorted: readonly NotifyEvent[]): string {
  if (sorted.length === 0) return `${PREFIX}nothing new`;
  const open = sorted.filter((e) => e.kind !== 'recovery');
  const recovered = sorted.filter((e) => e.kind === 'recovery');
  if (open.length === 0) {
    const head = `${plural(recovered.length, 'problem')} recovered`;
    return composeSubject((room) => {
      const names = fitNames(recovered.map((e) => e.domain), room - head.length - 2);
      return names ? `${head}: ${names}` : head;
    }, []);
  }
  if (open.every((e) => e.kind === 'expiry')) return expiryOnlySubject(open, recovered.length);
  const worst = open[0]!;
  const label = worst.severity === 'critical' ? 'CRITICAL' : 'WARNING';
  const what = (name: string): string => {
    if (worst.kind === 'expiry') return `${name} ${expiresIn(worst.daysLeft)}`;
    if (worst.code === 'expired') return `${name} expired`;
    return `${eventLabel(worst)} on ${name}`;
  };
  const more = open.length > 1 ? `; ${plural(open.length - 1, 'more problem')}` : '';
  const rec = recovered.length > 0 ? `; ${recovered.length} recovered` : '';
  // The count of the other problems is part of the lead: it must not fall off for a long name.
  return composeSubject((room) => {
    const fixed = `${label}: ${what('')}${more}`.length;
    return `${label}: ${what(shortenName(worst.domain, room - fixed))}${more}`;
  }, rec ? [rec] : []);
}

// ---------------------------------------------------------------------------------------------
// The body

export interface DigestOptions {
  now: Date;
  /** Certificates watched (reports of the run). */
  total?: number;
  /** Active problems from earlier digests that are still open after this run (store's notify_active, less what cleared). */
  stillOpen?: number;
  links?: DigestLinks;
}

function countsLine(rows: readonly DigestRow[]): string {
  const n = (s: RowStatus): number => rows.filter((r) => r.status === s).length;
  const parts = [`${n('critical')} critical`, plural(n('warning'), 'warning')];
  if (n('open') > 0) parts.push(`${n('open')} open`);
  parts.push(`${n('recovered')} recovered`);
  return parts.join(', ');
}

/** "200 critical, 250 warnings" for the rows not shown, and where to see all of them. */
export function restLine(rows: readonly DigestRow[], shown: number, links: DigestLinks | undefined): string | null {
  const hidden = rows.slice(shown);
  if (hidden.length === 0) return null;
  const by = (['critical', 'warning', 'open', 'recovered'] as const)
    .map((s) => [s, hidden.filter((r) => r.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => (s === 'warning' ? plural(n, 'warning') : `${n} ${s}`));
  const where = links?.dashboard ? `; all of them on the dashboard: ${links.dashboard}` : links?.report ? `; all of them in the report: ${links.report}` : '; all of them: certs status';
  return `${hidden.length} more not shown (${by.join(', ')})${where}`;
}

const pad = (s: string, w: number): string => (s.length >= w ? s : s + ' '.repeat(w - s.length));
const padStart = (s: string, w: number): string => (s.length >= w ? s : ' '.repeat(w - s.length) + s);
/** Columns wider than this are not padded further: a 253-character name pushes its own row only. */
const MAX_COL = 40;
export const TABLE_HEADINGS = ['STATUS', 'DOMAIN', 'ENDPOINT', 'DAYS LEFT', 'EXPIRES', 'ISSUER', 'PROBLEM'] as const;

/** The plain text table: one line per row, its fix on the next, indented under the domain. */
export function tableText(rows: readonly DigestRow[]): string {
  if (rows.length === 0) return '';
  const cells = rows.map((r) => [STATUS_LABELS[r.status], r.domain, r.endpoint, r.daysLeft === null ? '-' : String(r.daysLeft), r.expires || '-', r.issuer || '-', r.problem]);
  const widths = TABLE_HEADINGS.map((h, i) => Math.min(MAX_COL, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const line = (c: readonly string[]): string =>
    c.map((v, i) => (i === c.length - 1 ? v : i === 3 ? padStart(v, widths[i]!) : pad(v, widths[i]!))).join('  ').trimEnd();
  const indent = ' '.repeat(widths[0]! + 2);
  const out = [line(TABLE_HEADINGS)];
  rows.forEach((r, i) => {
    out.push(line(cells[i]!));
    if (r.fix) out.push(`${indent}fix: ${r.fix}`);
  });
  return out.join('\n');
}

function bodyText(d: Pick<Digest, 'story' | 'summary' | 'rows' | 'shown' | 'rest'>): string {
  const lines = [d.story, d.summary];
  if (d.rows.length) lines.push('', tableText(d.rows.slice(0, d.shown)));
  if (d.rest) lines.push('', d.rest);
  return `${lines.join('\n')}\n`;
}

/** One digest per run with everything new: subject, story, summary and one table in urgency order. */
export function buildDigest(events: readonly NotifyEvent[], opts: DigestOptions): Digest {
  // Sorted once, for the table, the subject and the story.
  const sorted = sortByUrgency(events);
  const groups: DigestGroup[] = [];
  for (const severity of SEVERITY_ORDER) {
    const list = sorted.filter((e) => e.severity === severity);
    if (list.length) groups.push({ severity, title: GROUP_TITLES[severity], events: list });
  }
  const counts = {
    critical: events.filter((e) => e.severity === 'critical').length,
    warning: events.filter((e) => e.severity === 'warning').length,
    info: events.filter((e) => e.severity === 'info').length,
  };
  const rows = sorted.map(rowOf);
  const shown = Math.min(rows.length, MAX_ROWS);
  const fresh = sorted.filter((e) => e.kind !== 'recovery').length;
  const recovered = sorted.length - fresh;
  const watching = opts.total !== undefined ? `, watching ${plural(opts.total, 'certificate')}` : '';
  const since = `Since the last digest: ${fresh} new, ${opts.stillOpen !== undefined ? `${opts.stillOpen} still open, ` : ''}${recovered} recovered.`;
  const summary = `${stamp(opts.now)}${watching}: ${countsLine(rows)}. ${since}`;
  const story = storyOf(sorted);
  const rest = restLine(rows, shown, opts.links);
  const base = { story, summary, rows, shown, rest };
  return { subject: subjectOf(sorted), counts, groups, ...base, text: bodyText(base) };
}

/**
 * The scheduled "still alive" summary, so silence is never mistaken for health. With no open
 * problems: "[certs] watching 42 certificates, nothing wrong"; otherwise it names them, as many
 * as fit in the 78 characters.
 */
export function buildHeartbeat(opts: { now: Date; total: number; worst?: readonly ActiveProblem[]; fixOf?: (a: ActiveProblem) => string | undefined }): Digest {
  const open = [...(opts.worst ?? [])].sort((a, b) => cmp(a.domain, b.domain) || cmp(a.endpoint, b.endpoint) || cmp(a.code, b.code));
  const watching = `watching ${plural(opts.total, 'certificate')}`;
  const counts = { critical: 0, warning: 0, info: open.length };
  if (open.length === 0) {
    const subject = composeSubject(() => `${watching}, nothing wrong`, []);
    const story = `${watching}, nothing wrong`;
    const summary = `${stamp(opts.now)}: nothing open.`;
    return { subject, story, summary, counts, groups: [], rows: [], shown: 0, rest: null, text: `${story} (${stamp(opts.now)})\n` };
  }
  const since = (a: ActiveProblem): string => a.since.slice(0, 16).replace('T', ' ');
  const events: NotifyEvent[] = open.map((a) => ({
    key: `heartbeat:${a.endpointKey}:${a.code}:${a.since}`,
    kind: 'problem',
    severity: 'info',
    domain: a.domain,
    endpoint: a.endpoint,
    endpointKey: a.endpointKey,
    fingerprint256: null,
    daysLeft: null,
    notAfter: null,
    code: a.code,
    detail: `open since ${since(a)} UTC: ${a.message}`,
    message: `${a.domain} ${a.endpoint}: ${a.code}: ${a.message} (open since ${since(a)} UTC)`,
  }));
  const rows: DigestRow[] = open.map((a, i) => {
    const fix = opts.fixOf?.(a);
    return { status: 'open', domain: a.domain, endpoint: a.endpoint, daysLeft: null, expires: '', issuer: '', problem: problemText(events[i]!), ...(fix ? { fix } : {}) };
  });
  const head = `${watching}, ${plural(open.length, 'open problem')}`;
  const items = open.map((a) => `${a.code} on ${a.domain}`);
  const subject = composeSubject((room) => {
    const names = fitNames(items, room - head.length - 2);
    return names ? `${head}: ${names}` : head;
  }, []);
  const story = `${head}: ${nameList(items)}`;
  const summary = `${stamp(opts.now)}: ${plural(open.length, 'problem')} still open, nothing new.`;
  const shown = Math.min(rows.length, MAX_ROWS);
  const rest = restLine(rows, shown, undefined);
  const groups: DigestGroup[] = [{ severity: 'info', title: 'STILL OPEN', events }];
  const base = { story, summary, rows, shown, rest };
  return { subject, counts, groups, ...base, text: bodyText(base) };
}
