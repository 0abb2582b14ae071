/**
 * The HTTP channels of issue 17 against one loopback sink (node:http on 127.0.0.1): each format's
 * requests for the fixed digest of test/helpers/digest-fixture.ts match the golden files in
 * test/fixtures/notify-golden/<format>.json (method, path, headers, body); messages survive an
 * outage exactly once through the outbox (clock injected, no sleeps); PagerDuty's trigger and
 * its resolve share one dedup_key across runs; no credential shows in any error or stored
 * last_error, whether the sink answers 500, 400 (echoing the request) or nothing at all.
 *
 * Regenerate the golden files with UPDATE_GOLDEN=1 after a deliberate change, and read the diff.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { ChannelConfig, Config } from '../../src/config/types.js';
import { buildDigest, runEventToNotify, type NotifyEvent } from '../../src/core/notify-policy.js';
import type { EndpointReport } from '../../src/core/model.js';
import { statusOf, type Problem } from '../../src/core/problems.js';
import { createHttpChannel } from '../../src/notify/channel.js';
import { channelMessages, channelTestMessages, notifyAfterRun } from '../../src/service/notify.js';
import { channelsOf } from '../../src/cli/compose.js';
import { openStore, type Store } from '../../src/store/index.js';
import { a } from '../helpers/async-store.js';
import { GOLDEN_NOW, goldenEvents } from '../helpers/digest-fixture.js';

const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/notify-golden/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

/** Credentials, each distinctive so a leak is found by a plain substring search. */
const SECRETS = {
  NTFY_TOKEN: 'tk_ntfySECRET0001',
  GOTIFY_TOKEN: 'AgotifySECRET0002',
  TG_TOKEN: '123456:TelegramSECRET0003',
  MATRIX_TOKEN: 'syt_matrixSECRET0004',
  PD_KEY: 'R0UTINGKEYSECRET0005pagerduty000',
  DISCORD_PATH: 'DiscordPathSECRET0006',
  TEAMS_SIG: 'TeamsSigSECRET0007',
};
const ALL_SECRETS = Object.values(SECRETS);

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Headers left out of the comparison: host carries the sink's ephemeral port, content-length is
 * the body's length (the body itself is compared byte for byte), and the rest are what fetch
 * (undici) adds on its own, which differs between Node 20, 22 and 24.
 */
const VOLATILE = new Set(['host', 'content-length', 'connection', 'keep-alive', 'accept', 'accept-language', 'accept-encoding', 'sec-fetch-mode', 'transfer-encoding']);

function stable(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h).sort()) if (!VOLATILE.has(k)) out[k] = String(h[k]);
  return out;
}

type Answer = (req: Seen, n: number) => { status: number; body?: string };

class Sink {
  readonly seen: Seen[] = [];
  answer: Answer = () => ({ status: 200, body: '{}' });
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        const seen: Seen = { method: req.method ?? '', path: req.url ?? '', headers: stable(req.headers), body };
        this.seen.push(seen);
        const a = this.answer(seen, this.seen.length);
        res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(a.body ?? '');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): void {
    this.server.close();
  }
}

function channelsYaml(base: string, extra = ''): string {
  return [
    'notify:',
    '  channels:',
    `    - { name: phone, format: ntfy, url: "${base}/ntfy/certs-alerts", token: "\${env:NTFY_TOKEN}" }`,
    `    - { name: got, format: gotify, url: "${base}/gotify/", token: "\${env:GOTIFY_TOKEN}" }`,
    `    - { name: disc, format: discord, url: "${base}/api/webhooks/42/\${env:DISCORD_PATH}" }`,
    `    - { name: teams-ops, format: teams, url: "${base}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=\${env:TEAMS_SIG}" }`,
    `    - { name: tg, format: telegram, url: "${base}/telegram", token: "\${env:TG_TOKEN}", chatId: -1001234567890 }`,
    `    - { name: mx, format: matrix, homeserver: "${base}/matrix", roomId: "!ops:example.org", accessToken: "\${env:MATRIX_TOKEN}" }`,
    `    - { name: pd, format: pagerduty, url: "${base}/v2/enqueue", routingKey: "\${env:PD_KEY}" }`,
    extra,
  ].join('\n');
}

function loadYaml(dir: string, yaml: string): Config {
  const file = join(dir, 'certs.yaml');
  writeFileSync(file, `dataDir: ${join(dir, 'data')}\n${yaml}`);
  return loadConfig(file, { env: { ...SECRETS } });
}

