import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDigest,
  buildHeartbeat,
  DEFAULT_THRESHOLDS,
  digestSubject,
  evaluateNotifications,
  heartbeatDue,
  isAlertingProblem,
  type ActiveProblem,
  type NotifyEvent,
} from '../../../src/core/notify-policy.js';
import type { EndpointReport } from '../../../src/core/model.js';
import { statusOf, type Problem } from '../../../src/core/problems.js';
import { endpointKey } from '../../../src/core/report.js';
import { fixFor } from '../../../src/core/advice.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T03:17:00.000Z');
const at = (d: number): Date => new Date(T0 + d * DAY);
const defaults = (): number[] => [...DEFAULT_THRESHOLDS];

const prob = (code: Problem['code'], severity: Problem['severity'] = 'critical', hint?: string): Problem => ({
  code,
  severity,
  message: `${code} seen`,
  ...(hint ? { hint } : {}),
});

interface RepOpts {
  domain?: string;
  host?: string;
  port?: number;
  fp?: string | null;
  daysLeft?: number | null;
  notAfter?: string | null;
  problems?: Problem[];
  unknown?: boolean;
}

function rep(o: RepOpts = {}): EndpointReport {
  const domain = o.domain ?? 'example.com';
  const problems = o.problems ?? [];
  return {
    domain,
    host: o.host ?? domain,
    port: o.port ?? 443,
    source: 'tls',
    status: o.unknown ? 'unknown' : statusOf(problems),
    daysLeft: o.daysLeft === undefined ? 60 : o.daysLeft,
    notAfter: o.notAfter === undefined ? '2026-12-01T00:00:00.000Z' : o.notAfter,
    fingerprint256: o.fp === undefined ? 'AA:01' : o.fp,
    issuer: null,
    subject: null,
    problems,
    scannedAt: o.unknown ? null : at(0).toISOString(),
  };
}

/** A report as a scan of a certificate with this notAfter would give it (expiring-soon/expired as chain.ts adds them). */
function scanned(now: Date, fp: string, notAfterMs: number, domain = 'example.com'): EndpointReport {
  const daysLeft = Math.floor((notAfterMs - now.getTime()) / DAY);
  const problems: Problem[] = [];
  if (notAfterMs < now.getTime()) problems.push(prob('expired'));
  else if (daysLeft <= 30) problems.push(prob('expiring-soon', daysLeft <= 7 ? 'critical' : 'warning'));
  return rep({ domain, fp, daysLeft, notAfter: new Date(notAfterMs).toISOString(), problems });
}

/** Runs the policy like the service does, carrying the persisted state from run to run. */
class Runner {
  sent = new Set<string>();
  active: ActiveProblem[] = [];
  constructor(private readonly thresholdsFor: (domain: string) => number[] = defaults) {}
  run(reports: EndpointReport[], now: Date): NotifyEvent[] {
    const out = evaluateNotifications({ reports, sentExpiry: this.sent, active: this.active, thresholdsFor: this.thresholdsFor, now });
    for (const k of out.markSent) this.sent.add(k);
    const cleared = new Set(out.clear);
    this.active = [...this.active.filter((a) => !cleared.has(a)), ...out.activate];
    return out.events;
  }
}

const summary = (e: NotifyEvent): string => `${e.kind}:${e.threshold ?? e.code}:${e.severity}:${e.fingerprint256 ?? '-'}`;

