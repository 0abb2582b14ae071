import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError, ValidationError } from '../../../src/core/errors.js';
import { BUNDLED_EMAIL_TEMPLATE_DIR, checkEmailTemplates, loadEmailTemplates } from '../../../src/config/email-templates.js';
import { BADGE_COLOURS, DEFAULT_FOOTER, escapeHtml, renderDigestEmail, renderTestEmail, type DigestInput } from '../../../src/notify/render.js';
import type { DigestRow } from '../../../src/core/digest.js';

let dir: string;
let seq = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-email-templates-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function templateDir(files: Record<string, string>): string {
  const d = join(dir, `tpl${++seq}`);
  mkdirSync(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const now = new Date('2026-11-25T03:17:00.000Z');

const rows: DigestRow[] = [
  { status: 'critical', domain: 'example.com', endpoint: 'example.com:443 @203.0.113.7', daysLeft: 2, expires: '2026-11-27', issuer: "R11 (Let's Encrypt)", problem: 'expires in 2 days (threshold: 3 days)', fix: 'renew now with `certs renew example.com`' },
  { status: 'warning', domain: 'shop.example.com', endpoint: 'shop.example.com:443', daysLeft: 40, expires: '2027-01-04', issuer: '', problem: 'renewal-failing: the dns-01 hook failed', fix: 'fix the hook' },
  { status: 'recovered', domain: 'api.example.com', endpoint: 'api.example.com:443', daysLeft: null, expires: '', issuer: '', problem: 'unreachable cleared (open since 2026-11-23 15:02 UTC: refused)' },
];

const digest: DigestInput = {
  subject: '[certs] CRITICAL: example.com expires in 2 days; 1 more problem; 1 recovered',
  story: '1 certificate expires within 3 days: example.com; 1 warning: renewal-failing on shop.example.com; recovered: api.example.com',
  summary: '2026-11-25 03:17 UTC: 1 critical, 1 warning, 1 recovered. Since the last digest: 2 new, 1 recovered.',
  now,
  rows,
  groups: [
    { severity: 'critical', kind: 'expiry', events: [{ kind: 'expiry', message: 'example.com (203.0.113.7:443) expires in 2 days', hint: 'certs renew example.com' }] },
    { severity: 'warning', kind: 'problem', events: [{ kind: 'problem', message: 'shop.example.com serves an incomplete chain' }] },
    { severity: 'info', kind: 'recovery', events: [{ kind: 'recovery', message: 'api.example.com serves a valid certificate again' }] },
  ],
};

const count = (hay: string, needle: string): number => hay.split(needle).length - 1;

describe('renderDigestEmail with the bundled templates', () => {
  it('text: story, summary, then one table in the given order, each fix once on the line after its row', () => {
    const out = renderDigestEmail(loadEmailTemplates(), digest);
    assert.equal(out.subject, digest.subject);
    assert.ok(out.text.startsWith(`${digest.story}\n${digest.summary}\n\nSTATUS `), out.text);
    const lines = out.text.split('\n');
    const at = (prefix: string): number => lines.findIndex((l) => l.startsWith(prefix));
    assert.ok(at('CRITICAL ') < at('WARNING ') && at('WARNING ') < at('RECOVERED '), out.text);
    assert.match(lines[at('CRITICAL ')]!, /^CRITICAL +example\.com +example\.com:443 @203\.0\.113\.7 +2 +2026-11-27 +R11 \(Let's Encrypt\) +expires in 2 days/);
    assert.match(lines[at('CRITICAL ') + 1]!, /^ +fix: renew now with `certs renew example\.com`$/);
    assert.match(lines[at('WARNING ') + 1]!, /^ +fix: fix the hook$/);
    assert.equal(count(out.text, 'fix:'), 2, 'one fix per problem; none for the recovery');
    assert.ok(out.text.includes('Generated 2026-11-25T03:17:00.000Z'), out.text);
    assert.ok(out.text.includes(DEFAULT_FOOTER), out.text);
    assert.ok(!out.text.includes('{{'), out.text);
    assert.ok(!/\n\n\n/.test(out.text), 'sections leave no runs of blank lines');
  });

  it('html: a real table with text badges, inline styles only, no external resources, no white background', () => {
    const { html } = renderDigestEmail(loadEmailTemplates(), digest);
    assert.equal(count(html, '<table'), 1);
    assert.equal(count(html, '<th scope="col"'), 7);
    for (const label of ['CRITICAL', 'WARNING', 'RECOVERED']) assert.match(html, new RegExp(`<span style="[^"]*">${label}</span>`));
    assert.equal(count(html, '<strong>Fix:</strong>'), 2);
    assert.ok(html.includes('<code style="'), 'commands in a fix are set as code');
    assert.doesNotMatch(html, /<(link|script|img|style)\b|src=|url\(|https?:\/\//i);
    assert.doesNotMatch(html, /background(-color)?:\s*(#fff\b|#ffffff|white)/i, 'no hard white background (dark-mode clients invert it badly)');
    assert.ok(!html.includes('{{'));
  });

  it('only the first `shown` rows, then the rest line', () => {
    const out = renderDigestEmail(loadEmailTemplates(), { ...digest, shown: 1, rest: '2 more not shown (1 warning, 1 recovered); all of them on the dashboard: http://127.0.0.1:9464/' });
    assert.ok(!out.text.includes('shop.example.com:443'), out.text);
    assert.ok(out.text.includes('\n\n2 more not shown (1 warning, 1 recovered); all of them on the dashboard: http://127.0.0.1:9464/\n'), out.text);
    assert.ok(out.html.includes('2 more not shown'), out.html);
    assert.equal(count(out.html, '<strong>Fix:</strong>'), 1);
  });

  it('escapes everything that goes into the HTML; the text keeps it as is', () => {
    const evil = '<script>alert(1)</script>.example.com';
    const out = renderDigestEmail(loadEmailTemplates(), {
      subject: 'certs: <b>1</b> critical\r\nBcc: victim@example.com',
      story: 'a <i>story</i>',
      summary: 'Tom & "Jerry" <x>',
      text: "footer with <i>'quotes'</i>",
      now,
      rows: [{ status: 'critical', domain: evil, endpoint: `${evil}:443`, daysLeft: 1, expires: '2026-11-26', issuer: '<O=Evil & Co>', problem: 'revoked: <b>bad</b>', fix: 'run <cmd> & see `x<y`' }],
      groups: [{ severity: 'critical', events: [{ kind: 'problem', message: `${evil} (203.0.113.7:443) is broken`, hint: 'run <cmd> & see' }] }],
    });
    assert.ok(!out.html.includes('<script>'), out.html);
    assert.ok(!out.html.includes('<b>'));
    assert.ok(!out.html.includes('<i>'));
    // A long name may wrap at its dots and slashes (<wbr> after each), escaped first.
    assert.ok(out.html.includes('&lt;script&gt;alert(1)&lt;/<wbr>script&gt;.<wbr>example.<wbr>com'), out.html);
    assert.ok(out.html.includes('run &lt;cmd&gt; &amp; see <code style="font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;">x&lt;y</code>'), out.html);
    assert.ok(out.html.includes('&lt;O=Evil &amp; Co&gt;'), out.html);
    assert.ok(out.html.includes('Tom &amp; &quot;Jerry&quot; &lt;x&gt;'), out.html);
    assert.ok(out.html.includes('footer with &lt;i&gt;&#39;quotes&#39;&lt;/i&gt;'), out.html);
    assert.ok(out.text.includes(`CRITICAL  ${evil}`), out.text);
    assert.ok(out.text.includes('fix: run <cmd> & see `x<y`'), out.text);
    assert.ok(!/[\r\n]/.test(out.subject), 'the subject stays on one line');
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('badges: white text on each badge colour at 4.5:1 or more', () => {
    const lum = (hex: string): number => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    for (const [status, colour] of Object.entries(BADGE_COLOURS)) {
      const ratio = (1 + 0.05) / (lum(colour) + 0.05);
      assert.ok(ratio >= 4.5, `${status} ${colour}: ${ratio.toFixed(2)}`);
    }
  });
});

describe('renderDigestEmail: templates written for the per-severity blocks keep working', () => {
  it('criticalLines & co. are still filled, each fix once', () => {
    const d = templateDir({ 'digest.txt': '{{subject}}\n{{#hasCritical}}\nCRITICAL\n{{criticalLines}}\n{{/hasCritical}}\n{{#hasRecovered}}\nRECOVERED\n{{recoveredLines}}\n{{/hasRecovered}}\n' });
    const out = renderDigestEmail(loadEmailTemplates(d), digest);
    assert.equal(out.text, `${digest.subject}\nCRITICAL\n• example.com (203.0.113.7:443) expires in 2 days — fix: certs renew example.com\nRECOVERED\n• api.example.com serves a valid certificate again\n`);
  });
});

describe('renderTestEmail', () => {
  it('names the host and the time', () => {
    const out = renderTestEmail(loadEmailTemplates(), { host: 'web1.example.com', now });
    assert.equal(out.subject, 'certs: test message from web1.example.com');
    assert.ok(out.text.includes('web1.example.com'));
    assert.ok(out.text.includes('2026-11-25T03:17:00.000Z'));
  });
});

describe('loadEmailTemplates: a user templateDir', () => {
  it('overrides file by file; the rest falls back to the bundled ones', () => {
    const d = templateDir({ 'test.txt': 'Hello from {{host}} at {{generatedAt}}!\n' });
    const templates = loadEmailTemplates(d);
    assert.equal(templates.test.label, join(d, 'test.txt'));
    assert.equal(templates.digestText.label, join(BUNDLED_EMAIL_TEMPLATE_DIR, 'digest.txt'));
    assert.equal(renderTestEmail(templates, { host: 'h', now }).text, 'Hello from h at 2026-11-25T03:17:00.000Z!\n');
    assert.ok(renderDigestEmail(templates, digest).text.includes('CRITICAL'));
  });

  it('an override of the digest is used', () => {
    const d = templateDir({ 'digest.txt': '{{subject}}\n{{#hasCritical}}\n!! {{criticalLines}}\n{{/hasCritical}}\n{{^hasWarning}}\nno warnings\n{{/hasWarning}}\n' });
    const out = renderDigestEmail(loadEmailTemplates(d), { ...digest, groups: [digest.groups[0]!] });
    assert.equal(out.text, `${digest.subject}\n!! • example.com (203.0.113.7:443) expires in 2 days — fix: certs renew example.com\nno warnings\n`);
  });

  it('an unknown variable: error naming file:line and the variable', () => {
    const d = templateDir({ 'digest.html': '<p>{{summary}}</p>\n<ul>\n{{criticalLines}}\n</ul>\n' });
    const file = join(d, 'digest.html');
    assert.throws(() => checkEmailTemplates(d), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.ok(err.message.startsWith(`template ${file}:3: unknown variable "criticalLines"`), err.message);
      assert.match(err.message, /this template knows: subject, story, summary, tableHtml, rest, criticalHtml, /);
      return true;
    });
  });

  it('a flag used as a value is an error too', () => {
    const d = templateDir({ 'digest.txt': '{{subject}}\n{{hasCritical}}\n' });
    assert.throws(() => loadEmailTemplates(d), (err: unknown) => err instanceof ValidationError && err.message.includes(`${join(d, 'digest.txt')}:2: "hasCritical" is a flag`));
  });

  it('a syntax error: error naming file:line', () => {
    const d = templateDir({ 'digest.txt': '{{subject}}\n\n{{#hasCritical}}\n{{criticalLines}}\n' });
    assert.throws(() => loadEmailTemplates(d), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.ok(err.message.startsWith(`template ${join(d, 'digest.txt')}:3: unclosed section {{#hasCritical}}`), err.message);
      return true;
    });
  });

  it('a missing folder, or one with none of the templates', () => {
    assert.throws(() => loadEmailTemplates(join(dir, 'nope')), (err: unknown) => err instanceof IoError && /template folder .*nope not found/.test(err.message));
    const empty = templateDir({ 'other.txt': 'x' });
    assert.throws(() => loadEmailTemplates(empty), (err: unknown) => err instanceof IoError && /holds none of digest\.txt, digest\.html, test\.txt/.test(err.message));
  });
});
