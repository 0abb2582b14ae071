/** certs scan sends what is new; certs notify test | list | flush through the built CLI, against a real SMTP server process. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startTlsServer, type TlsServer } from '../helpers/scan-fixture.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { runCli } from '../helpers/cli.js';

const DAY = 86_400_000;

describe('notifications through the CLI', () => {
  let dir: string;
  let smtp: SmtpServerHandle;
  let tlsServer: TlsServer;
  let configFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-notify-cli-'));
    smtp = await startSmtpServer();
    const now = Date.now();
    const ca = await createCA({ cn: 'notify cli CA' });
    const leaf = await createLeaf({ dns: ['soon.test'], issuer: ca, notBefore: new Date(now - 85 * DAY), notAfter: new Date(now + 5 * DAY) });
    tlsServer = await startTlsServer(leaf.pem, leaf.keyPem);
    writeFileSync(join(dir, 'ca.pem'), ca.pem);
    configFile = join(dir, 'certs.yaml');
    writeFileSync(configFile, `dataDir: ${join(dir, 'data')}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: soon.test, managed: false, endpoints: [{ host: soon.test, port: ${tlsServer.port}, address: 127.0.0.1 }] }
`);
  });
  after(async () => {
    await Promise.allSettled([tlsServer?.close(), smtp?.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('scan sends one digest for what is new, and nothing the second time', async () => {
    const first = await runCli(['scan', '--config', configFile]);
    assert.equal(first.code, 2, first.stdout + first.stderr);
    assert.match(first.stderr, /notify: 1 new, 1 delivered, 0 pending/);
    const mails = await smtp.messages();
    assert.equal(mails.length, 1);
    // Issue 14: ≤ 78 characters, the worst first; the body opens with the story and the table.
    assert.equal(mails[0]!.subject, '[certs] CRITICAL: 1 certificate expires within 7 days: soon.test');
    const body = mails[0]!.raw.replace(/=\r?\n/g, ''); // undo quoted-printable's soft line breaks
    assert.match(body, /STATUS +DOMAIN +ENDPOINT +DAYS LEFT +EXPIRES +ISSUER +PROBLEM/);
    assert.match(body, /\n +fix: obtain a renewed certificate/, 'monitor-only: the fix is the operator\'s, not certs renew');
    assert.deepEqual(mails[0]!.to, ['ops@example.com']);
    const second = await runCli(['scan', '--config', configFile]);
    assert.equal(second.code, 2);
    assert.doesNotMatch(second.stderr, /notify:/);
    assert.equal((await smtp.messages()).length, 1);
  });

  it('notify list shows the outbox; notify test reports what the server answered', async () => {
    const list = await runCli(['notify', 'list', '--config', configFile, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const doc = JSON.parse(list.stdout) as { messages: Array<{ channel: string; deliveredAt: string | null; response: string | null }> };
    assert.equal(doc.messages.length, 1);
    assert.equal(doc.messages[0]?.channel, 'email');
    assert.ok(doc.messages[0]?.deliveredAt);
    assert.match(doc.messages[0]?.response ?? '', /^250 /);
    const pending = await runCli(['notify', 'list', '--pending', '--config', configFile]);
    assert.match(pending.stdout, /Nothing waiting in the outbox/);
    const test = await runCli(['notify', 'test', '--config', configFile]);
    assert.equal(test.code, 0, test.stdout + test.stderr);
    assert.match(test.stdout, /email to ops@example\.com via 127\.0\.0\.1:\d+: accepted — 250 /);
    await smtp.stop();
    try {
      const down = await runCli(['notify', 'test', '--config', configFile]);
      assert.equal(down.code, 1);
      assert.match(down.stdout, /FAILED — SMTP server 127\.0\.0\.1:\d+ refused the connection/);
    } finally {
      await smtp.restart();
    }
  });

  it('refuses notify commands without a channel, and bad notify config at load', async () => {
    const bare = join(dir, 'bare.yaml');
    writeFileSync(bare, `dataDir: ${join(dir, 'data')}\ndomains: []\n`);
    const r = await runCli(['notify', 'test', '--config', bare]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no notification channel/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `notify: { webhook: { url: "ftp://hooks.example.com/x" } }\n`);
    const b = await runCli(['notify', 'list', '--config', bad]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /notify\.webhook\.url/);
  });
});