describe('evaluateNotifications: expiry thresholds', () => {
  test('the simulated month: a 30-day certificate, no renewal → 30, 14, 7, 3, 1, then expired as a problem, each once', () => {
    const notAfter = T0 + 30 * DAY + 12 * 3_600_000; // daysLeft on day d = 30 - d
    const r = new Runner();
    const byDay: Record<number, string[]> = {};
    for (let d = 0; d <= 35; d++) {
      const events = r.run([scanned(at(d), 'A', notAfter)], at(d));
      if (events.length) byDay[d] = events.map(summary);
    }
    assert.deepEqual(byDay, {
      0: ['expiry:30:warning:A'],
      16: ['expiry:14:warning:A'],
      23: ['expiry:7:critical:A'],
      27: ['expiry:3:critical:A'],
      29: ['expiry:1:critical:A'],
      31: ['problem:expired:critical:A'],
    });
  });

  test('the same month with a renewal on day 20: nothing more for the old certificate, the new one starts afresh', () => {
    const oldNotAfter = T0 + 30 * DAY + 12 * 3_600_000;
    const newNotAfter = T0 + 50 * DAY + 12 * 3_600_000; // 30 days again on day 20
    const r = new Runner();
    const byDay: Record<number, string[]> = {};
    for (let d = 0; d <= 35; d++) {
      const report = d < 20 ? scanned(at(d), 'A', oldNotAfter) : scanned(at(d), 'B', newNotAfter);
      const events = r.run([report], at(d));
      if (events.length) byDay[d] = events.map(summary);
    }
    // B's first message is its 30-day one, not a 14-day one inherited from A.
    assert.deepEqual(byDay, { 0: ['expiry:30:warning:A'], 16: ['expiry:14:warning:A'], 20: ['expiry:30:warning:B'] });
  });

  test('a certificate renewed in time sends nothing (the policy sees the certificate after renewal)', () => {
    const r = new Runner();
    let issued = T0;
    const all: NotifyEvent[] = [];
    for (let d = 0; d <= 200; d++) {
      const now = at(d);
      // a 90-day certificate renewed when ⅓ (30 days) remains, before the scan of the same run
      if ((issued + 90 * DAY - now.getTime()) / DAY <= 30) issued = now.getTime();
      all.push(...r.run([scanned(now, `fp-${issued}`, issued + 90 * DAY)], now));
    }
    assert.deepEqual(all, []);
  });

  test('a first run at 5 days left sends one event (7-day), not three, and marks 30, 14, 7 as sent', () => {
    const r = rep({ daysLeft: 5, fp: 'F1' });
    const k = endpointKey(r);
    const out = evaluateNotifications({ reports: [r], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0) });
    assert.equal(out.events.length, 1);
    const e = out.events[0]!;
    assert.equal(e.threshold, 7);
    assert.equal(e.severity, 'critical');
    assert.equal(e.key, `expiry:${k}:F1:7`);
    assert.deepEqual(out.markSent.sort(), [`expiry:${k}:F1:14`, `expiry:${k}:F1:30`, `expiry:${k}:F1:7`].sort());
    // The message says what and where; the fix is its own field, shown once (issue 14).
    assert.equal(e.message, 'example.com example.com:443: expires in 5 days (2026-12-01)');
    assert.equal(e.fix, fixFor('expiry', { domain: 'example.com', managed: true, endpoint: 'example.com:443' }));
    assert.match(e.fix!, /certs renew example\.com/);
    assert.equal(e.hint, e.fix);
  });

  const cases: Array<{ name: string; daysLeft: number; sent: number[]; thresholds?: number[]; event: number | null; marks: number[]; severity?: string }> = [
    { name: 'nothing crossed', daysLeft: 31, sent: [], event: null, marks: [] },
    { name: 'exactly on a threshold counts as crossed', daysLeft: 30, sent: [], event: 30, marks: [30], severity: 'warning' },
    { name: 'already sent: quiet', daysLeft: 20, sent: [30], event: null, marks: [] },
    { name: 'next threshold crossed', daysLeft: 14, sent: [30], event: 14, marks: [14] },
    { name: 'two unsent at once: the smaller only', daysLeft: 3, sent: [30, 14], event: 3, marks: [7, 3], severity: 'critical' },
    { name: 'a larger threshold added later is marked silently', daysLeft: 10, sent: [14], thresholds: [60, 30, 14], event: null, marks: [60, 30] },
    { name: 'zero days left: threshold 1', daysLeft: 0, sent: [30, 14, 7, 3], event: 1, marks: [1], severity: 'critical' },
    { name: 'critical when days left ≤ 7 even under a large threshold', daysLeft: 6, sent: [], thresholds: [10], event: 10, marks: [10], severity: 'critical' },
    { name: 'bad thresholds are ignored', daysLeft: 5, sent: [], thresholds: [0, -3, Number.NaN, 7, 7], event: 7, marks: [7] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = rep({ daysLeft: c.daysLeft, fp: 'F' });
      const k = endpointKey(r);
      const out = evaluateNotifications({
        reports: [r],
        sentExpiry: new Set(c.sent.map((t) => `expiry:${k}:F:${t}`)),
        active: [],
        thresholdsFor: () => c.thresholds ?? defaults(),
        now: at(0),
      });
      assert.deepEqual(out.events.map((e) => e.threshold), c.event === null ? [] : [c.event]);
      assert.deepEqual(out.markSent.sort(), c.marks.map((t) => `expiry:${k}:F:${t}`).sort());
      if (c.severity) assert.equal(out.events[0]?.severity, c.severity);
    });
  }

  test('per-domain thresholds via thresholdsFor', () => {
    const thresholdsFor = (d: string): number[] => (d === 'short.example' ? [10, 2] : defaults());
    const out = evaluateNotifications({
      reports: [rep({ domain: 'short.example', daysLeft: 12, fp: 'S' }), rep({ domain: 'long.example', daysLeft: 12, fp: 'L' })],
      sentExpiry: new Set(),
      active: [],
      thresholdsFor,
      now: at(0),
    });
    assert.deepEqual(out.events.map((e) => `${e.domain}:${e.threshold}`), ['long.example:14']);
    const r = new Runner(thresholdsFor);
    const days = [12, 10, 9, 3, 2, 1, 0].map((d) => r.run([rep({ domain: 'short.example', daysLeft: d, fp: 'S' })], at(0)).map((e) => e.threshold));
    assert.deepEqual(days, [[], [10], [], [], [2], [], []]);
  });

  test('the same certificate on two endpoints is one message per endpoint', () => {
    const out = evaluateNotifications({
      reports: [rep({ host: 'a.example.com', daysLeft: 13 }), rep({ host: 'b.example.com', daysLeft: 13 })],
      sentExpiry: new Set(),
      active: [],
      thresholdsFor: defaults,
      now: at(0),
    });
    assert.deepEqual(out.events.map((e) => e.endpoint), ['a.example.com:443', 'b.example.com:443']);
  });

  test('an expired certificate is a problem, not an expiry; also when only daysLeft says so', () => {
    for (const r of [rep({ daysLeft: -2, problems: [prob('expired')] }), rep({ daysLeft: -1 })]) {
      const out = evaluateNotifications({ reports: [r], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0) });
      assert.deepEqual(out.events.map(summary), ['problem:expired:critical:AA:01']);
      assert.deepEqual(out.markSent, []);
    }
  });

  test('a monitor-only domain gets a replace hint, not certs renew', () => {
    const out = evaluateNotifications({ reports: [rep({ daysLeft: 2 })], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0), isManaged: () => false });
    const e = out.events[0]!;
    assert.equal(e.fix, fixFor('expiry', { domain: 'example.com', managed: false, endpoint: 'example.com:443' }));
    assert.doesNotMatch(e.fix!, /certs renew/);
    assert.doesNotMatch(e.message, /certs renew|replace/, 'the message carries no fix');
    // With the certificate file the config names, the fix names it.
    const withFile = evaluateNotifications({ reports: [rep({ daysLeft: 2 })], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0), isManaged: () => false, certFileFor: () => '/etc/ssl/example.pem' });
    assert.match(withFile.events[0]!.fix!, /\/etc\/ssl\/example\.pem/);
  });
});