function assertNoSecret(text: string, where: string): void {
  for (const s of ALL_SECRETS) assert.ok(!text.includes(s) && !text.includes(encodeURIComponent(s)), `${where} shows a secret: ${text}`);
}

describe('notify channels against a loopback sink', () => {
  const sink = new Sink();
  let dir = '';
  before(async () => {
    await sink.start();
    dir = mkdtempSync(join(tmpdir(), 'certs-notify-channels-'));
  });
  after(() => {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  const caseDir = (): string => {
    const d = join(dir, `case${++seq}`);
    mkdirSync(d);
    return d;
  };

  /** The golden digest, plus a hook failure so the run events are covered too. */
  function goldenInput(): { events: NotifyEvent[]; stillOpen: number } {
    const { events, stillOpen } = goldenEvents();
    const hook = runEventToNotify({ type: 'hook-failed', domain: 'shop.example.com', key: 'shop.example.com:deploy:v7', message: 'deploy hook failed', detail: 'domain "shop.example.com": deploy hook "/usr/local/bin/push-cert" exited 1: permission denied' });
    return { events: [...events, hook], stillOpen };
  }

  it('each format sends its golden requests: method, path, headers and body', async () => {
    const config = loadYaml(caseDir(), channelsYaml(sink.base));
    const { events, stillOpen } = goldenInput();
    const digest = buildDigest(events, { now: GOLDEN_NOW, total: 7, stillOpen });
    sink.answer = () => ({ status: 200, body: '{"ok":true}' });
    const mismatches: string[] = [];
    for (const ch of config.notify!.channels!) {
      const from = sink.seen.length;
      const messages = channelMessages(ch, events, digest, GOLDEN_NOW, 'digest');
      assert.ok(messages.length > 0, `${ch.format}: something to send`);
      const channel = createHttpChannel(ch);
      for (const [i, m] of messages.entries()) {
        assertNoSecret(JSON.stringify(m), `${ch.format}'s stored message`);
        assert.equal((await channel.deliver({ ...m, id: i + 1 })).response, 'HTTP 200');
      }
      const got = sink.seen.slice(from).map((r) => ({ ...r, body: JSON.parse(r.body) as unknown }));
      const file = join(GOLDEN_DIR, `${ch.format}.json`);
      if (UPDATE) {
        mkdirSync(GOLDEN_DIR, { recursive: true });
        writeFileSync(file, `${JSON.stringify(got, null, 2)}\n`);
        continue;
      }
      const want = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      try {
        assert.deepEqual(got, want);
      } catch (err) {
        mismatches.push(`${ch.format}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(mismatches, [], 'every format matches its golden file (UPDATE_GOLDEN=1 regenerates them)');
  });

  const T0 = new Date('2031-03-01T03:17:00.000Z');
  const DAY = 86_400_000;

  function report(domain: string, problems: Problem[] = [], daysLeft = 60): EndpointReport {
    return {
      domain,
      host: domain,
      port: 443,
      source: 'tls',
      status: statusOf(problems),
      daysLeft,
      notAfter: new Date(T0.getTime() + daysLeft * DAY).toISOString(),
      fingerprint256: `FP:${domain}`,
      issuer: 'CN=Test CA',
      subject: `CN=${domain}`,
      problems,
      scannedAt: T0.toISOString(),
    };
  }
  const chainProblem: Problem = { code: 'incomplete-chain', severity: 'critical', message: 'the intermediate is missing', hint: 'serve the fullchain' };

  function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    const store = openStore(join(caseDir(), 'data'));
    return fn(store).finally(() => store.close());
  }

  it('an outage (503 twice per channel) delays each message; after it every one arrives exactly once', async () => {
    const config = loadYaml(caseDir(), `${channelsYaml(sink.base)}domains:\n  - { name: a.example, managed: false }\n  - { name: b.example, managed: false }\n`);
    await withStore(async (store) => {
      const from = sink.seen.length;
      const attempts = new Map<string, number>();
      // Each channel's service is down for its first two requests, then up.
      sink.answer = (req) => {
        const service = req.path.split('/')[1]!;
        const n = (attempts.get(service) ?? 0) + 1;
        attempts.set(service, n);
        return n <= 2 ? { status: 503, body: 'maintenance' } : { status: 200, body: '{}' };
      };
      const reports = [report('a.example', [chainProblem], 5), report('b.example', [], 10)];
      let now = T0;
      let queued = 0;
      const results = [];
      // Runs a day apart (longer than any backoff here): the clock is what moves, nothing sleeps.
      for (let run = 0; run < 5; run++) {
        const r = await notifyAfterRun(config, a(store), reports, { now, random: () => 0.5, channels: channelsOf(config) });
        queued += r.queued;
        results.push(r);
        now = new Date(now.getTime() + DAY);
      }
      assert.equal(results[0]!.events.length, 3, 'one problem, two expiries');
      assert.equal(results.slice(1).reduce((n, r) => n + r.queued, 0), 0, 'later runs decide nothing new');
      assert.equal(await store.notifications.pendingCount(), 0, 'everything delivered in the end');
      const delivered = sink.seen.slice(from);
      const ok = new Map<string, number>();
      for (const [i, req] of delivered.entries()) {
        const service = req.path.split('/')[1]!;
        const nth = delivered.slice(0, i + 1).filter((x) => x.path.split('/')[1] === service).length;
        if (nth <= 2) continue;
        const id = `${req.method} ${req.path} ${req.body}`;
        ok.set(id, (ok.get(id) ?? 0) + 1);
      }
      assert.equal(ok.size, queued, `each of the ${queued} queued messages was accepted once`);
      assert.deepEqual([...new Set(ok.values())], [1], 'none twice');
      // The outage is on record, without a credential in it.
      for (const m of await store.notifications.list({ limit: 100 })) {
        assert.ok(m.attempts >= 1);
        assertNoSecret(`${m.lastError ?? ''} ${m.response ?? ''} ${JSON.stringify(m.payload)}`, `outbox row ${m.key}`);
      }
    });
  });

  it('PagerDuty: a problem triggers, its recovery on a later run resolves with the same dedup_key', async () => {
    const base = sink.base;
    const config = loadYaml(caseDir(), `notify:\n  channels:\n    - { name: pd, format: pagerduty, url: "${base}/v2/enqueue", routingKey: "\${env:PD_KEY}" }\ndomains:\n  - { name: a.example, managed: false }\n`);
    await withStore(async (store) => {
      sink.answer = () => ({ status: 202, body: '{"status":"success"}' });
      const from = sink.seen.length;
      await notifyAfterRun(config, a(store), [report('a.example', [chainProblem])], { now: T0, random: () => 0.5, channels: channelsOf(config) });
      await notifyAfterRun(config, a(store), [report('a.example')], { now: new Date(T0.getTime() + DAY), random: () => 0.5, channels: channelsOf(config) });
      const bodies = sink.seen.slice(from).map((r) => JSON.parse(r.body) as { routing_key: string; event_action: string; dedup_key: string; payload?: { severity: string } });
      assert.deepEqual(bodies.map((b) => b.event_action), ['trigger', 'resolve']);
      assert.equal(bodies[0]!.dedup_key, bodies[1]!.dedup_key);
      assert.equal(bodies[0]!.dedup_key, 'certs:tls|a.example|a.example|443|:incomplete-chain');
      assert.equal(bodies[0]!.payload?.severity, 'critical');
      assert.ok(bodies.every((b) => b.routing_key === SECRETS.PD_KEY), 'the routing key is added at send time');
      assertNoSecret(JSON.stringify((await store.notifications.list()).map((m) => m.payload)), 'the stored PagerDuty events');
    });
  });

  it('PagerDuty: a resolve waits for its trigger when an outage kept the trigger back, so the incident closes', async () => {
    const base = sink.base;
    const config = loadYaml(caseDir(), `notify:\n  channels:\n    - { name: pd, format: pagerduty, url: "${base}/v2/enqueue", routingKey: "\${env:PD_KEY}" }\ndomains:\n  - { name: o.example, managed: false }\n`);
    await withStore(async (store) => {
      let calls = 0;
      // The first request meets an outage; everything after is accepted.
      sink.answer = () => (++calls === 1 ? { status: 503, body: 'down' } : { status: 202, body: '{"status":"success"}' });
      const from = sink.seen.length;
      const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);
      const run = (r: EndpointReport, minutes: number) => notifyAfterRun(config, a(store), [r], { now: at(minutes), random: () => 0.5, channels: channelsOf(config) });
      await run(report('o.example', [chainProblem]), 0);
      const second = await run(report('o.example'), 1);
      assert.deepEqual(second.failed.map((f) => f.error), ['held back until its trigger is delivered']);
      await run(report('o.example'), 24 * 60 + 5);
      const accepted = sink.seen.slice(from + 1).map((r) => (JSON.parse(r.body) as { event_action: string }).event_action);
      assert.deepEqual(accepted, ['trigger', 'resolve'], 'after the outage: the trigger, then its resolve');
      assert.equal(await store.notifications.pendingCount(), 0);
    });
  });

  it('PagerDuty: an expiry alert is resolved, with its dedup_key, once the endpoint serves a renewed certificate', async () => {
    const base = sink.base;
    const config = loadYaml(caseDir(), `notify:\n  channels:\n    - { name: pd, format: pagerduty, url: "${base}/v2/enqueue", routingKey: "\${env:PD_KEY}" }\ndomains:\n  - { name: e.example, managed: false }\n`);
    await withStore(async (store) => {
      sink.answer = () => ({ status: 202, body: '{"status":"success"}' });
      const from = sink.seen.length;
      const run = (r: EndpointReport, days: number) => notifyAfterRun(config, a(store), [r], { now: new Date(T0.getTime() + days * DAY), random: () => 0.5, channels: channelsOf(config) });
      await run(report('e.example', [], 10), 0);
      // Renewed by whoever runs it: another certificate, 89 days left.
      const renewed = { ...report('e.example', [], 89), fingerprint256: 'FP:renewed' };
      await run(renewed, 1);
      await run(renewed, 2);
      const bodies = sink.seen.slice(from).map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string });
      assert.deepEqual(bodies.map((b) => b.event_action), ['trigger', 'resolve'], 'one trigger, one resolve, nothing on the third run');
      assert.equal(bodies[0]!.dedup_key, 'certs:tls|e.example|e.example|443|:expiry:FP:e.example');
      assert.equal(bodies[1]!.dedup_key, bodies[0]!.dedup_key);
    });
  });

  it('certs notify test: every channel gets a test message it accepts; PagerDuty a trigger and its resolve', async () => {
    const config = loadYaml(caseDir(), channelsYaml(sink.base));
    sink.answer = () => ({ status: 200, body: '{}' });
    const from = sink.seen.length;
    for (const ch of config.notify!.channels! as ChannelConfig[]) {
      for (const m of channelTestMessages(ch, T0, 'host1')) await createHttpChannel(ch).deliver({ ...m, id: 0 });
    }
    const got = sink.seen.slice(from);
    assert.equal(got.length, 8, 'one request per channel, two for PagerDuty');
    for (const r of got.filter((x) => !x.path.startsWith('/v2/'))) assert.ok(r.body.includes('certs on host1: test message'), `${r.path}: ${r.body}`);
    const pd = got.filter((x) => x.path === '/v2/enqueue').map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string; payload?: { severity: string } });
    assert.deepEqual(pd.map((b) => b.event_action), ['trigger', 'resolve']);
    assert.equal(pd[0]!.payload?.severity, 'info');
    assert.equal(pd[0]!.dedup_key, pd[1]!.dedup_key);
  });

  it('no credential in any error: 500, 400 echoing the request, and a refused connection', async () => {
    const { events, stillOpen } = goldenInput();
    const digest = buildDigest(events, { now: GOLDEN_NOW, total: 7, stillOpen });
    const closed = new Sink();
    await closed.start();
    closed.close();
    const cases: Array<[string, Answer | null]> = [
      ['500', () => ({ status: 500, body: 'internal error' })],
      // A careless service quoting the request: path, headers and body, credentials included.
      ['400', (req) => ({ status: 400, body: `bad request ${req.path} ${JSON.stringify(req.headers)} ${req.body}` })],
      ['refused', null],
    ];
    for (const [what, answer] of cases) {
      const config = loadYaml(caseDir(), channelsYaml(answer ? sink.base : closed.base));
      if (answer) sink.answer = answer;
      for (const ch of config.notify!.channels! as ChannelConfig[]) {
        const [m] = channelMessages(ch, events, digest, GOLDEN_NOW, 'digest');
        const err = await createHttpChannel(ch).deliver({ ...m!, id: 1 }).then(() => null, (e: unknown) => e);
        assert.ok(err instanceof Error, `${what} ${ch.format}: the delivery failed`);
        assertNoSecret(err.message, `${what} ${ch.format}'s error`);
        assert.ok(err.message.includes(`channel "${ch.name}" (${ch.format})`), err.message);
        assert.equal((err as Error & { retryable?: boolean }).retryable, what !== '400', `${what}: retryable`);
        assert.equal((err as Error & { cause?: unknown }).cause, undefined, 'no cause carrying the request');
        if (what === '400') assert.match(err.message, /\*\*\*/, `${ch.format}: the echoed credential is masked`);
      }
    }
  });
});
