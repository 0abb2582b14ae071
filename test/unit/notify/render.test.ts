import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError, ValidationError } from '../../../src/core/errors.js';
import { BUNDLED_EMAIL_TEMPLATE_DIR, checkEmailTemplates, loadEmailTemplates } from '../../../src/config/email-templates.js';
import { DEFAULT_FOOTER, escapeHtml, renderDigestEmail, renderTestEmail, type DigestInput } from '../../../src/notify/render.js';

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

const digest: DigestInput = {
  subject: 'certs: 1 critical, 1 warning, 1 recovered',
  summary: '2 certificates need attention; 1 recovered.',
  now,
  groups: [
    { severity: 'critical', kind: 'expiry', events: [{ kind: 'expiry', message: 'example.com (203.0.113.7:443) expires in 2 days', hint: 'certs renew example.com' }] },
    { severity: 'warning', kind: 'problem', events: [{ kind: 'problem', message: 'shop.example.com serves an incomplete chain' }] },
    { severity: 'info', kind: 'recovery', events: [{ kind: 'recovery', message: 'api.example.com serves a valid certificate again' }] },
  ],
};

describe('renderDigestEmail with the bundled templates', () => {
  it('text: subject, summary, one block per non-empty severity, lines "• message — fix: hint"', () => {
    const out = renderDigestEmail(loadEmailTemplates(), digest);
    assert.equal(out.subject, digest.subject);
    assert.ok(out.text.startsWith(`${digest.subject}\n\n${digest.summary}\n`), out.text);
    assert.ok(out.text.includes('CRITICAL\n• example.com (203.0.113.7:443) expires in 2 days — fix: certs renew example.com\n'), out.text);
    assert.ok(out.text.includes('WARNING\n• shop.example.com serves an incomplete chain\n'), out.text);
    assert.ok(out.text.includes('RECOVERED\n• api.example.com serves a valid certificate again\n'), out.text);
    assert.ok(!out.text.includes('INFO'), 'no empty info block');
    assert.ok(out.text.includes('Generated 2026-11-25T03:17:00.000Z'), out.text);
    assert.ok(out.text.includes(DEFAULT_FOOTER), out.text);
    assert.ok(!out.text.includes('{{'), out.text);
    assert.ok(!/\n\n\n/.test(out.text), 'sections leave no runs of blank lines');
  });

  it('html: the same lines as <li>, inline styles only, no external resources', () => {
    const { html } = renderDigestEmail(loadEmailTemplates(), digest);
    assert.ok(html.includes('<li style="margin:0 0 4px 0;">example.com (203.0.113.7:443) expires in 2 days — <em>fix:</em> certs renew example.com</li>'), html);
    assert.match(html, />Critical</);
    assert.match(html, />Warning</);
    assert.match(html, />Recovered</);
    assert.doesNotMatch(html, />Info</);
    assert.doesNotMatch(html, /<(link|script|img)\b|src=|url\(|https?:\/\//i);
    assert.ok(!html.includes('{{'));
  });

  it('an info-only digest shows only the info block', () => {
    const out = renderDigestEmail(loadEmailTemplates(), { subject: 's', summary: 'all good', now, groups: [{ severity: 'info', events: [{ kind: 'problem', message: 'heartbeat: 12 certificates fine' }] }] });
    assert.ok(out.text.includes('INFO\n• heartbeat: 12 certificates fine'), out.text);
    assert.ok(!out.text.includes('CRITICAL') && !out.text.includes('WARNING') && !out.text.includes('RECOVERED'));
  });

  it('escapes everything that goes into the HTML; the text keeps it as is', () => {
    const evil = '<script>alert(1)</script>.example.com';
    const out = renderDigestEmail(loadEmailTemplates(), {
      subject: 'certs: <b>1</b> critical\r\nBcc: victim@example.com',
      summary: 'Tom & "Jerry" <x>',
      text: "footer with <i>'quotes'</i>",
      now,
      groups: [{ severity: 'critical', events: [{ kind: 'problem', message: `${evil} (203.0.113.7:443) is broken`, hint: 'run <cmd> & see' }] }],
    });
    assert.ok(!out.html.includes('<script>'), out.html);
    assert.ok(!out.html.includes('<b>1</b>'));
    assert.ok(!out.html.includes('<i>'));
    assert.ok(out.html.includes('&lt;script&gt;alert(1)&lt;/script&gt;.example.com'), out.html);
    assert.ok(out.html.includes('run &lt;cmd&gt; &amp; see'), out.html);
    assert.ok(out.html.includes('Tom &amp; &quot;Jerry&quot; &lt;x&gt;'), out.html);
    assert.ok(out.html.includes('footer with &lt;i&gt;&#39;quotes&#39;&lt;/i&gt;'), out.html);
    assert.ok(out.text.includes(`• ${evil} (203.0.113.7:443) is broken — fix: run <cmd> & see`), out.text);
    assert.ok(!/[\r\n]/.test(out.subject), 'the subject stays on one line');
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
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
      assert.match(err.message, /this template knows: subject, summary, criticalHtml, /);
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