const HOUR = 3_600_000;

/** A scan of a certificate of `lifetimeDays` issued at `issuedAt` (notAfter = notBefore + lifetime − 1 s, as CAs write it). */
function scannedLifetime(now: Date, fp: string, issuedAt: number, lifetimeDays: number, domain = 'example.com'): EndpointReport {
  const notAfterMs = issuedAt + lifetimeDays * DAY - 1000;
  return { ...scanned(now, fp, notAfterMs, domain), notBefore: new Date(issuedAt).toISOString(), scannedAt: now.toISOString() };
}

/** Runs the policy every `stepMs` over a certificate's life; returns [ms left when it fired, configured threshold, severity]. */
function lifeOf(lifetimeDays: number, stepMs: number, opts: { thresholds?: number[]; warningDays?: number; criticalDays?: number } = {}): Array<[number, number, string]> {
  const sent = new Set<string>();
  const fired: Array<[number, number, string]> = [];
  const notAfter = T0 + lifetimeDays * DAY - 1000;
  for (let now = T0; now <= notAfter; now += stepMs) {
    const out = evaluateNotifications({
      reports: [scannedLifetime(new Date(now), 'L', T0, lifetimeDays)],
      sentExpiry: sent,
      active: [],
      thresholdsFor: () => opts.thresholds ?? defaults(),
      now: new Date(now),
      ...(opts.warningDays !== undefined ? { warningDays: opts.warningDays } : {}),
      ...(opts.criticalDays !== undefined ? { criticalDays: opts.criticalDays } : {}),
    });
    for (const k of out.markSent) sent.add(k);
    for (const e of out.events) if (e.kind === 'expiry') fired.push([notAfter - now, e.threshold!, e.severity]);
  }
  return fired;
}

