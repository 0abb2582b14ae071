/**
 * The dashboard page (`GET /` of `certs daemon`, and `certs report --html`): summary cards, the
 * 13-week expiry timeline, the last run, and the endpoint table. Pure: DashboardData in, one
 * self-contained HTML document out (style and script inline, see assets.ts for the CSP).
 *
 * The table: every row goes into the page as compact JSON (<script type="application/json"
 * id="rows">: RowsDocument, see CompactRow for a row's fields) and ~60 lines of script sort, filter and page
 * through it, 100 rows a page; the server renders the first page as HTML too, so the page shows
 * something without JavaScript (the controls stay disabled then). At 10,000 rows the page is
 * the JSON (~75 bytes a row; gzip ~7×) plus 100 rendered rows: no per-row template or regex
 * on the server.
 *
 * Stable hooks for the browser tests (test/e2e/dashboard-browser.test.ts):
 * - cards: data-testid="card-ok" | card-warning | card-critical | card-unknown | card-within7 |
 *   card-within30, whose text is the bare count;
 * - timeline: <g data-testid="timeline-bar" data-count="N"> per week (core/charts.ts);
 * - rows: <tr data-testid="endpoint-row" data-status data-days data-id> (data-days and data-id
 *   empty when unknown), in tbody#rows-body;
 * - sorting: <th data-col=K aria-sort> holding <button data-sort=K>, K = domain | endpoint |
 *   days | issuer | status (first click ascending, again descending; status sorts by urgency;
 *   rows without days left or issuer stay last either way);
 * - filters: select#filter-status (''/ok/warning/critical/unknown), select#filter-code
 *   (''/a problem code), input#filter-text (substring of domain, endpoint, issuer, codes);
 * - pager: button#page-prev, button#page-next, #page-info ("1–100 of 1,234").
 * - the last run: section#last-run.
 * - nodes (a cluster, or a silent node): section#nodes, <tr data-testid="node-row" data-silent>.
 */
import { lifetimeBarSvg, lifetimePercent, timelineSvg } from '../core/charts.js';
import { STATUS_ORDER, TIMELINE_WEEKS, weekTotal } from '../core/dashboard.js';
import type { Status } from '../core/problems.js';
import { CONTENT_SECURITY_POLICY, SCRIPT, STYLE } from './assets.js';
import { esc, num, plural, timeEl } from './html.js';
import type { DashboardData, DashboardRow, RunView } from './model.js';
import type { NodeView } from '../core/nodes.js';
import { hrefFor, type PageOptions } from './page-options.js';

/** Rows a page of the table shows (the script's PAGE). */
export const PAGE_SIZE = 100;

export const STATUS_ICON: Record<Status, string> = { critical: '✖', warning: '▲', unknown: '?', ok: '✓' };

/**
 * One row as the page's JSON carries it: an array, in this order (arrays of one shape stringify
 * fastest and are ~30% smaller than keyed objects):
 *   0 id (null: never scanned) · 1 domain · 2 endpoint label, or only what follows the domain
 *   when the label starts with it (flag 2) · 3 status · 4 days left (null) · 5 lifetime left in
 *   whole percent (null) · 6 issuer, as an index into the page's `issuers` (null: none) ·
 *   7 problem codes separated by spaces ('' for none) · 8 flags: 1 managed, 2 the label starts
 *   with the domain · 9 only where the page's link template does not give the row's detail
 *   link: that link, or null for none.
 */
export type CompactRow = [
  id: number | null, domain: string, endpoint: string, status: Status, daysLeft: number | null,
  lifetime: number | null, issuer: number | null, codes: string, flags: number, href?: string | null,
];

/** Detail links as `pre + id + post` (null: the page has no template; rows carry their own link, if any). */
export type HrefTemplate = [pre: string, post: string] | null;

/** What the rows share, sent once: the link template and the issuers (a fleet has few). */
export interface RowsContext {
  href: HrefTemplate;
  issuers: string[];
}

