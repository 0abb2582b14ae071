/**
 * Channel routing, opt-out, thresholds and the run/store events as queueNotifications decides
 * them (issue 17), with a real config and SQLite store; nothing is sent (the outbox is read).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EndpointReport } from '../../../src/core/model.js';
import { statusOf, type Problem } from '../../../src/core/problems.js';
import type { Config } from '../../../src/config/types.js';
import { openStore, type IssuedCert, type OutboxRow, type Store } from '../../../src/store/index.js';
import { notifyAfterRun, queueNotifications } from '../../../src/service/notify.js';
import { hookFailed, issuerFellBack } from '../../../src/service/renew.js';
import { configFixture } from '../../helpers/config-fixture.js';
import { a } from '../../helpers/async-store.js';

const fx = configFixture('certs-notify-channels-');
const T0 = new Date('2031-01-01T03:17:00.000Z');
const DAY = 86_400_000;
const day = (n: number): Date => new Date(T0.getTime() + n * DAY);

const CHANNELS = [
  { name: 'all', format: 'ntfy', url: 'http://127.0.0.1:9/all' },
  { name: 'short', format: 'ntfy', url: 'http://127.0.0.1:9/short', thresholds: [7, 3] },
  { name: 'quiet', format: 'ntfy', url: 'http://127.0.0.1:9/quiet', events: { off: ['recovery', 'expiry', 'unexpected-change'] } },
  { name: 'pd', format: 'pagerduty', routingKey: 'rk', url: 'http://127.0.0.1:9/pd' },
];

function setup(domains: unknown[]): { config: Config; store: Store } {
  const dir = fx.caseDir();
  const config = fx.load(stringify({ dataDir: join(dir, 'data'), notify: { webhook: { url: 'http://127.0.0.1:9/hook' }, channels: CHANNELS }, domains }), dir);
  return { config, store: openStore(config.dataDir) };
}

function report(domain: string, at: Date, notAfter: Date, problems: Problem[] = [], fp = `FP-${domain}`): EndpointReport {
  return {
    domain, host: domain, port: 443, source: 'tls', status: statusOf(problems), daysLeft: Math.floor((notAfter.getTime() - at.getTime()) / DAY),
    notAfter: notAfter.toISOString(), notBefore: new Date(notAfter.getTime() - 90 * DAY).toISOString(), fingerprint256: fp,
    issuer: 'CN=R11', subject: `CN=${domain}`, problems, scannedAt: at.toISOString(),
  } as EndpointReport;
}
const chain: Problem = { code: 'incomplete-chain', severity: 'critical', message: 'the intermediate is missing' };

/** target name → the domains and kinds it was told about in this run's messages. */
function told(store: Store, since: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const rows: OutboxRow[] = store.notifications.list({ limit: 500 }).filter((m) => m.id > since);
  for (const m of rows) {
    const target = m.target ?? m.channel;
    const list = out.get(target) ?? [];
    if (target === 'webhook') for (const e of (m.payload as { events: Array<{ kind: string; domain: string }> }).events) list.push(`${e.kind} ${e.domain}`);
    else list.push(m.text);
    out.set(target, list);
  }
  return out;
}
const maxId = (store: Store): number => Math.max(0, ...store.notifications.list({ limit: 1 }).map((m) => m.id));

