/**
 * Notification emails from the templates of config/email-templates.ts: a digest (plain text plus
 * an HTML alternative) and the test message of `certs notify test`.
 *
 * Every value handed to a template is a finished string: the plain-text ones as they are, the
 * HTML ones escaped here (messages carry domain names, CA error details and server answers that
 * we do not control, so nothing reaches the HTML unescaped).
 */
import type { EmailTemplates } from '../config/email-templates.js';
import { renderTemplate, templateVariables, type Template } from '../core/template.js';
import { escapeHtml } from '../core/html-escape.js';
import { STATUS_LABELS, tableText, type DigestRow, type RowStatus } from '../core/digest.js';

export type DigestSeverity = 'critical' | 'warning' | 'info';
export type DigestEventKind = 'expiry' | 'problem' | 'recovery' | 'unexpected-change' | 'hook-failed' | 'issuer-fallback' | 'node-silent';

export interface DigestEvent {
  kind: DigestEventKind;
  /** One line, e.g. "example.com (203.0.113.7:443) expires in 6 days" (without its fix). */
  message: string;
  /** What to do about it, shown once as "— fix: <hint>" (the legacy per-severity blocks). */
  hint?: string;
}

export interface DigestGroup {
  severity: DigestSeverity;
  kind?: DigestEventKind;
  events: DigestEvent[];
}

export interface DigestInput {
  subject: string;
  /** Replaces the default footer line (plain text; escaped for the HTML part). */
  text?: string;
  /** The legacy per-severity blocks ({{criticalLines}} …), kept for user templates that use them. */
  groups: DigestGroup[];
  /** One line: counts by status and what changed since the last digest. */
  summary: string;
  /** The whole story on one line (core/digest.ts digestStory); the body's first line. */
  story?: string;
  /** The table's rows in urgency order; only the first `shown` are rendered. */
  rows?: readonly DigestRow[];
  /** How many rows to render (default all). */
  shown?: number;
  /** The line counting the rows not shown, and where to see them. */
  rest?: string | null;
  now: Date;
}

export interface RenderedDigest {
  subject: string;
  text: string;
  html: string;
}

export interface RenderedTestEmail {
  subject: string;
  text: string;
}

export const DEFAULT_FOOTER = 'Sent by certs. Recipients and thresholds are set under notify: in its configuration.';

export { escapeHtml };

/** A header value on one line: CR/LF (and other control characters) become spaces. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

function textLine(e: DigestEvent): string {
  return `• ${e.message}${e.hint ? ` — fix: ${e.hint}` : ''}`;
}

function htmlLine(e: DigestEvent): string {
  return `<li style="margin:0 0 4px 0;">${escapeHtml(e.message)}${e.hint ? ` — <em>fix:</em> ${escapeHtml(e.hint)}` : ''}</li>`;
}

type Block = 'critical' | 'warning' | 'recovered' | 'info';

/** Recoveries (by event or group kind) get their own block; everything else goes by severity. */
function blockOf(group: DigestGroup, event: DigestEvent): Block {
  if (event.kind === 'recovery' || group.kind === 'recovery') return 'recovered';
  return group.severity;
}

/**
 * Status badges: the word is the information, the colour only repeats it. Each badge brings its
 * own background, with white text at a contrast of at least 4.5:1, so it reads the same on a
 * light page, a dark one, and in clients that invert colours.
 */
export const BADGE_COLOURS: Readonly<Record<RowStatus, string>> = {
  critical: '#b42318',
  warning: '#8a4b00',
  recovered: '#1a7f37',
  open: '#57606a',
};

/*
 * No colour of text or page is set except through the page's own colour scheme (Canvas and
 * CanvasText under color-scheme: light dark): a client in dark mode paints its dark background
 * and light text, one that does not know these keeps its defaults. Lines are grey at partial
 * opacity, visible on either background. No <style> block: many clients strip it.
 */
const RULE = 'rgba(127,127,127,0.4)';
const CELL = `padding:6px 8px;text-align:left;vertical-align:top;`;
/* Long names wrap at their dots (the <wbr> of nameHtml()), not inside a label: the table keeps
   readable columns and, on a narrow screen, scrolls in its own box. break-word only as a last resort. */
const NAME = 'overflow-wrap:break-word;';
const NOWRAP = 'white-space:nowrap;';