/** The page's JSON. */
export interface RowsDocument extends RowsContext {
  rows: CompactRow[];
}

const KNOWN_STATUS: ReadonlySet<string> = new Set(STATUS_ORDER);

/** `s` when it is a status, else 'unknown': statuses go into class names and markup unescaped. */
export function knownStatus(s: string): Status {
  return KNOWN_STATUS.has(s) ? (s as Status) : 'unknown';
}

const MANAGED = 1;
const DOMAIN_PREFIX = 2;
const PROBE_ID = 9_876_543_210;

/** The link template of `opts`, read off one probe id: `endpoint/<id>` gives ['endpoint/', '']. */
export function hrefTemplate(opts: PageOptions): HrefTemplate {
  const probe = hrefFor(opts, PROBE_ID);
  if (probe === null) return null;
  const parts = probe.split(String(PROBE_ID));
  return parts.length === 2 ? [parts[0]!, parts[1]!] : null;
}

/** The link of row `c` under `tpl`, as the page script works it out. */
export function rowHref(c: CompactRow, tpl: HrefTemplate): string | null {
  if (c.length > 9) return c[9] ?? null;
  return c[0] !== null && tpl ? tpl[0] + c[0] + tpl[1] : null;
}

/** The rows of the page's JSON, in the order given. */
export function compactRows(rows: readonly DashboardRow[], opts: PageOptions): RowsDocument {
  const href = hrefTemplate(opts);
  const issuers: string[] = [];
  const issuerIndex = new Map<string, number>();
  const out: CompactRow[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    let issuer: number | null = null;
    if (r.issuer !== null) {
      issuer = issuerIndex.get(r.issuer) ?? null;
      if (issuer === null) {
        issuer = issuers.push(r.issuer) - 1;
        issuerIndex.set(r.issuer, issuer);
      }
    }
    const p = r.problems;
    const codes = p.length === 0 ? '' : p.length === 1 ? p[0]!.code : p.map((x) => x.code).join(' ');
    const prefixed = r.endpoint.startsWith(r.domain);
    // Status, id and days go into markup unescaped (page script and rowHtml alike): only known
    // values pass, whatever the store held.
    const c: CompactRow = [
      Number.isSafeInteger(r.id) ? r.id : null, r.domain, prefixed ? r.endpoint.slice(r.domain.length) : r.endpoint,
      knownStatus(r.status), Number.isFinite(r.daysLeft) ? r.daysLeft : null,
      lifetimePercent(r.lifetimeLeft), issuer, codes, (r.managed ? MANAGED : 0) | (prefixed ? DOMAIN_PREFIX : 0),
    ];
    const h = hrefFor(opts, r.id);
    if (h !== rowHref(c, href)) c.push(h);
    out[i] = c;
  }
  return { href, issuers, rows: out };
}

/** One table row; the same markup as assets.ts's rowHtml (the page script) for the same row and context. */
export function rowHtml(r: CompactRow, ctx: RowsContext): string {
  const [id, domain, ep, s, n, l, u, codes, flags] = r;
  const href = rowHref(r, ctx.href);
  const endpoint = flags & DOMAIN_PREFIX ? domain + ep : ep;
  let h = `<tr data-testid="endpoint-row" data-status="${s}" data-days="${n === null ? '' : n}" data-id="${id === null ? '' : id}"><td class="c-domain">`;
  h += href !== null ? `<a href="${esc(href)}">${esc(domain)}</a>` : esc(domain);
  if (flags & MANAGED) h += ' <span class="tag">managed</span>';
  h += `</td><td class="c-ep">${esc(endpoint)}</td><td class="c-days">${n === null ? '–' : n}</td><td class="c-life">${lifetimeBarSvg(l, s)}</td><td class="c-issuer">${u === null ? '–' : esc(ctx.issuers[u] ?? '')}</td>`;
  h += `<td class="c-status"><span class="st s-${s}"><span aria-hidden="true">${STATUS_ICON[s]}</span> ${s}</span>`;
  if (codes) h += ` <span class="codes">${codes.split(' ').map((c) => `<code>${esc(c)}</code>`).join('')}</span>`;
  return `${h}</td></tr>`;
}