describe('evaluateNotifications: thresholds scaled to the lifetime (core/thresholds.ts; replaces "below half the lifetime")', () => {
  test('6-day certificate, checked every 10 minutes: five emails, each once, none before its scaled threshold', () => {
    const fired = lifeOf(6, 10 * 60_000);
    assert.deepEqual(fired.map(([, t, sev]) => [t, sev]), [[30, 'warning'], [14, 'warning'], [7, 'critical'], [3, 'critical'], [1, 'critical']]);
    for (const [left, t] of fired) {
      const inForce = (t * 6 * DAY) / 90;
      assert.ok(left <= inForce + 1000 && left > inForce - 10 * 60_000 - 1000, `threshold ${t}: fired with ${left / HOUR} h left, in force at ${inForce / HOUR} h`);
    }
  });

  test('47-day certificate, checked hourly: 30/14/7/3/1 fire at 15.7/7.3/3.7/1.6/0.5 days, each once', () => {
    const fired = lifeOf(47, HOUR);
    assert.deepEqual(fired.map(([, t]) => t), [30, 14, 7, 3, 1]);
    for (const [left, t] of fired) {
      const inForce = (t * 47 * DAY) / 90;
      assert.ok(left <= inForce + 1000 && left > inForce - HOUR - 1000, `threshold ${t}: fired with ${left / DAY} days left, in force at ${inForce / DAY}`);
    }
    assert.deepEqual(fired.map(([, , sev]) => sev), ['warning', 'warning', 'critical', 'critical', 'critical']);
  });

  test('90- and 200-day certificates: exactly as before (whole days left ≤ t)', () => {
    for (const lifetime of [90, 200]) {
      const fired = lifeOf(lifetime, HOUR);
      assert.deepEqual(fired.map(([, t]) => t), [30, 14, 7, 3, 1], `${lifetime} days`);
      // Reached when fewer than t + 1 days are left: floor(days left) ≤ t.
      for (const [left, t] of fired) assert.ok(left < (t + 1) * DAY && left >= (t + 1) * DAY - HOUR, `${lifetime}: ${t} at ${left / DAY}`);
    }
  });

  test('the event keeps the configured threshold as its key and says what is in force; the subject reads it', () => {
    const issued = T0;
    const now = new Date(T0 + 6 * DAY - 1000 - 10 * HOUR); // 10 hours left of 6 days: the 7-day threshold (11.2 h)
    const r = scannedLifetime(now, 'S', issued, 6);
    const out = evaluateNotifications({ reports: [r], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now });
    assert.equal(out.events.length, 1);
    const e = out.events[0]!;
    assert.equal(e.key, `expiry:${endpointKey(r)}:S:7`);
    assert.equal(e.threshold, 7);
    assert.ok(Math.abs(e.thresholdInForce! - (7 * 6) / 90) < 1e-6);
    assert.equal(e.severity, 'critical');
    assert.deepEqual(out.markSent.map((k) => k.split(':').pop()).sort(), ['14', '30', '7']);
    assert.equal(digestSubject(out.events), '[certs] CRITICAL: 1 certificate expires within 11 hours: example.com');
    // Unscaled events carry no thresholdInForce.
    const long = evaluateNotifications({ reports: [scannedLifetime(new Date(T0 + 85 * DAY), 'N', T0, 90)], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: new Date(T0 + 85 * DAY) });
    assert.equal(long.events[0]?.threshold, 7);
    assert.equal(long.events[0]?.thresholdInForce, undefined);
  });

  test("a domain's own thresholds scale too; warningDays and criticalDays come from the scanner's settings", () => {
    assert.deepEqual(lifeOf(45, HOUR, { thresholds: [10, 2] }).map(([left, t]) => [t, Math.round(left / HOUR)]), [[10, 120], [2, 24]]);
    // warningDays 15: a 45-day certificate is not scaled (45 ≥ 3 × 15), so 10 and 2 fire at whole days.
    assert.deepEqual(lifeOf(45, HOUR, { thresholds: [10, 2], warningDays: 15, criticalDays: 3 }).map(([left, t, sev]) => [t, Math.ceil(left / DAY), sev]), [[10, 11, 'warning'], [2, 3, 'critical']]);
  });

  test('a lifetime that is not known (no notBefore) is not scaled', () => {
    const r = rep({ daysLeft: 20, fp: 'U' });
    const out = evaluateNotifications({ reports: [r], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0) });
    assert.deepEqual(out.events.map((e) => [e.threshold, e.thresholdInForce]), [[30, undefined]]);
  });
});