/** `certs renew x` in a fix (already escaped) as <code>: the command stands out and copies whole. */
function withCode(escaped: string): string {
  return escaped.replace(/`([^`]+)`/g, '<code style="font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;">$1</code>');
}

function badge(status: RowStatus): string {
  return `<span style="display:inline-block;padding:1px 6px;border-radius:3px;background-color:${BADGE_COLOURS[status]};color:#ffffff;font-size:11px;font-weight:700;letter-spacing:0.03em;${NOWRAP}">${STATUS_LABELS[status]}</span>`;
}

/** Names up to this long stay on one line; longer ones (up to 253) may wrap at their dots. */
const NOWRAP_NAME = 32;

/**
 * A name, escaped: whole on one line when short ("shop.example.com"), else with a break
 * opportunity after each dot and slash, so it wraps between labels and never inside one.
 */
function nameHtml(value: string): string {
  if (value.length <= NOWRAP_NAME) return `<span style="${NOWRAP}">${escapeHtml(value)}</span>`;
  return escapeHtml(value).replace(/([./])(?=.)/g, '$1<wbr>');
}

/** "host:443 @203.0.113.7": the address may go to its own line. */
function endpointHtml(endpoint: string): string {
  const at = endpoint.indexOf(' @');
  return at < 0 ? nameHtml(endpoint) : `${nameHtml(endpoint.slice(0, at))} ${nameHtml(endpoint.slice(at + 1))}`;
}

function htmlRow(r: DigestRow): string {
  const line = `border-bottom:1px solid ${RULE};`;
  const under = r.fix ? '' : line;
  const cells = [
    `<td style="${CELL}${under}">${badge(r.status)}</td>`,
    `<td style="${CELL}${under}${NAME}">${nameHtml(r.domain)}</td>`,
    `<td style="${CELL}${under}${NAME}">${endpointHtml(r.endpoint)}</td>`,
    `<td style="${CELL}${under}text-align:right;${NOWRAP}">${r.daysLeft === null ? '–' : escapeHtml(String(r.daysLeft))}</td>`,
    `<td style="${CELL}${under}${NOWRAP}">${escapeHtml(r.expires || '–')}</td>`,
    `<td style="${CELL}${under}">${escapeHtml(r.issuer || '–')}</td>`,
    `<td style="${CELL}${under}${NAME}">${escapeHtml(r.problem)}</td>`,
  ];
  const row = `<tr>${cells.join('')}</tr>`;
  if (!r.fix) return row;
  return `${row}\n<tr><td style="padding:0 8px 8px 8px;${line}"></td><td colspan="6" style="padding:0 8px 8px 8px;${line}${NAME}"><strong>Fix:</strong> ${withCode(escapeHtml(r.fix))}</td></tr>`;
}

const HEADINGS = ['Status', 'Domain', 'Endpoint', 'Days left', 'Expires', 'Issuer', 'Problem'];

/** The digest's table: a real <table>, inline styles only, in a box that scrolls sideways on a narrow screen instead of the page. */
export function tableHtml(rows: readonly DigestRow[]): string {
  if (rows.length === 0) return '';
  const th = HEADINGS.map((h, i) => `<th scope="col" style="${CELL}${NOWRAP}border-bottom:2px solid ${RULE};font-weight:600;${i === 3 ? 'text-align:right;' : ''}">${h}</th>`).join('');
  return [
    '<div style="overflow-x:auto;max-width:100%;">',
    '<table cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;width:100%;font-size:13px;line-height:1.4;">',
    `<thead><tr>${th}</tr></thead>`,
    '<tbody>',
    ...rows.map(htmlRow),
    '</tbody>',
    '</table>',
    '</div>',
  ].join('\n');
}

const usesCache = new WeakMap<Template, Set<string>>();

/** The variable names a template uses (once per loaded template). */
function uses(template: Template): Set<string> {
  let names = usesCache.get(template);
  if (!names) usesCache.set(template, (names = new Set(templateVariables(template).map((v) => v.name))));
  return names;
}

export function renderDigestEmail(templates: EmailTemplates, digest: DigestInput): RenderedDigest {
  const blocks: Record<Block, DigestEvent[]> = { critical: [], warning: [], recovered: [], info: [] };
  for (const group of digest.groups) for (const event of group.events) blocks[blockOf(group, event)].push(event);
  const subject = oneLine(digest.subject);
  const generatedAt = digest.now.toISOString();
  const footer = digest.text ?? DEFAULT_FOOTER;
  const rows = (digest.rows ?? []).slice(0, digest.shown ?? digest.rows?.length ?? 0);
  const rest = digest.rest ?? '';
  const story = digest.story ?? '';
  const flags = {
    hasCritical: blocks.critical.length > 0,
    hasWarning: blocks.warning.length > 0,
    hasRecovered: blocks.recovered.length > 0,
    hasInfo: blocks.info.length > 0,
    hasRows: rows.length > 0,
    hasRest: rest !== '',
    hasStory: story !== '',
  };
  // The per-severity lists only for a template that shows them: the bundled ones do not, and a
  // fleet's digest would otherwise format every one of 10,000 events twice for nothing.
  const textUses = uses(templates.digestText);
  const htmlUses = uses(templates.digestHtml);
  const lines = (b: Block): string => (textUses.has(`${b}Lines`) ? blocks[b].map(textLine).join('\n') : '');
  const items = (b: Block): string => (htmlUses.has(`${b}Html`) ? blocks[b].map(htmlLine).join('\n') : '');
  const text = renderTemplate(templates.digestText, {
    subject,
    story,
    summary: digest.summary,
    table: tableText(rows),
    rest,
    criticalLines: lines('critical'),
    warningLines: lines('warning'),
    recoveredLines: lines('recovered'),
    infoLines: lines('info'),
    ...flags,
    generatedAt,
    footer,
  });
  const html = renderTemplate(templates.digestHtml, {
    subject: escapeHtml(subject),
    story: escapeHtml(story),
    summary: escapeHtml(digest.summary),
    tableHtml: tableHtml(rows),
    rest: escapeHtml(rest),
    criticalHtml: items('critical'),
    warningHtml: items('warning'),
    recoveredHtml: items('recovered'),
    infoHtml: items('info'),
    ...flags,
    generatedAt: escapeHtml(generatedAt),
    footer: escapeHtml(footer),
  });
  return { subject, text, html };
}

export function renderTestEmail(templates: EmailTemplates, input: { host: string; now: Date }): RenderedTestEmail {
  const host = oneLine(input.host);
  return {
    subject: `certs: test message from ${host}`,
    text: renderTemplate(templates.test, { host, generatedAt: input.now.toISOString() }),
  };
}
