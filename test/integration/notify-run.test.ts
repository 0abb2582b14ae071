/**
 * The notify step of a run, end to end: real TLS endpoints scanned under an injected clock, the
 * outbox in SQLite, a real SMTP server process and a real webhook receiver on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createLeaf, type Issued } from '../helpers/pki.js';
import { startTlsServer, type TlsServer } from '../helpers/scan-fixture.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { loadTrust } from '../../src/scan/trust.js';
import { scanDomains } from '../../src/service/scan-inventory.js';
import { notifyAfterRun } from '../../src/service/notify.js';
import { channelsOf } from '../../src/cli/compose.js';
import { openStore } from '../../src/store/index.js';
import { a } from '../helpers/async-store.js';

const DAY = 86_400_000;
const T0 = new Date(Date.UTC(2031, 0, 1, 3, 17));
const day = (d: number): Date => new Date(T0.getTime() + d * DAY);

interface World {
  dir: string;
  ca: Issued;
  servers: TlsServer[];
  config: Config;
}

async function leafFor(ca: Issued, name: string, notBefore: Date, notAfter: Date): Promise<Issued> {
  return createLeaf({ dns: [name], issuer: ca, notBefore, notAfter });
}

describe('notifications over a simulated month of daily runs', () => {
  let smtp: SmtpServerHandle;
  let hook: Server;
  let hookPort = 0;
  const received: Array<{ body: string; signature: string; timestamp: string }> = [];
  const worlds: World[] = [];

  before(async () => {
    smtp = await startSmtpServer();
    hook = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        received.push({ body, signature: String(req.headers['x-certs-signature'] ?? ''), timestamp: String(req.headers['x-certs-timestamp'] ?? '') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookPort = (hook.address() as AddressInfo).port;
  });
  after(async () => {
    for (const w of worlds) {
      await Promise.allSettled(w.servers.map((s) => s.close()));
      rmSync(w.dir, { recursive: true, force: true });
    }
    hook.close();
    await smtp.dispose();
  });

  /** `n` endpoints under one domain each, serving certificates valid from T0-60d to T0+30d. */
  async function world(n: number, extra = ''): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), 'certs-notify-run-'));
    const ca = await createCA({ cn: 'notify test CA', notBefore: day(-400), notAfter: day(400) });
    writeFileSync(join(dir, 'ca.pem'), ca.pem);
    const servers: TlsServer[] = [];
    const domains: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `n${i}.test`;
      const leaf = await leafFor(ca, name, day(-60), day(30 - (i % 3)));
      const s = await startTlsServer(leaf.pem, leaf.keyPem);
      servers.push(s);
      domains.push(`  - { name: ${name}, managed: false, endpoints: [{ host: ${name}, port: ${s.port}, address: 127.0.0.1 }] }`);
    }
    const file = join(dir, 'certs.yaml');
    writeFileSync(file, `dataDir: ${join(dir, 'data')}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
  webhook: { url: "http://127.0.0.1:${hookPort}/hook", secret: "s3cret" }
${extra}
domains:
${domains.join('\n')}
`);
    const w = { dir, ca, servers, config: loadConfig(file, { env: {} }) };
    worlds.push(w);
    return w;
  }

  async function runDay(w: World, d: number) {
    const trust = loadTrust({ ...w.config.trust });
    const reports = await scanDomains(w.config, w.config.domains, { anchors: trust.anchors, secureContext: trust.secureContext, now: () => day(d) });
    const store = openStore(w.config.dataDir);
    try {
      return await notifyAfterRun(w.config, a(store), reports, { now: day(d), random: () => 0.5, channels: channelsOf(w.config) });
    } finally {
      store.close();
    }
  }

  const subjectsFor = async (domain: string): Promise<string[]> => (await smtp.messages()).filter((m) => m.raw.includes(domain)).map((m) => m.subject);

  it('sends exactly one message per threshold crossed (30, 14, 7, 3, 1), then the expiry as a problem', async () => {
    const w = await world(1);
    const perDay: number[] = [];
    for (let d = 0; d <= 31; d++) perDay.push((await runDay(w, d)).events.length);
    const days = perDay.flatMap((n, d) => (n > 0 ? [d] : []));
    assert.deepEqual(days, [0, 16, 23, 27, 29, 31], `events on days ${days.join(', ')}`);
    const subjects = await subjectsFor('n0.test');
    assert.equal(subjects.length, 6, subjects.join('\n'));
    assert.match(subjects[0]!, /expires within 30 days: n0\.test/);
    assert.match(subjects[1]!, /within 14 days/);
    assert.match(subjects[4]!, /within 1 day/);
    assert.equal(subjects[5]!, '[certs] CRITICAL: n0.test expired');
    for (const subject of subjects) assert.ok(subject.length <= 78, subject);
  });

  it('a certificate renewed in time gets no further warning; the new one starts afresh', async () => {
    const w = await world(1);
    for (let d = 0; d <= 10; d++) await runDay(w, d);
    const renewed = await leafFor(w.ca, 'n0.test', day(10), day(100));
    w.servers[0]!.setCert(renewed.pem, renewed.keyPem);
    const later: number[] = [];
    for (let d = 11; d <= 40; d++) later.push((await runDay(w, d)).events.length);
    assert.deepEqual(later.filter((n) => n > 0), [], 'nothing after the renewal');
  });

  it('one digest per run groups many endpoints; the webhook gets the same, signed', async () => {
    const w = await world(12);
    received.length = 0;
    const r = await runDay(w, 0);
    assert.equal(r.events.length, 12);
    assert.equal(r.delivered, 2, 'one email and one webhook');
    const mails = (await smtp.messages()).filter((m) => m.raw.includes('n11.test'));
    assert.equal(mails.length, 1);
    assert.ok(mails[0]!.hasText && mails[0]!.hasHtml, 'text and HTML parts');
    assert.match(mails[0]!.subject, /12 certificates expire within 30 days/);
    const [got] = received;
    assert.ok(got, 'the webhook was called');
    const expected = `sha256=${createHmac('sha256', 's3cret').update(`${got.timestamp}.${got.body}`).digest('hex')}`;
    assert.equal(got.signature, expected);
    const body = JSON.parse(got.body) as { version: number; events: unknown[] };
    assert.equal(body.version, 1);
    assert.equal(body.events.length, 12);
  });

  it('the SMTP server down for three runs and back: every message delivered exactly once', async () => {
    const w = await world(1);
    await smtp.stop();
    try {
      for (const d of [16, 17, 18]) {
        const r = await runDay(w, d);
        // The webhook gets its copy on the first run; the email waits in the outbox.
        assert.equal(r.delivered, d === 16 ? 1 : 0, JSON.stringify(r));
        assert.equal(r.pending, 1);
        assert.match(r.failed[0]?.error ?? '', /SMTP server 127\.0\.0\.1:\d+ refused the connection/);
      }
    } finally {
      await smtp.restart();
    }
    const before = (await smtp.messages()).length;
    // The backoff after three failures is under an hour: a run a day later delivers.
    const r = await runDay(w, 19);
    assert.equal(r.pending, 0);
    const mine = (await smtp.messages()).slice(before).filter((m) => m.raw.includes('n0.test'));
    assert.equal(mine.length, 1, 'the one queued message, once');
    assert.match(mine[0]!.subject, /within 14 days/);
    const again = await runDay(w, 20);
    assert.equal(again.delivered, 0);
    assert.equal((await smtp.messages()).length, before + 1, 'no second copy');
  });

  it('an alert for an endpoint removed from the inventory is forgotten without a recovery message', async () => {
    const w = await world(2);
    const first = await runDay(w, 31);
    assert.equal(first.events.filter((e) => e.code === 'expired').length, 2);
    const file = join(w.dir, 'certs.yaml');
    const fs = await import('node:fs');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/ {2}- \{ name: n1\.test.*\n/, ''));
    w.config = loadConfig(file, { env: {} });
    const after = await runDay(w, 32);
    assert.deepEqual(after.events, []);
    const store = openStore(w.config.dataDir);
    try {
      assert.deepEqual(store.notifications.active().map((a) => a.domain), ['n0.test']);
    } finally {
      store.close();
    }
  });

  it('authentication refused: a clear error, the message kept in the outbox; a server dropping DATA: retried later', async () => {
    const authSmtp = await startSmtpServer({ auth: { user: 'certs', pass: 'right' } });
    try {
      const w = await world(1);
      const file = join(w.dir, 'certs.yaml');
      const text = (await import('node:fs')).readFileSync(file, 'utf8').replace(`port: ${smtp.port}, requireTLS: false`, `port: ${authSmtp.port}, requireTLS: false, user: certs, pass: wrong`).replace(/ {2}webhook: .*\n/, '');
      writeFileSync(file, text);
      w.config = loadConfig(file, { env: {} });
      const r = await runDay(w, 16);
      assert.equal(r.delivered, 0);
      assert.match(r.failed[0]!.error, /authentication|535/i);
      assert.doesNotMatch(r.failed[0]!.error, /wrong/);
      const store = openStore(w.config.dataDir);
      const pending = store.notifications.list({ pending: true });
      store.close();
      assert.equal(pending.length, 1);
      // Fixed password; the server now drops the connection in the middle of DATA.
      writeFileSync(file, text.replace('pass: wrong', 'pass: right'));
      w.config = loadConfig(file, { env: {} });
      await authSmtp.setMode('drop-in-data');
      const dropped = await runDay(w, 17);
      assert.equal(dropped.delivered, 0);
      assert.equal(dropped.pending, 1);
      await authSmtp.setMode('normal');
      const ok = await runDay(w, 18);
      assert.equal(ok.delivered, 1);
      assert.equal(ok.pending, 0);
      assert.equal((await authSmtp.messages()).filter((m) => m.raw.includes('n0.test')).length, 1);
    } finally {
      await authSmtp.dispose();
    }
  });
});