/**
 * JSON safe inside <script>: every '<' escaped, so no `</script>` or `<!--` in a name can end or
 * bend the element (one pass over the whole string, not per row). U+2028/2029 are valid in JSON
 * and in JS since ES2019.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function pageHead(title: string, opts: PageOptions): string {
  const nonce = opts.cspNonce ? ` nonce="${esc(opts.cspNonce)}"` : '';
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">`
    + '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">'
    + `<meta http-equiv="Content-Security-Policy" content="${esc(CONTENT_SECURITY_POLICY)}">`
    + `<meta name="referrer" content="no-referrer"><title>${esc(title)}</title><style${nonce}>${STYLE}</style></head>`;
}

export function scriptTag(opts: PageOptions): string {
  const nonce = opts.cspNonce ? ` nonce="${esc(opts.cspNonce)}"` : '';
  return `<script${nonce}>${SCRIPT}</script>`;
}

export function footer(generatedAt: string, version: string, mode: PageOptions['mode']): string {
  return `<footer>Generated ${timeEl(generatedAt)} by certs ${esc(version)}${mode === 'file' ? ' as a saved report: it does not update; run the report again, or open the daemon\'s dashboard' : ''}.</footer>`;
}

const CARD_LABEL: Record<Status, string> = { critical: 'critical', warning: 'warning', unknown: 'unknown', ok: 'ok' };

function cards(d: DashboardData): string {
  const s = d.summary;
  const out = ['<ul class="cards">'];
  for (const st of STATUS_ORDER) {
    out.push(`<li class="card c-${st}"><strong data-testid="card-${st}">${s[st]}</strong><span class="ico s-${st}" aria-hidden="true">${STATUS_ICON[st]}</span> ${CARD_LABEL[st]}</li>`);
  }
  out.push(`<li class="card c-soon"><strong data-testid="card-within7">${s.within7}</strong>expire within 7 days</li>`);
  out.push(`<li class="card c-soon"><strong data-testid="card-within30">${s.within30}</strong>expire within 30 days</li>`);
  out.push('</ul>');
  return out.join('');
}

/** A legend swatch drawn like the timeline's segments (solid managed, hatched monitor-only). */
function swatch(status: Status, managed: boolean): string {
  const geo = 'x="1" y="1" width="12" height="12"';
  return `<svg viewBox="0 0 14 14" aria-hidden="true">${managed ? `<rect class="seg s-${status}" ${geo}/>`
    : `<defs><pattern id="lg-${status}" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="hatch" width="1.6" height="4"/></pattern></defs><rect class="seg mon s-${status}" ${geo}/><rect fill="url(#lg-${status})" ${geo}/>`}</svg>`;
}

function timelineSection(d: DashboardData): string {
  const total = d.timeline.reduce((n, w) => n + weekTotal(w), 0);
  const out = [`<section aria-labelledby="h-timeline"><h2 id="h-timeline">Expiring in the next ${d.timeline.length || TIMELINE_WEEKS} weeks</h2>`];
  out.push(timelineSvg(d.timeline, 'tl'));
  out.push('<ul class="legend">');
  for (const st of STATUS_ORDER) out.push(`<li>${swatch(st, true)}${st}</li>`);
  out.push(`<li>${swatch('ok', false)}hatched: monitor-only (not renewed by certs)</li></ul>`);
  // The same numbers as a table, for screen readers and for reading exact counts.
  out.push(`<details><summary>The timeline as a table (${plural(total, 'certificate')})</summary><div class="table-wrap"><table><thead><tr><th scope="col">Week from</th><th scope="col">Managed</th><th scope="col">Monitor-only</th><th scope="col">Total</th></tr></thead><tbody>`);
  for (const w of d.timeline) {
    out.push(`<tr><td>${timeEl(w.start)}</td><td>${countsCell(w.managed)}</td><td>${countsCell(w.monitored)}</td><td>${weekTotal(w)}</td></tr>`);
  }
  out.push('</tbody></table></div></details></section>');
  return out.join('');
}