describe('evaluateNotifications: problems', () => {
  const alerting: Array<[Problem, boolean]> = [
    [prob('incomplete-chain'), true],
    [prob('hostname-mismatch'), true],
    [prob('unreachable'), true],
    [prob('weak-key'), true],
    [prob('renewal-failing', 'warning'), true],
    [prob('stale-deployment', 'warning'), true],
    [prob('expiring-soon', 'critical'), false],
    [prob('expiring-soon', 'warning'), false],
    [prob('wrong-order', 'warning'), false],
    [prob('extra-certs', 'warning'), false],
  ];
  for (const [p, expected] of alerting) {
    test(`${p.code} (${p.severity}) ${expected ? 'alerts' : 'does not alert'}`, () => assert.equal(isAlertingProblem(p), expected));
  }

  test('a problem appearing alerts once; its clearing sends one recovery; it may come back', () => {
    const r = new Runner();
    const bad = (): EndpointReport => rep({ domain: 'legacy.corp', problems: [prob('incomplete-chain', 'critical', 'serve the fullchain')] });
    const good = (): EndpointReport => rep({ domain: 'legacy.corp' });
    const runs = [bad(), bad(), bad(), good(), good(), bad()].map((report, d) => r.run([report], at(d)));
    assert.deepEqual(runs.map((es) => es.map((e) => `${e.kind}:${e.code}`)), [
      ['problem:incomplete-chain'], [], [], ['recovery:incomplete-chain'], [], ['problem:incomplete-chain'],
    ]);
    const first = runs[0]![0]!;
    const k = endpointKey(good());
    assert.equal(first.key, `problem:${k}:incomplete-chain:${at(0).toISOString()}`);
    assert.equal(first.message, 'legacy.corp legacy.corp:443: incomplete-chain: incomplete-chain seen');
    assert.equal(first.detail, 'incomplete-chain seen');
    assert.equal(first.hint, 'serve the fullchain');
    assert.equal(first.fix, fixFor('incomplete-chain', { domain: 'legacy.corp', managed: true, endpoint: 'legacy.corp:443', hint: 'serve the fullchain' }));
    assert.equal(runs[3]![0]!.key, `recovery:${k}:incomplete-chain:${at(0).toISOString()}`);
    assert.equal(runs[3]![0]!.severity, 'info');
    assert.notEqual(runs[5]![0]!.key, first.key, 'a new occurrence has a new key');
  });

  test('renewal-failing as a warning still alerts, and does not alert again when it turns critical', () => {
    const r = new Runner();
    const a = r.run([rep({ daysLeft: 40, problems: [prob('renewal-failing', 'warning')] })], at(0));
    assert.deepEqual(a.map(summary), ['problem:renewal-failing:warning:AA:01']);
    assert.deepEqual(r.run([rep({ daysLeft: 40, problems: [prob('renewal-failing', 'critical')] })], at(1)), []);
  });

  test('unreachable alerts and clears', () => {
    const r = new Runner();
    const down = rep({ fp: null, daysLeft: null, notAfter: null, problems: [prob('unreachable')] });
    assert.deepEqual(r.run([down], at(0)).map((e) => `${e.kind}:${e.code}:${e.severity}`), ['problem:unreachable:critical']);
    assert.deepEqual(r.run([down], at(1)), []);
    assert.deepEqual(r.run([rep()], at(2)).map((e) => `${e.kind}:${e.code}`), ['recovery:unreachable']);
    assert.deepEqual(r.active, []);
  });

  test('several problems on one endpoint: each alerts and clears on its own', () => {
    const r = new Runner();
    assert.equal(r.run([rep({ problems: [prob('incomplete-chain'), prob('hostname-mismatch'), prob('wrong-order', 'warning')] })], at(0)).length, 2);
    assert.deepEqual(r.run([rep({ problems: [prob('hostname-mismatch')] })], at(1)).map((e) => `${e.kind}:${e.code}`), ['recovery:incomplete-chain']);
    assert.deepEqual(r.active.map((a) => a.code), ['hostname-mismatch']);
  });

  test('an endpoint not in reports (removed, or not scanned in a subset run) neither clears nor alerts', () => {
    const r = new Runner();
    r.run([rep({ domain: 'a.com', problems: [prob('hostname-mismatch')] }), rep({ domain: 'b.com', problems: [prob('unreachable')] })], at(0));
    const events = r.run([rep({ domain: 'b.com' })], at(1));
    assert.deepEqual(events.map((e) => `${e.kind}:${e.domain}`), ['recovery:b.com']);
    assert.deepEqual(r.active.map((a) => `${a.domain}:${a.code}`), ['a.com:hostname-mismatch']);
  });

  test('a never-scanned report (unknown, no problems) changes nothing', () => {
    const r = new Runner();
    r.run([rep({ problems: [prob('incomplete-chain')] })], at(0));
    const out = evaluateNotifications({
      reports: [rep({ unknown: true, fp: null, daysLeft: null, notAfter: null })],
      sentExpiry: r.sent,
      active: r.active,
      thresholdsFor: defaults,
      now: at(1),
    });
    assert.deepEqual(out, { events: [], markSent: [], activate: [], clear: [] });
  });

  test('a file endpoint is shown as file:/path', () => {
    const file: EndpointReport = { ...rep({ problems: [prob('key-mismatch')] }), source: 'file', port: 0, file: '/etc/ssl/example.pem' };
    const out = evaluateNotifications({ reports: [file], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0) });
    assert.equal(out.events[0]!.endpoint, 'file:/etc/ssl/example.pem');
    assert.match(out.events[0]!.message, /^example\.com file:\/etc\/ssl\/example\.pem: key-mismatch: /);
  });

  test('messages stay on one line', () => {
    const p: Problem = { code: 'handshake-failed', severity: 'critical', message: 'first\nsecond', hint: 'a\r\nb' };
    const out = evaluateNotifications({ reports: [rep({ problems: [p] })], sentExpiry: new Set(), active: [], thresholdsFor: defaults, now: at(0) });
    assert.equal(out.events[0]!.message, 'example.com example.com:443: handshake-failed: first second');
    assert.ok(!/[\r\n]/.test(out.events[0]!.fix!), out.events[0]!.fix);
  });
});

