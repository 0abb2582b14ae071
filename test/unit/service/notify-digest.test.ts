/**
 * The digest as service/notify.ts queues it (issue 14), with a real config and store: the fix
 * fits each domain (managed or monitor-only, from the config), the summary counts what is still
 * open from earlier runs, a long digest points to the dashboard or the report, and a heartbeat
 * names the problems still open instead of saying "nothing wrong". Webhook only: nothing is sent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EndpointReport } from '../../../src/core/model.js';
import type { Problem } from '../../../src/core/problems.js';
import { statusOf } from '../../../src/core/problems.js';
import type { Config } from '../../../src/config/types.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { queueNotifications } from '../../../src/service/notify.js';
import { configFixture } from '../../helpers/config-fixture.js';
import { a } from '../../helpers/async-store.js';

const fx = configFixture('certs-notify-digest-');
const NOW = new Date('2026-11-25T03:17:00.000Z');
const HOUR = 3_600_000;

function setup(extra: Record<string, unknown> = {}): { config: Config; store: Store } {
  const dir = fx.caseDir();
  const config = fx.load(stringify({
    dataDir: join(dir, 'data'),
    trust: { bundled: true, system: false },
    notify: { webhook: { url: 'http://127.0.0.1:9/hook' }, heartbeat: { intervalHours: 1 } },
    domains: [
      { name: 'a.test', endpoints: [{ host: 'a.test', port: 443 }] },
      { name: 'mon.test', managed: false, files: { cert: '/etc/ssl/mon.test.pem' }, endpoints: [{ host: 'mon.test', port: 443 }] },
    ],
    ...extra,
  }), dir);
  return { config, store: openStore(config.dataDir) };
}

function report(domain: string, daysLeft: number, problems: Problem[] = []): EndpointReport {
  return {
    domain, host: domain, port: 443, source: 'tls', status: statusOf(problems), daysLeft,
    notAfter: new Date(NOW.getTime() + daysLeft * 24 * HOUR).toISOString(), fingerprint256: `FP-${domain}`,
    issuer: "C=US, O=Let's Encrypt, CN=R11", subject: `CN=${domain}`, problems, scannedAt: NOW.toISOString(),
  };
}

const mismatch: Problem = { code: 'hostname-mismatch', severity: 'critical', message: 'the certificate does not cover it' };

interface Payload { subject: string; summary: string; events: Array<{ domain: string; fix?: string; issuer: string | null }> }
const webhook = (store: Store): Array<{ subject: string; text: string; payload: Payload }> =>
  store.notifications.list({ limit: 100 }).filter((m) => m.channel === 'webhook').reverse().map((m) => ({ subject: m.subject, text: m.text, payload: m.payload as Payload }));

describe('queued digests (service/notify.ts)', () => {
  it('the fix fits the domain as the config has it: certs renew for a managed one, its certificate file for a monitor-only one', async () => {
    const { config, store } = setup();
    try {
      await queueNotifications(config, a(store), [report('a.test', 5), report('mon.test', 5)], NOW);
      const [msg] = webhook(store);
      const fix = (d: string): string => msg!.payload.events.find((e) => e.domain === d)!.fix!;
      assert.match(fix('a.test'), /certs renew a\.test/);
      assert.doesNotMatch(fix('mon.test'), /certs (renew|issue)/);
      assert.match(fix('mon.test'), /\/etc\/ssl\/mon\.test\.pem/);
      assert.equal(msg!.payload.events[0]!.issuer, "C=US, O=Let's Encrypt, CN=R11");
      assert.ok(msg!.subject.length <= 78, msg!.subject);
      assert.equal(msg!.text.split('\n').filter((l) => /^ +fix: /.test(l)).length, 2);
    } finally {
      store.close();
    }
  });

  it('the summary counts problems still open from an earlier digest', async () => {
    const { config, store } = setup();
    try {
      await queueNotifications(config, a(store), [report('a.test', 60, [mismatch]), report('mon.test', 60)], NOW);
      await queueNotifications(config, a(store), [report('a.test', 60, [mismatch]), report('mon.test', 60, [mismatch])], new Date(NOW.getTime() + HOUR / 2));
      const second = webhook(store)[1]!;
      assert.match(second.payload.summary, /Since the last digest: 1 new, 1 still open, 0 recovered\.$/);
      assert.equal(second.payload.events.length, 1);
    } finally {
      store.close();
    }
  });

  it('a heartbeat names what is still open, with its fix, in a subject of at most 78 characters', async () => {
    const { config, store } = setup();
    try {
      await queueNotifications(config, a(store), [report('a.test', 60, [mismatch]), report('mon.test', 60)], NOW);
      // Nothing new two hours later: the heartbeat is due.
      await queueNotifications(config, a(store), [report('a.test', 60, [mismatch]), report('mon.test', 60)], new Date(NOW.getTime() + 2 * HOUR));
      const beat = webhook(store)[1]!;
      assert.equal(beat.subject, '[certs] watching 2 certificates, 1 open problem: hostname-mismatch on a.test');
      assert.match(beat.text, /^OPEN +a\.test +a\.test:443 .*hostname-mismatch/m);
      assert.equal(beat.text.split('\n').filter((l) => /^ +fix: /.test(l)).length, 1);
    } finally {
      store.close();
    }
  });

  for (const [name, extra, opts, where] of [
    ['the dashboard (daemon.http)', { daemon: { http: { address: '127.0.0.1', port: 9464 } } }, {}, 'on the dashboard: http://127.0.0.1:9464/'],
    ['the report (certs run --report FILE)', {}, { report: '/var/www/certs/report.html' }, 'in the report: /var/www/certs/report.html'],
  ] as const) {
    it(`over 50 rows: the 50 most urgent, the rest counted, and a link to ${name}`, async () => {
      const { config, store } = setup(extra);
      try {
        const reports = Array.from({ length: 60 }, (_, i) => report(`h${String(i).padStart(2, '0')}.test`, 1 + (i % 20)));
        const { events } = await queueNotifications(config, a(store), reports, NOW, opts);
        assert.equal(events.length, 60);
        const [msg] = webhook(store);
        assert.equal(msg!.text.split('\n').filter((l) => /^(CRITICAL|WARNING) /.test(l)).length, 50);
        assert.ok(msg!.text.includes(`10 more not shown (10 warnings); all of them ${where}\n`), msg!.text);
        assert.equal(msg!.payload.events.length, 60, 'the webhook carries every event');
      } finally {
        store.close();
      }
    });
  }
});
