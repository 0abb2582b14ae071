/**
 * Notifications exactly once per cluster (issue 16): three nodes, each its own store object on
 * one PostgreSQL database, run the notify step over the same reports at the same moment; a real
 * SMTP server receives one message per event. Then a node that claimed a message and died (its
 * claim left, nothing sent) leaves it to another node once the claim runs out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startTlsServer, type TlsServer } from '../helpers/scan-fixture.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { postgresSkip, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { loadTrust } from '../../src/scan/trust.js';
import { scanDomains } from '../../src/service/scan-inventory.js';
import { notifyAfterRun } from '../../src/service/notify.js';
import { channelsOf } from '../../src/cli/compose.js';
import { openPgStore } from '../../src/store/pg/store.js';
import type { AsyncStore } from '../../src/store/contract.js';

const KEK = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w=';
const DAY = 86_400_000;
const T0 = new Date(Date.UTC(2031, 0, 1, 3, 17));
const day = (d: number): Date => new Date(T0.getTime() + d * DAY);
const skip = postgresSkip();

describe('notifications exactly once across three nodes on one PostgreSQL', { skip }, () => {
  let cluster: StoreCluster;
  let smtp: SmtpServerHandle;
  let dir: string;
  const servers: TlsServer[] = [];
  const configs: Config[] = [];
  let url = '';

  before(async () => {
    cluster = await startStoreCluster();
    smtp = await startSmtpServer();
    url = await cluster.newDatabase('notify_cluster');
    dir = mkdtempSync(join(tmpdir(), 'certs-notify-cluster-'));
    const ca = await createCA({ cn: 'cluster notify CA', notBefore: day(-400), notAfter: day(400) });
    writeFileSync(join(dir, 'ca.pem'), ca.pem);
    const domains: string[] = [];
    for (let i = 0; i < 4; i++) {
      const name = `c${i}.test`;
      const leaf = await createLeaf({ dns: [name], issuer: ca, notBefore: day(-60), notAfter: day(20) });
      const s = await startTlsServer(leaf.pem, leaf.keyPem);
      servers.push(s);
      domains.push(`  - { name: ${name}, managed: false, endpoints: [{ host: ${name}, port: ${s.port}, address: 127.0.0.1 }] }`);
    }
    for (const node of ['a', 'b', 'c']) {
      const file = join(dir, `${node}.yaml`);
      writeFileSync(file, `dataDir: ${join(dir, node)}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
node: { name: ${node} }
cluster: { leaseSeconds: 30 }
store: { engine: postgres, url: "${url}", keyEncryptionKey: "${KEK}" }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
${domains.join('\n')}
`);
      configs.push(loadConfig(file, { env: {} }));
    }
  });
  after(async () => {
    await Promise.allSettled(servers.map((s) => s.close()));
    await smtp?.dispose();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function stores(): Promise<AsyncStore[]> {
    return Promise.all(configs.map((c) => openPgStore(url, { keyEncryptionKey: KEK, node: c.node!.name!, clock: () => T0.getTime() })));
  }

  it('three nodes notifying at once over the same reports send each warning once', async () => {
    const trust = loadTrust({ ...configs[0]!.trust });
    const reports = await scanDomains(configs[0]!, configs[0]!.domains, { anchors: trust.anchors, secureContext: trust.secureContext, now: () => T0 });
    const open = await stores();
    try {
      const results = await Promise.all(open.map((s, i) => notifyAfterRun(configs[i]!, s, reports, { now: T0, random: () => 0.5, channels: channelsOf(configs[i]!) })));
      const queued = results.reduce((n, r) => n + r.queued, 0);
      const delivered = results.reduce((n, r) => n + r.delivered, 0);
      assert.ok(queued > 0, 'something was due: four certificates 20 days from expiry');
      assert.equal(delivered, queued, 'each queued message delivered once, by one node');
      const mails = await smtp.messages();
      assert.equal(mails.length, queued, `one email per message: ${mails.map((m) => m.subject).join(' | ')}`);
      for (let i = 0; i < 4; i++) assert.equal(mails.filter((m) => m.raw.includes(`c${i}.test`)).length >= 1, true, `c${i}.test was warned about`);
      // A second round at once: nothing new, nothing resent.
      const again = await Promise.all(open.map((s, i) => notifyAfterRun(configs[i]!, s, reports, { now: T0, random: () => 0.5, channels: channelsOf(configs[i]!) })));
      assert.equal(again.reduce((n, r) => n + r.queued + r.delivered, 0), 0);
      assert.equal((await smtp.messages()).length, mails.length);
      const who = await open[0]!.notifications.list({ limit: 100 });
      assert.ok(who.every((m) => m.deliveredAt !== null));
    } finally {
      await Promise.all(open.map((s) => s.close()));
    }
  });

  it('a message claimed by a node that died is delivered by another once the claim runs out', async () => {
    const [a, b] = await stores();
    try {
      const at = T0.toISOString();
      await a!.notifications.commitRun({ at, markSent: [], activate: [], clear: [], messages: [{ key: 'orphan-1', channel: 'email', to: ['ops@example.com'], subject: 'orphaned claim', text: 'x', html: null, payload: null, createdAt: at, nextAttemptAt: at }] });
      // Node a claims it and "dies": its claim runs 30 s (cluster.leaseSeconds).
      const claimed = await a!.notifications.claimDue('a', at, new Date(T0.getTime() + 30_000).toISOString());
      assert.equal(claimed.length, 1);
      const before = (await smtp.messages()).length;
      const early = await notifyAfterRun(configs[1]!, b!, [], { now: new Date(T0.getTime() + 29_999), random: () => 0.5, channels: channelsOf(configs[1]!) });
      assert.equal(early.delivered, 0, 'b leaves a live claim alone');
      const late = await notifyAfterRun(configs[1]!, b!, [], { now: new Date(T0.getTime() + 30_000), random: () => 0.5, channels: channelsOf(configs[1]!) });
      assert.equal(late.delivered, 1, 'b delivers once the claim ran out');
      const mails = await smtp.messages();
      assert.equal(mails.length, before + 1);
      assert.equal(mails.at(-1)!.subject, 'orphaned claim');
    } finally {
      await a!.close();
      await b!.close();
    }
  });

  it('a node gone silent is told once per silence, to every channel, by whichever node decides', async () => {
    const [a] = await stores();
    try {
      const hour = 3_600_000;
      const seen = new Date(T0.getTime() + 10 * DAY - 4 * hour);
      // web-9 runs hourly and was last seen 4 hours before: silent (more than 3 of its cycles).
      await a!.nodes.heartbeat({ name: 'web-9', version: '0.0.9', startedAt: new Date(seen.getTime() - DAY).toISOString(), lastSeenAt: seen.toISOString(), cycleMs: hour, lastRun: { startedAt: seen.toISOString(), finishedAt: seen.toISOString(), outcome: 'ok' } });
      const at = new Date(T0.getTime() + 10 * DAY);
      const before = (await smtp.messages()).length;
      const first = await notifyAfterRun(configs[0]!, a!, [], { now: at, random: () => 0.5, channels: channelsOf(configs[0]!) });
      assert.deepEqual(first.events.map((e) => `${e.kind} ${e.endpoint}`), ['node-silent node web-9']);
      assert.match(first.events[0]!.message, /web-9/);
      const again = await notifyAfterRun(configs[0]!, a!, [], { now: new Date(at.getTime() + hour), random: () => 0.5, channels: channelsOf(configs[0]!) });
      assert.deepEqual(again.events, [], 'once per silence');
      const mails = (await smtp.messages()).slice(before);
      assert.equal(mails.length, 1);
      assert.match(mails[0]!.subject, /node-silent/);
      // Back, then silent again: a new silence is told again.
      const back = new Date(at.getTime() + 2 * hour);
      await a!.nodes.heartbeat({ name: 'web-9', version: '0.0.9', startedAt: back.toISOString(), lastSeenAt: back.toISOString(), cycleMs: hour, lastRun: null });
      const later = await notifyAfterRun(configs[0]!, a!, [], { now: new Date(back.getTime() + 5 * hour), random: () => 0.5, channels: channelsOf(configs[0]!) });
      assert.deepEqual(later.events.map((e) => e.kind), ['node-silent']);
    } finally {
      await a!.close();
    }
  });
});