describe('heartbeatDue', () => {
  const cases: Array<[string, Date | null, Date, number, boolean]> = [
    ['never sent', null, at(0), 24, true],
    ['not yet', at(0), new Date(at(0).getTime() + 23 * 3_600_000), 24, false],
    ['exactly due', at(0), at(1), 24, true],
    ['overdue', at(0), at(3), 24, true],
    ['off (0)', null, at(0), 0, false],
    ['off (negative)', at(0), at(9), -1, false],
  ];
  for (const [name, last, now, hours, expected] of cases) test(name, () => assert.equal(heartbeatDue(last, now, hours), expected));
});

describe('digest', () => {
  let n = 0;
  const ev = (o: Partial<NotifyEvent> & Pick<NotifyEvent, 'kind' | 'severity' | 'domain'>): NotifyEvent => {
    n++;
    return {
      key: `k${n}`,
      endpoint: `${o.domain}:443`,
      endpointKey: `tls|${o.domain}|${o.domain}|443|`,
      fingerprint256: `FP${n}`,
      daysLeft: null,
      notAfter: null,
      message: `${o.domain} line ${n}`,
      ...o,
    };
  };
  const exp = (domain: string, threshold: number, daysLeft = threshold): NotifyEvent =>
    ev({ kind: 'expiry', severity: threshold <= 7 ? 'critical' : 'warning', domain, threshold, daysLeft });

  // Issue 14: at most 78 characters, the worst first; names whole or not at all.
  const subjects: Array<[string, NotifyEvent[], string]> = [
    ['nothing', [], '[certs] nothing new'],
    ['only recoveries', [ev({ kind: 'recovery', severity: 'info', domain: 'a.com' }), ev({ kind: 'recovery', severity: 'info', domain: 'b.com' }), ev({ kind: 'recovery', severity: 'info', domain: 'a.com' })], '[certs] 3 problems recovered: a.com, b.com'],
    ['expiry only', [exp('example.com', 7, 6), exp('api.example.com', 7, 5)], '[certs] CRITICAL: 2 certificates expire within 7 days'],
    ['one certificate', [exp('example.com', 30)], '[certs] 1 certificate expires within 30 days: example.com'],
    ['two warnings', [exp('example.com', 30, 25), exp('api.example.com', 30, 22)], '[certs] 2 certificates expire within 30 days: api.example.com, example.com'],
    ['expiry with mixed thresholds', [exp('a.com', 30), exp('b.com', 7, 6)], '[certs] CRITICAL: 2 certificates expire within 30 days (1 within 7)'],
    ['one critical problem', [ev({ kind: 'problem', severity: 'critical', domain: 'legacy.corp', code: 'incomplete-chain' })], '[certs] CRITICAL: incomplete-chain on legacy.corp'],
    ['expired leads with the name', [exp('soon.com', 30, 20), ev({ kind: 'problem', severity: 'critical', domain: 'expired.example.com', code: 'expired', daysLeft: -1 })], '[certs] CRITICAL: expired.example.com expired; 1 more problem'],
    [
      'several critical problems: the most urgent, then a count',
      [
        ev({ kind: 'problem', severity: 'critical', domain: 'a.com', code: 'incomplete-chain' }),
        ev({ kind: 'problem', severity: 'critical', domain: 'c.com', code: 'hostname-mismatch' }),
        ev({ kind: 'problem', severity: 'critical', domain: 'b.com', code: 'incomplete-chain' }),
      ],
      '[certs] CRITICAL: incomplete-chain on a.com; 2 more problems',
    ],
    ['a warning problem', [ev({ kind: 'problem', severity: 'warning', domain: 'x.com', code: 'renewal-failing' })], '[certs] WARNING: renewal-failing on x.com'],
    [
      'mixed, leading with the worst (the recovered count does not fit and is left out whole)',
      [
        ev({ kind: 'recovery', severity: 'info', domain: 'ok.com' }),
        exp('soon.com', 14),
        ev({ kind: 'problem', severity: 'warning', domain: 'x.com', code: 'renewal-failing' }),
        ev({ kind: 'problem', severity: 'critical', domain: 'legacy.corp', code: 'incomplete-chain' }),
      ],
      '[certs] CRITICAL: incomplete-chain on legacy.corp; 2 more problems',
    ],
    ['a recovered count when it fits', [ev({ kind: 'recovery', severity: 'info', domain: 'ok.com' }), ev({ kind: 'problem', severity: 'critical', domain: 'a.io', code: 'revoked' })], '[certs] CRITICAL: revoked on a.io; 1 recovered'],
    ['critical expiry before warning problems', [ev({ kind: 'problem', severity: 'warning', domain: 'x.com', code: 'stale-deployment' }), exp('soon.com', 3, 2)], '[certs] CRITICAL: soon.com expires in 2 days; 1 more problem'],
    ['whole names while they fit, then a count', ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((d) => exp(`${d}.com`, 7, 7)), '[certs] CRITICAL: 7 certificates expire within 7 days: a.com, b.com and 5 more'],
  ];
  for (const [name, events, subject] of subjects) test(`subject: ${name}`, () => assert.equal(digestSubject(events), subject));

  test('grouping across 50 endpoints', () => {
    const events: NotifyEvent[] = [];
    for (let i = 0; i < 50; i++) {
      const d = `host${String(i).padStart(2, '0')}.example.com`;
      if (i < 20) events.push(exp(d, 7, 7 - (i % 5)));
      else if (i < 30) events.push(exp(d, 30, 25));
      else if (i < 35) events.push(ev({ kind: 'problem', severity: 'critical', domain: d, code: 'incomplete-chain' }));
      else if (i < 40) events.push(ev({ kind: 'problem', severity: 'warning', domain: d, code: 'renewal-failing' }));
      else events.push(ev({ kind: 'recovery', severity: 'info', domain: d, code: 'unreachable' }));
    }
    const digest = buildDigest(events, { now: at(0), total: 120 });
    assert.deepEqual(digest.counts, { critical: 25, warning: 15, info: 10 });
    assert.deepEqual(digest.groups.map((g) => [g.title, g.events.length]), [['CRITICAL', 25], ['WARNING', 15], ['RECOVERED', 10]]);
    // the most urgent first inside a group
    const crit = digest.groups[0]!.events;
    assert.equal(crit[0]!.daysLeft, 3);
    const lines = digest.text.trimEnd().split('\n');
    // story, summary, blank, heading, then one line per event (these events have no fix)
    assert.equal(lines.filter((l) => /^(CRITICAL|WARNING|RECOVERED) /.test(l)).length, 50, 'one line per event');
    assert.equal(lines[1], '2026-11-01 03:17 UTC, watching 120 certificates: 25 critical, 15 warnings, 10 recovered. Since the last digest: 40 new, 10 recovered.');
    assert.deepEqual(digest.rows.map((r) => r.status).filter((v, k, a) => a[k - 1] !== v), ['critical', 'warning', 'recovered'], 'one table, in urgency order');
    assert.equal(digest.rest, null, '50 rows are all shown');
    assert.equal(
      digest.story,
      '5 critical problems: incomplete-chain on host30.example.com, host31.example.com, host32.example.com, host33.example.com, host34.example.com; ' +
        '30 certificates expire within 30 days (20 within 7): host04.example.com, host09.example.com, host14.example.com, host19.example.com, host03.example.com and 25 more; ' +
        '5 warnings: renewal-failing on host35.example.com, host36.example.com, host37.example.com, host38.example.com, host39.example.com; ' +
        'recovered: host40.example.com, host41.example.com, host42.example.com, host43.example.com, host44.example.com and 5 more',
    );
    assert.equal(lines[0], digest.story, 'the story opens the body');
    assert.equal(digest.subject, '[certs] CRITICAL: host04.example.com expires in 3 days; 39 more problems');
  });

  test('an empty digest groups nothing', () => {
    const d = buildDigest([], { now: at(0) });
    assert.deepEqual(d.groups, []);
    assert.deepEqual(d.counts, { critical: 0, warning: 0, info: 0 });
  });

  test('heartbeat: nothing wrong', () => {
    const hb = buildHeartbeat({ now: at(0), total: 42 });
    assert.equal(hb.subject, '[certs] watching 42 certificates, nothing wrong');
    assert.equal(hb.text, 'watching 42 certificates, nothing wrong (2026-11-01 03:17 UTC)\n');
    assert.equal(buildHeartbeat({ now: at(0), total: 1, worst: [] }).subject, '[certs] watching 1 certificate, nothing wrong');
  });

  test('heartbeat: summarises open problems', () => {
    const worst: ActiveProblem[] = [
      { endpointKey: 'k1', domain: 'legacy.corp', endpoint: 'legacy.corp:443', code: 'incomplete-chain', since: at(-3).toISOString(), message: 'no intermediate' },
      { endpointKey: 'k2', domain: 'b.com', endpoint: 'b.com:443', code: 'renewal-failing', since: at(-1).toISOString(), message: 'dns-01 hook failed' },
    ];
    const hb = buildHeartbeat({ now: at(0), total: 42, worst });
    assert.equal(hb.subject, '[certs] watching 42 certificates, 2 open problems');
    assert.equal(buildHeartbeat({ now: at(0), total: 3, worst: worst.slice(1) }).subject, '[certs] watching 3 certificates, 1 open problem: renewal-failing on b.com');
    assert.equal(hb.story, 'watching 42 certificates, 2 open problems: renewal-failing on b.com, incomplete-chain on legacy.corp');
    assert.equal(hb.groups[0]!.events.length, 2);
    assert.deepEqual(hb.rows.map((r) => [r.status, r.domain]), [['open', 'b.com'], ['open', 'legacy.corp']]);
    assert.match(hb.text, /OPEN +legacy\.corp +legacy\.corp:443 .*incomplete-chain: open since 2026-10-29 03:17 UTC: no intermediate/);
  });
});
