/**
 * Notification emails from the templates of config/email-templates.ts: a digest (plain text plus
 * an HTML alternative) and the test message of `certs notify test`.
 *
 * Every value handed to a template is a finished string: the plain-text ones as they are, the
 * HTML ones escaped here (messages carry domain names, CA error details and server answers that
 * we do not control, so nothing reaches the HTML unescaped).
 */
import type { EmailTemplates } from '../config/email-templates.js';
import { renderTemplate } from '../core/template.js';
import { escapeHtml } from '../core/html-escape.js';

export type DigestSeverity = 'critical' | 'warning' | 'info';
export type DigestEventKind = 'expiry' | 'problem' | 'recovery';

export interface DigestEvent {
  kind: DigestEventKind;
  /** One line, e.g. "example.com (203.0.113.7:443) expires in 6 days". */
  message: string;
  /** What to do about it, shown as "— fix: <hint>". */
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
  groups: DigestGroup[];
  /** One sentence, e.g. "2 certificates need attention, 1 recovered." */
  summary: string;
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

export function renderDigestEmail(templates: EmailTemplates, digest: DigestInput): RenderedDigest {
  const blocks: Record<Block, DigestEvent[]> = { critical: [], warning: [], recovered: [], info: [] };
  for (const group of digest.groups) for (const event of group.events) blocks[blockOf(group, event)].push(event);
  const subject = oneLine(digest.subject);
  const generatedAt = digest.now.toISOString();
  const footer = digest.text ?? DEFAULT_FOOTER;
  const flags = {
    hasCritical: blocks.critical.length > 0,
    hasWarning: blocks.warning.length > 0,
    hasRecovered: blocks.recovered.length > 0,
    hasInfo: blocks.info.length > 0,
  };
  const lines = (b: Block): string => blocks[b].map(textLine).join('\n');
  const items = (b: Block): string => blocks[b].map(htmlLine).join('\n');
  const text = renderTemplate(templates.digestText, {
    subject,
    summary: digest.summary,
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
    summary: escapeHtml(digest.summary),
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
