import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFixture } from '../../helpers/config-fixture.js';

const { caseDir, write, load, assertConfigError } = configFixture('certs-notify-config-');

const SMTP = '    smtp: { host: smtp.example.com }\n    from: certs@example.com\n    to: [ops@example.com]\n';

describe('notify.templateDir is checked at load', () => {
  it('an unknown variable: ConfigError at notify.templateDir naming file and line', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'mail'));
    const tpl = join(folder, 'mail', 'digest.txt');
    writeFileSync(tpl, '{{subject}}\n\n{{summary}}\n{{criticalCount}}\n');
    const file = write(folder, `notify:\n  templateDir: mail\n  email:\n${SMTP}`);
    const err = assertConfigError(file, 'notify.templateDir', /unknown variable "criticalCount"/);
    assert.ok(err.message.includes(`template ${tpl}:4: unknown variable "criticalCount"`), err.message);
    assert.match(err.message, /\(line 2, column 3\)$/, 'points at the templateDir key');
  });

  it('a template syntax error: ConfigError naming file:line', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'mail'));
    const tpl = join(folder, 'mail', 'digest.html');
    writeFileSync(tpl, '<h1>{{subject}}</h1>\n{{#hasCritical}}\n<ul>{{criticalHtml}}</ul>\n{{/hasWarning}}\n');
    const err = assertConfigError(write(folder, 'notify:\n  templateDir: ./mail\n  webhook: { url: "https://hooks.example.com/x" }\n'), 'notify.templateDir', /does not match the open section \{\{#hasCritical\}\}/);
    assert.ok(err.message.includes(`template ${tpl}:4: `), err.message);
  });

  it('a missing folder is a ConfigError at notify.templateDir', () => {
    assertConfigError(write(caseDir(), `notify:\n  templateDir: ./nope\n  email:\n${SMTP}`), 'notify.templateDir', /template folder .*nope not found/);
  });

  it('a good override loads and is resolved against the config folder', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'mail'));
    writeFileSync(join(folder, 'mail', 'test.txt'), 'certs on {{host}} says hi ({{generatedAt}})\n');
    assert.equal(load(`notify:\n  templateDir: mail\n  email:\n${SMTP}`, folder).notify?.templateDir, join(folder, 'mail'));
  });

  it('notify with thresholds only is fine (templates are not checked)', () => {
    const notify = load('notify:\n  thresholds: [10, 20]\n  templateDir: ./does-not-matter\n').notify;
    assert.deepEqual(notify?.thresholds, [20, 10]);
    assert.equal(notify?.email, undefined);
    assert.equal(notify?.webhook, undefined);
  });
});

describe('notify.webhook and notify.email', () => {
  it('webhook url ftp:// names notify.webhook.url', () => {
    assertConfigError(write(caseDir(), 'notify:\n  webhook:\n    url: ftp://files.example.com/hook\n'), 'notify.webhook.url', /expected a URL \(https:\/\/ or http:\/\/\)/);
  });

  it('webhook defaults', () => {
    assert.deepEqual(load('notify:\n  webhook: { url: "https://hooks.example.com/x", secret: abc }\n').notify?.webhook, {
      url: 'https://hooks.example.com/x',
      secret: 'abc',
      format: 'json',
      timeoutMs: 10_000,
    });
  });

  it('an invalid address in notify.email.to[1] names that key', () => {
    const file = write(caseDir(), 'notify:\n  email:\n    smtp: { host: smtp.example.com }\n    from: certs@example.com\n    to: [ops@example.com, "not an address"]\n');
    assertConfigError(file, 'notify.email.to[1]', /expected an email address/);
  });

  it('email without smtp names notify.email.smtp', () => {
    assertConfigError(write(caseDir(), 'notify:\n  email:\n    from: certs@example.com\n    to: [ops@example.com]\n'), 'notify.email.smtp', /missing; expected the SMTP server settings/);
  });

  it('domains[].notify.to with a bad address names it', () => {
    const file = write(caseDir(), 'domains:\n  - name: example.com\n    notify:\n      to: [web@example.com, "web@@example.com"]\n');
    assertConfigError(file, 'domains[0].notify.to[1]', /expected an email address/);
  });
});