describe('queueNotifications with channels', () => {
  it('per-channel thresholds: each channel gets its own crossings once; old-style keys stay for the rest', async () => {
    const { config, store } = setup([{ name: 'a.test', managed: false }]);
    try {
      const notAfter = day(40);
      const at = (n: number): Promise<Map<string, string[]>> => {
        const since = maxId(store);
        return queueNotifications(config, a(store), [report('a.test', day(n), notAfter)], day(n)).then(() => told(store, since));
      };
      const d10 = await at(10); // 30 days left: the default 30 crossed; short (7, 3) nothing
      assert.ok(d10.get('all')?.some((t) => t.includes('expires in 30 days')));
      assert.equal(d10.get('short'), undefined);
      assert.ok(store.notifications.sentKeys().has('expiry:tls|a.test|a.test|443|:FP-a.test:30'), 'the shared key as before');
      const d11 = await at(11);
      assert.equal(d11.size, 0, 'nothing twice');
      const d33 = await at(33); // 7 days left: the default 7 and short's 7
      assert.ok(d33.get('short')?.some((t) => t.includes('expires in 7 days (threshold: 7 days)')));
      assert.ok(d33.get('all')?.some((t) => t.includes('threshold: 7 days')));
      assert.ok(store.notifications.sentKeys().has('expiry@short:tls|a.test|a.test|443|:FP-a.test:7'));
      assert.equal((await at(34)).size, 0, 'each crossing once per channel');
      const d37 = await at(37); // 3 days left: default 3, short 3
      assert.ok(d37.get('short')?.some((t) => t.includes('threshold: 3 days')));
    } finally {
      store.close();
    }
  });

  it('routing: a domain with channels goes only there (events of other domains unaffected); opt-out drops kinds per channel', async () => {
    const { config, store } = setup([{ name: 'a.test', managed: false, notify: { channels: ['quiet', 'pd'] } }, { name: 'b.test', managed: false }]);
    try {
      const reports = (at: Date, problems: Problem[]): EndpointReport[] => [report('a.test', at, day(200), problems), report('b.test', at, day(200), problems)];
      await queueNotifications(config, a(store), reports(T0, [chain]), T0);
      const first = told(store, 0);
      assert.deepEqual(first.get('webhook'), ['problem b.test'], 'webhook: b only');
      assert.ok(first.get('all')?.every((t) => !t.includes('a.test')) && first.get('all')?.some((t) => t.includes('b.test')));
      assert.equal(first.get('quiet')?.length, 1);
      assert.ok(first.get('quiet')![0]!.includes('a.test') && first.get('quiet')![0]!.includes('b.test'));
      assert.equal(first.get('pd')?.length, 2, 'pagerduty: one trigger per problem');
      const since = maxId(store);
      await queueNotifications(config, a(store), reports(day(1), []), day(1));
      const second = told(store, since);
      assert.equal(second.get('quiet'), undefined, 'quiet turned recoveries off');
      assert.equal(second.get('pd')?.length, 2, 'pagerduty resolves both');
      assert.deepEqual(second.get('webhook'), ['recovery b.test']);
    } finally {
      store.close();
    }
  });

  it('unexpected-change: not on first sighting nor for certs\' own versions; once for a foreign one; hook-failed once per key', async () => {
    const { config, store } = setup([{ name: 'm.test', endpoints: [{ host: 'm.test', port: 443 }] }, { name: 'mon.test', managed: false }]);
    // mon.test's 90-day certificates: X1 replaced by X2 with 39 days left (a renewal on
    // schedule), X2 by X3 with 83 of its 90 days left (not a renewal: unexpected).
    const MON_NOT_AFTER: Record<string, Date> = { X1: day(40), X2: day(91), X3: day(98) };
    try {
      const run = async (at: Date, fpM: string, fpMon: string, runEvents: Parameters<typeof queueNotifications>[4] = {}): Promise<string[]> => {
        const since = maxId(store);
        const { events } = await queueNotifications(config, a(store), [report('m.test', at, day(300), [], fpM), report('mon.test', at, MON_NOT_AFTER[fpMon]!, [], fpMon)], at, runEvents);
        assert.ok(maxId(store) >= since);
        return events.map((e) => `${e.kind} ${e.domain}`);
      };
      assert.deepEqual(await run(T0, 'FP1', 'X1'), [], 'first sighting');
      const cert: IssuedCert = {
        lineage: 'm.test', version: 2, fingerprint256: 'FP2', serial: '02', notBefore: day(0).toISOString(), notAfter: day(300).toISOString(), issuer: 'CN=R11',
        names: ['m.test'], keyType: 'ecdsa-p256', directoryUrl: 'https://acme.example/dir', profile: null, ariCertId: null, replacedId: null,
        dir: '/tmp/none', issuedAt: day(0).toISOString(), reason: 'test', revokedAt: null, revokeReason: null,
      };
      store.issued.record(cert);
      assert.deepEqual(await run(day(1), 'FP2', 'X2'), [], 'certs issued FP2; mon.test was renewed by others on schedule');
      assert.deepEqual(await run(day(2), 'EVIL', 'X2'), ['unexpected-change m.test']);
      assert.deepEqual(await run(day(3), 'EVIL', 'X2'), [], 'once');
      const hook = hookFailed('m.test', 'deploy', 'exit 1', { issued: 2 });
      assert.deepEqual(await run(day(4), 'EVIL', 'X2', { runEvents: [hook] }), ['hook-failed m.test']);
      assert.deepEqual(await run(day(5), 'EVIL', 'X2', { runEvents: [hook] }), [], 'the same failure alerts once');
      const fell = issuerFellBack('m.test', 3, 'https://ca2.example/dir', { skipped: [{ directoryUrl: 'https://ca1.example/dir', reason: 'CA unreachable: connection refused' }], to: 'https://ca2.example/dir' });
      assert.deepEqual(await run(day(6), 'EVIL', 'X2', { runEvents: [fell] }), ['issuer-fallback m.test']);
      assert.deepEqual(await run(day(7), 'EVIL', 'X2', { runEvents: [fell] }), [], 'once per version');
      assert.ok((told(store, 0).get('all') ?? []).some((t) => t.includes('issuer-fallback: version 3 issued by https://ca2.example/dir because https://ca1.example/dir could not: https://ca1.example/dir: CA unreachable: connection refused')), 'the channel says which CA and why');
      assert.deepEqual(await run(day(8), 'EVIL', 'X3'), ['unexpected-change mon.test'], 'monitor-only: replaced in the first half of its life');
      assert.ok((told(store, 0).get('all') ?? []).some((t) => t.includes('mon.test mon.test:443: unexpected-change: the certificate was replaced with 83 of its 90 days left, not on a renewal schedule')));
      const quiet = told(store, 0).get('quiet') ?? [];
      assert.ok(quiet.every((t) => !t.includes('unexpected-change')), 'quiet turned unexpected-change off');
    } finally {
      store.close();
    }
  });

  it('run events are not lost when another node holds the notify lock: this one waits for it, then queues them (only them)', async () => {
    const { config, store } = setup([{ name: 'm.test', endpoints: [{ host: 'm.test', port: 443 }] }]);
    try {
      const s = a(store);
      const other = await s.locks.tryAcquire('notify', 'other-node', 60_000);
      assert.notEqual(other, null);
      const hook = hookFailed('m.test', 'deploy', 'exit 1', { issued: 1 });
      const logs: string[] = [];
      // Its own report shows a problem: the holder judged the scan, this node only adds its run events.
      const result = await notifyAfterRun(config, s, [report('m.test', T0, day(300), [chain])], {
        now: T0,
        random: () => 0.5,
        channels: {},
        runEvents: [hook],
        // The holder finishes as soon as this node says it waits: no timing involved.
        log: (e) => {
          logs.push(e);
          if (e.includes('waiting to queue')) void s.locks.release('notify', 'other-node', other!);
        },
      });
      assert.ok(logs.some((e) => e.includes('waiting to queue what happened on this one')), logs.join('\n'));
      assert.deepEqual(result.events.map((e) => `${e.kind} ${e.domain}`), ['hook-failed m.test']);
      assert.ok(result.queued > 0);
      assert.deepEqual(await s.notifications.active(), [], 'no problem opened from this node\'s report');
      assert.equal((await s.notifications.seen()).size, 0, 'nor its fingerprints recorded');
    } finally {
      store.close();
    }
  });

  it('the webhook (and email) honour events.off like any channel', async () => {
    const dir = fx.caseDir();
    const config = fx.load(stringify({ dataDir: join(dir, 'data'), notify: { webhook: { url: 'http://127.0.0.1:9/hook', events: { off: ['hook-failed'] } }, channels: [CHANNELS[0]] }, domains: [{ name: 'm.test', endpoints: [{ host: 'm.test', port: 443 }] }] }), dir);
    const store = openStore(config.dataDir);
    try {
      const hook = hookFailed('m.test', 'deploy', 'exit 1', { issued: 1 });
      await queueNotifications(config, a(store), [report('m.test', T0, day(300), [chain])], T0, { runEvents: [hook] });
      const byTarget = told(store, 0);
      assert.deepEqual(byTarget.get('webhook'), ['problem m.test'], 'the webhook turned hook-failed off');
      assert.ok(byTarget.get('all')?.some((t) => t.includes('hook-failed')), 'a channel that did not still gets it');
    } finally {
      store.close();
    }
  });
});