function countsCell(c: Record<Status, number>): string {
  const parts: string[] = [];
  for (const st of STATUS_ORDER) if (c[st] > 0) parts.push(`${c[st]} ${st}`);
  return parts.length ? parts.join(', ') : '–';
}

function names(list: readonly string[]): string {
  if (list.length === 0) return 'none';
  const shown = list.slice(0, 20).map(esc).join(', ');
  return list.length > 20 ? `${shown} and ${num(list.length - 20)} more` : shown;
}

const OUTCOME_STATUS: Record<RunView['outcome'], Status> = { ok: 'ok', warning: 'warning', critical: 'critical', failed: 'critical', error: 'critical' };

export function lastRunSection(run: RunView | null): string {
  const out = ['<section id="last-run" aria-labelledby="h-run"><h2 id="h-run">Last run</h2>'];
  if (!run) {
    out.push('<p class="muted">No run recorded yet.</p></section>');
    return out.join('');
  }
  const st = OUTCOME_STATUS[run.outcome] ?? 'unknown';
  out.push('<dl class="kv">');
  out.push(`<dt>When</dt><dd>${timeEl(run.startedAt)}${run.finishedAt ? ` – ${timeEl(run.finishedAt)}` : ' (did not finish)'}</dd>`);
  out.push(`<dt>Outcome</dt><dd><span class="st s-${st}"><span aria-hidden="true">${STATUS_ICON[st]}</span> ${esc(run.outcome)}</span></dd>`);
  out.push(`<dt>Renewed</dt><dd>${names(run.renewed)}</dd>`);
  out.push(`<dt>Deployed</dt><dd>${names(run.deployed)}</dd>`);
  if (run.failed.length) out.push(`<dt>Failed</dt><dd>${names(run.failed)}</dd>`);
  out.push(`<dt>Notified</dt><dd>${plural(run.notified, 'notification')}</dd>`);
  out.push('</dl></section>');
  return out.join('');
}

/** The nodes of a cluster: who runs which version, when each was last seen and how its last run went. */
export function nodesSection(nodes: readonly NodeView[] | undefined): string {
  if (!nodes || nodes.length === 0) return '';
  const out = [`<section id="nodes" aria-labelledby="h-nodes"><h2 id="h-nodes">Nodes (${num(nodes.length)})</h2><div class="table-wrap"><table><thead><tr><th scope="col">Node</th><th scope="col">Version</th><th scope="col">Last seen</th><th scope="col">Last run</th><th scope="col">Status</th></tr></thead><tbody>`];
  for (const n of nodes) {
    const run = !n.lastRun ? '–' : n.lastRun.finishedAt ? `${esc(n.lastRun.outcome ?? 'unknown')}, ${timeEl(n.lastRun.finishedAt)}` : `started ${timeEl(n.lastRun.startedAt)}, not finished`;
    const st = n.silent ? `<span class="st s-warning"><span aria-hidden="true">${STATUS_ICON.warning}</span> silent</span>` : `<span class="st s-ok"><span aria-hidden="true">${STATUS_ICON.ok}</span> seen</span>`;
    out.push(`<tr data-testid="node-row" data-silent="${n.silent}"><td>${esc(n.name)}</td><td>${esc(n.version)}</td><td>${timeEl(n.lastSeenAt)}</td><td>${run}</td><td>${st}</td></tr>`);
  }
  out.push('</tbody></table></div></section>');
  return out.join('');
}

function sortHead(key: string, label: string, cls = ''): string {
  return `<th scope="col" data-col="${key}" aria-sort="none"${cls ? ` class="${cls}"` : ''}><button type="button" data-sort="${key}">${label}</button></th>`;
}

