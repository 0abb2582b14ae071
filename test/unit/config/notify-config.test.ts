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

describe('notify.channels (issue 17)', () => {
  const ch = (body: string): string => `notify:\n  channels:\n${body}`;

  it('each format with what it needs loads, with defaults', () => {
    const channels = load(ch([
      '    - { name: phone, format: ntfy, url: "https://ntfy.sh/certs-alerts", token: tk_abc }',
      '    - { name: got, format: gotify, url: "https://gotify.example.com", token: AbC.1 }',
      '    - { name: disc, format: discord, url: "https://discord.com/api/webhooks/1/xyz" }',
      '    - { name: teams-ops, format: teams, url: "https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s" }',
      '    - { name: tg, format: telegram, token: "123:ABC", chatId: -1001234567890, thresholds: [7, 1] }',
      '    - { name: mx, format: matrix, homeserver: "https://matrix.example.org/", roomId: "!room:example.org", accessToken: syt_x, events: { off: [recovery, heartbeat] } }',
      '    - { name: pd, format: pagerduty, routingKey: R0UT1NG }',
      '',
    ].join('\n'))).notify?.channels;
    assert.equal(channels?.length, 7);
    assert.deepEqual(channels?.[4], { name: 'tg', format: 'telegram', url: 'https://api.telegram.org', token: '123:ABC', chatId: '-1001234567890', thresholds: [7, 1], events: { off: [] }, timeoutMs: 10_000 });
    assert.deepEqual(channels?.[5], { name: 'mx', format: 'matrix', url: 'https://matrix.example.org', homeserver: 'https://matrix.example.org', roomId: '!room:example.org', accessToken: 'syt_x', events: { off: ['recovery', 'heartbeat'] }, timeoutMs: 10_000 });
    assert.equal(channels?.[6]?.url, 'https://events.pagerduty.com/v2/enqueue');
  });

  it('a missing format field names its path and the format', () => {
    assertConfigError(write(caseDir(), ch('    - { name: tg, format: telegram, token: "1:A" }\n')), 'notify.channels[0].chatId', /chat id .*format telegram needs it/);
    assertConfigError(write(caseDir(), ch('    - { name: mx, format: matrix, homeserver: "https://m.example.org", roomId: "!r:example.org" }\n')), 'notify.channels[0].accessToken', /missing/);
    assertConfigError(write(caseDir(), ch('    - { name: pd, format: pagerduty }\n')), 'notify.channels[0].routingKey', /integration key/);
    assertConfigError(write(caseDir(), ch('    - { name: g, format: gotify, url: "https://g.example.com" }\n')), 'notify.channels[0].token', /application token/);
  });

  it('a key of another format, a bad name, a duplicate, a reserved name, an unknown format or event', () => {
    assertConfigError(write(caseDir(), ch('    - { name: d, format: discord, url: "https://discord.com/api/webhooks/1/x", chatId: 5 }\n')), 'notify.channels[0].chatId', /unknown key/);
    assertConfigError(write(caseDir(), ch('    - { name: Ops_1, format: discord, url: "https://discord.com/api/webhooks/1/x" }\n')), 'notify.channels[0].name', /lower-case letters/);
    assertConfigError(write(caseDir(), ch('    - { name: a, format: discord, url: "https://d.example/1" }\n    - { name: a, format: teams, url: "https://t.example/1" }\n')), 'notify.channels[1].name', /already the name of notify.channels\[0\]/);
    assertConfigError(write(caseDir(), ch('    - { name: webhook, format: discord, url: "https://d.example/1" }\n')), 'notify.channels[0].name', /name of notify.webhook/);
    assertConfigError(write(caseDir(), ch('    - { name: a, format: slack, url: "https://d.example/1" }\n')), 'notify.channels[0].format', /ntfy/);
    assertConfigError(write(caseDir(), ch('    - { name: a, format: discord, url: "https://d.example/1", events: { off: [expiring] } }\n')), 'notify.channels[0].events.off[0]', /expiry/);
    assertConfigError(write(caseDir(), ch('    - { name: m, format: matrix, homeserver: "http://m.example.org", roomId: "!r:example.org", accessToken: t }\n')), 'notify.channels[0].homeserver', /https:\/\//);
    assertConfigError(write(caseDir(), ch('    - { name: m, format: matrix, homeserver: "https://m.example.org", roomId: "#alias:example.org", accessToken: t }\n')), 'notify.channels[0].roomId', /not an alias/);
    assertConfigError(write(caseDir(), ch('    - { name: n, format: ntfy, url: "https://ntfy.sh/" }\n')), 'notify.channels[0].url', /topic/);
  });

  it('a bad secret URL is refused without quoting it', () => {
    const err = assertConfigError(write(caseDir(), ch('    - { name: d, format: discord, url: "ftp://discord.com/api/webhooks/1/SECRETPART" }\n')), 'notify.channels[0].url', /expected a URL/);
    assert.ok(!err.message.includes('SECRETPART'), err.message);
  });

  it('domains[].notify.channels: configured names (and email/webhook when set) only; an unknown one names its path', () => {
    const base = ch('    - { name: ops, format: discord, url: "https://discord.com/api/webhooks/1/x" }\n') + '  webhook: { url: "https://hooks.example.com/x" }\n';
    const ok = load(`${base}domains:\n  - { name: a.example, managed: false, notify: { channels: [ops, webhook] } }\n`);
    assert.deepEqual(ok.domains[0]?.notify?.channels, ['ops', 'webhook']);
    assertConfigError(write(caseDir(), `${base}domains:\n  - { name: a.example, managed: false, notify: { channels: [ops, opps] } }\n`), 'domains[0].notify.channels[1]', /no channel named "opps"; configured: webhook, ops/);
    assertConfigError(write(caseDir(), `${base}domains:\n  - { name: a.example, managed: false, notify: { channels: [email] } }\n`), 'domains[0].notify.channels[0]', /no channel named "email"/);
  });
});

describe('notify.email.events and notify.webhook.events (issue 17)', () => {
  it('turn event types off for the old targets too', () => {
    const c = load(`notify:\n  email:\n${SMTP}    events: { off: [unexpected-change, heartbeat] }\n  webhook: { url: "https://hooks.example.com/x", events: { off: [recovery] } }\n`);
    assert.deepEqual(c.notify?.email?.events, { off: ['unexpected-change', 'heartbeat'] });
    assert.deepEqual(c.notify?.webhook?.events, { off: ['recovery'] });
  });

  it('an unknown event type names its path', () => {
    assertConfigError(write(caseDir(), `notify:\n  email:\n${SMTP}    events: { off: [bogus] }\n`), 'notify.email.events.off[0]', /expected one of/);
    assertConfigError(write(caseDir(), 'notify:\n  webhook: { url: "https://hooks.example.com/x", events: { on: [expiry] } }\n'), 'notify.webhook.events.on', /./);
  });
});
