import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config, NotifyConfig } from '../../../src/config/types.js';
import { buildDigest } from '../../../src/core/notify-policy.js';
import { dashboardUrl, messagesFor } from '../../../src/service/notify.js';
import { goldenEvents, GOLDEN_NOW } from '../../helpers/digest-fixture.js';

const notify = { thresholds: [30, 14, 7, 3, 1], webhook: { url: 'http://127.0.0.1:1/hook', format: 'json', timeoutMs: 1000 } } as unknown as NotifyConfig;
const config = { domains: [], notify } as unknown as Config;

describe('webhook payload (docs/webhook.md)', () => {
  it('the short title, events in urgency order, the fields added by issue 14 next to the old ones', () => {
    const { events, stillOpen } = goldenEvents();
    const digest = buildDigest(events, { now: GOLDEN_NOW, total: 7, stillOpen });
    const [msg] = messagesFor(config, notify, [...events].reverse(), digest, GOLDEN_NOW, 'digest');
    const p = msg!.payload as { version: number; subject: string; title: string; summary: string; story: string; events: Array<Record<string, unknown>> };
    assert.equal(p.version, 1);
    assert.equal(p.subject, '[certs] CRITICAL: expired.example.com expired; 4 more problems; 1 recovered');
    assert.equal(p.title, p.subject);
    assert.equal(p.summary, digest.summary);
    assert.equal(p.story, digest.story);
    assert.deepEqual(p.events.map((e) => e['domain']), digest.rows.map((r) => r.domain), 'the table order, whatever order the events came in');
    const shop = p.events.find((e) => e['domain'] === 'shop.example.com')!;
    for (const key of ['kind', 'severity', 'domain', 'endpoint', 'daysLeft', 'notAfter', 'threshold', 'message', 'hint']) assert.ok(key in shop, `old field ${key} kept`);
    assert.equal(shop['issuer'], "C=US, O=Let's Encrypt, CN=R11");
    assert.match(String(shop['fix']), /certs renew shop\.example\.com/);
    assert.ok(!String(shop['message']).includes(String(shop['fix'])), 'the message does not repeat the fix');
    const recovered = p.events.find((e) => e['kind'] === 'recovery')!;
    assert.equal(recovered['status'], 'recovered');
    assert.ok(!('fix' in recovered));
  });

  it('the dashboard link comes from daemon.http', () => {
    assert.equal(dashboardUrl({ daemon: { http: { address: '127.0.0.1', port: 9464 } } }), 'http://127.0.0.1:9464/');
    assert.equal(dashboardUrl({ daemon: { http: { address: '::1', port: 8080 } } }), 'http://[::1]:8080/');
    assert.equal(dashboardUrl({}), undefined);
    // A wildcard listen address links to the machine by name.
    assert.equal(dashboardUrl({ daemon: { http: { address: '0.0.0.0', port: 9464 } } }, () => 'certs1.example.net'), 'http://certs1.example.net:9464/');
    assert.equal(dashboardUrl({ daemon: { http: { address: '::', port: 9464 } } }, () => 'certs1.example.net'), 'http://certs1.example.net:9464/');
  });
});