function tableSection(d: DashboardData, doc: RowsDocument): string {
  const rows = doc.rows;
  const counts: Record<string, number> = {};
  for (const r of d.rows) for (const p of r.problems) counts[p.code] = (counts[p.code] ?? 0) + 1;
  const codes = Object.keys(counts).sort();
  const out = [`<section id="endpoints" aria-labelledby="h-endpoints"><h2 id="h-endpoints">Endpoints (${num(d.rows.length)})</h2>`];
  if (d.rows.length === 0) {
    out.push('<p class="muted">No endpoints yet: add domains to the config (<code>certs add</code>) and run <code>certs scan</code>.</p></section>');
    return out.join('');
  }
  out.push('<div class="filters" role="search">');
  out.push('<label for="filter-status">Status<select id="filter-status" disabled><option value="">all</option>');
  for (const st of STATUS_ORDER) out.push(`<option value="${st}">${st} (${num(d.summary[st])})</option>`);
  out.push('</select></label><label for="filter-code">Problem<select id="filter-code" disabled><option value="">any</option>');
  for (const c of codes) out.push(`<option value="${esc(c)}">${esc(c)} (${num(counts[c]!)})</option>`);
  out.push('</select></label><label for="filter-text">Search<input id="filter-text" type="search" placeholder="domain, endpoint, issuer…" autocomplete="off" disabled></label></div>');
  const first = rows.slice(0, PAGE_SIZE);
  if (rows.length > PAGE_SIZE) out.push(`<p id="nojs" class="muted">Showing the ${PAGE_SIZE} most urgent endpoints: sorting, filters and the other pages need JavaScript.</p>`);
  out.push('<div class="table-wrap"><table class="endpoints"><caption class="sr">Endpoints, most urgent first; the column buttons sort.</caption><thead><tr>');
  out.push(sortHead('domain', 'Domain'), sortHead('endpoint', 'Endpoint'), sortHead('days', 'Days left'), '<th scope="col" class="c-life">Lifetime left</th>', sortHead('issuer', 'Issuer'), sortHead('status', 'Status'));
  out.push('</tr></thead><tbody id="rows-body">');
  for (const r of first) out.push(rowHtml(r, doc));
  out.push('</tbody></table></div>');
  out.push(`<nav class="pager" aria-label="Table pages"><button type="button" id="page-prev" disabled>← Previous</button><span id="page-info" aria-live="polite">1–${num(first.length)} of ${num(rows.length)}</span><button type="button" id="page-next"${rows.length > PAGE_SIZE ? '' : ' disabled'}>Next →</button></nav>`);
  out.push('</section>');
  return out.join('');
}

/** The whole dashboard page. */
export function renderDashboard(data: DashboardData, opts: PageOptions = { mode: 'daemon' }): string {
  const doc = compactRows(data.rows, opts);
  const s = data.summary;
  const worst = s.critical ? `${s.critical} critical` : s.warning ? `${s.warning} warning` : s.unknown ? `${s.unknown} unknown` : 'all ok';
  const out = [pageHead(`certs: ${plural(data.rows.length, 'endpoint')}, ${worst}`, opts)];
  out.push('<body><a class="skip" href="#endpoints">Skip to the endpoint table</a>');
  out.push(`<header><h1>certs dashboard</h1><p class="sub">${plural(data.rows.length, 'endpoint')} as of ${timeEl(data.generatedAt)}</p></header><main>`);
  out.push(`<section aria-labelledby="h-summary"><h2 id="h-summary" class="sr">Summary</h2>${cards(data)}</section>`);
  out.push(timelineSection(data));
  out.push(lastRunSection(data.lastRun));
  out.push(nodesSection(data.nodes));
  out.push(tableSection(data, doc));
  out.push('</main>', footer(data.generatedAt, data.version, opts.mode));
  if (doc.rows.length) out.push(`<script type="application/json" id="rows">${scriptJson(doc)}</script>`, scriptTag(opts));
  out.push('</body></html>\n');
  return out.join('');
}
