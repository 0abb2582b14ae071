import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDigest, digestSubject, fitNames, MAX_ROWS, MAX_SUBJECT, shortenName, tableText } from '../../../src/core/digest.js';
import type { NotifyEvent } from '../../../src/core/notify-policy.js';
import { PROBLEM_CODES } from '../../../src/core/problems.js';

const NOW = new Date('2026-11-25T03:17:00.000Z');
/** A 253-character name (the DNS maximum): four 62-character labels and ".com". */
const LONG = `${['a', 'b', 'c', 'd'].map((c) => c.repeat(61) + c.toUpperCase()).join('.').toLowerCase()}.com`.slice(0, 253);
let n = 0;

function ev(o: Partial<NotifyEvent> & Pick<NotifyEvent, 'kind' | 'severity' | 'domain'>): NotifyEvent {
  n++;
  return {
    key: `k${n}`,
    endpoint: `${o.domain}:443`,
    endpointKey: `tls|${o.domain}|${o.domain}|443|`,
    fingerprint256: `FP${n}`,
    daysLeft: 40,
    notAfter: '2027-01-04T00:00:00.000Z',
    message: `${o.domain} line ${n}`,
    detail: `detail ${n}`,
    ...(o.kind !== 'recovery' ? { fix: `fix number ${n} for ${o.domain}` } : {}),
    ...o,
  };
}

/** `count` problems of every kind and severity, `name(i)` for the i-th domain. */
function mixed(count: number, name: (i: number) => string): NotifyEvent[] {
  const out: NotifyEvent[] = [];
  for (let i = 0; i < count; i++) {
    const domain = name(i);
    const k = i % 4;
    if (k === 0) out.push(ev({ kind: 'problem', severity: 'critical', domain, code: PROBLEM_CODES[i % PROBLEM_CODES.length]!, daysLeft: 60 - (i % 30) }));
    else if (k === 1) out.push(ev({ kind: 'expiry', severity: 'warning', domain, threshold: 30, daysLeft: 20 + (i % 9) }));
    else if (k === 2) out.push(ev({ kind: 'expiry', severity: 'critical', domain, threshold: 7, daysLeft: i % 7 }));
    else out.push(ev({ kind: 'problem', severity: 'warning', domain, code: 'renewal-failing', daysLeft: 25 }));
  }
  return out;
}

describe('digest subject: at most 78 characters, the worst first', () => {
  const namings: Array<[string, (i: number) => string]> = [
    ['short names', (i) => `host${i}.example.com`],
    ['253-character names', (i) => `${i}${LONG}`.slice(0, 253)],
  ];
  for (const [naming, name] of namings) {
    for (const count of [1, 5, 500]) {
      test(`${count} problems, ${naming}`, () => {
        const events = mixed(count, name);
        const subject = digestSubject(events);
        assert.ok(subject.length <= MAX_SUBJECT, `${subject.length}: ${subject}`);
        assert.ok(subject.startsWith('[certs] '), subject);
        const worst = buildDigest(events, { now: NOW }).rows[0]!;
        // The worst row's status leads, and its name (whole, or its first labels) follows.
        assert.ok(subject.startsWith(`[certs] ${worst.status.toUpperCase()}: `), subject);
        const shown = subject.includes(worst.domain) ? worst.domain : /(\S+)…/.exec(subject)?.[1];
        assert.ok(shown && worst.domain.startsWith(shown), `${subject} should name ${worst.domain}`);
        if (count > 1) assert.match(subject, new RegExp(`; ${count - 1} more problems?`), subject);
      });
    }
  }

  test('a 253-character name of short labels is cut at a dot, and the count of the rest stays', () => {
    const labels = `${Array.from({ length: 30 }, (_, i) => `label${String(i).padStart(2, '0')}`).join('.')}.example.com`.slice(-253);
    const subject = digestSubject([ev({ kind: 'problem', severity: 'critical', domain: labels, code: 'expired', daysLeft: -1 }), ev({ kind: 'problem', severity: 'critical', domain: 'b.com', code: 'revoked' })]);
    assert.ok(subject.length <= MAX_SUBJECT, subject);
    const m = /^\[certs\] CRITICAL: (.+)… expired; 1 more problem$/.exec(subject);
    assert.ok(m, subject);
    assert.ok(labels.startsWith(`${m[1]!}.`), `cut after a whole label: ${m[1]}`);
  });

  test('a name of 62-character labels: the first label does not fit, so it is cut inside it', () => {
    const subject = digestSubject([ev({ kind: 'problem', severity: 'critical', domain: LONG, code: 'expired', daysLeft: -1 }), ev({ kind: 'problem', severity: 'critical', domain: 'b.com', code: 'revoked' })]);
    assert.equal(subject.length, MAX_SUBJECT, subject);
    assert.match(subject, /^\[certs\] CRITICAL: a+… expired; 1 more problem$/);
  });

  test('a name of one 253-character label is cut inside it (nothing else possible), still ≤ 78', () => {
    const subject = digestSubject([ev({ kind: 'problem', severity: 'critical', domain: 'x'.repeat(253), code: 'hostname-mismatch' })]);
    assert.ok(subject.length <= MAX_SUBJECT, subject);
    assert.match(subject, /^\[certs\] CRITICAL: hostname-mismatch on x+…$/);
  });

  test('names in a list are whole or counted, never cut', () => {
    const events = Array.from({ length: 12 }, (_, i) => ev({ kind: 'expiry', severity: 'warning', domain: `svc-${i}.example.com`, threshold: 30, daysLeft: 20 + i }));
    const subject = digestSubject(events);
    assert.equal(subject, '[certs] 12 certificates expire within 30 days: svc-0.example.com and 11 more');
    assert.ok(subject.length <= MAX_SUBJECT);
    assert.equal(fitNames(['abc.com', 'de.com'], 6), '', 'not even one fits: nothing');
    assert.equal(fitNames(['abc.com', 'de.com'], 20), 'abc.com, de.com');
    assert.equal(fitNames(['abc.com', 'de.com', 'fgh.com'], 22), 'abc.com and 2 more');
    assert.equal(shortenName('www.example.com', 12), 'www.example…');
    assert.equal(shortenName('www.example.com', 15), 'www.example.com');
  });
});

describe('digest body: one table, one fix per problem', () => {
  test('every problem row has exactly one fix line, recoveries none; no fix appears twice', () => {
    const events = [...mixed(12, (i) => `h${i}.example.com`), ev({ kind: 'recovery', severity: 'info', domain: 'ok.example.com', code: 'unreachable' })];
    const d = buildDigest(events, { now: NOW });
    const lines = d.text.split('\n');
    for (const e of events) {
      const hits = lines.filter((l) => e.fix !== undefined && l.includes(e.fix));
      if (e.kind === 'recovery') continue;
      assert.equal(hits.length, 1, `${e.fix}: ${hits.length}`);
      // the fix is on the line right after its own row
      const at = lines.indexOf(hits[0]!);
      assert.ok(lines[at - 1]!.includes(e.domain), `${e.domain}: ${lines[at - 1]}`);
      assert.ok(!lines[at - 1]!.includes(e.fix!), 'the row itself does not repeat it');
    }
    assert.equal(lines.filter((l) => /^ +fix: /.test(l)).length, 12);
    assert.ok(!lines.some((l) => l.startsWith('RECOVERED') && lines[lines.indexOf(l) + 1]?.includes('fix:')), 'no fix under a recovery');
  });

  test('urgency order: critical, warning, recovered; then days left; then domain, endpoint', () => {
    const events = [
      ev({ kind: 'recovery', severity: 'info', domain: 'a.com', daysLeft: 1 }),
      ev({ kind: 'problem', severity: 'warning', domain: 'b.com', code: 'renewal-failing', daysLeft: 2 }),
      ev({ kind: 'problem', severity: 'critical', domain: 'z.com', code: 'revoked', daysLeft: 50 }),
      ev({ kind: 'expiry', severity: 'critical', domain: 'y.com', threshold: 7, daysLeft: 3 }),
      ev({ kind: 'problem', severity: 'critical', domain: 'c.com', code: 'expired', daysLeft: -4 }),
      ev({ kind: 'problem', severity: 'critical', domain: 'c2.com', code: 'timeout', daysLeft: null }),
      ev({ kind: 'problem', severity: 'critical', domain: 'b.com', code: 'revoked', daysLeft: 50 }),
    ];
    assert.deepEqual(buildDigest(events, { now: NOW }).rows.map((r) => `${r.status}:${r.domain}`), [
      'critical:c.com', 'critical:y.com', 'critical:b.com', 'critical:z.com', 'critical:c2.com', 'warning:b.com', 'recovered:a.com',
    ]);
  });

  for (const total of [51, 500]) {
    test(`${total} rows: the ${MAX_ROWS} most urgent are shown, the rest counted by status with a link`, () => {
      const events = [...mixed(total - 10, (i) => `h${String(i).padStart(3, '0')}.example.com`), ...Array.from({ length: 10 }, (_, i) => ev({ kind: 'recovery', severity: 'info', domain: `r${i}.example.com` }))];
      const d = buildDigest(events, { now: NOW, links: { dashboard: 'http://127.0.0.1:9464/' } });
      assert.equal(d.rows.length, total);
      assert.equal(d.shown, MAX_ROWS);
      const table = d.text.split('\n').filter((l) => /^(CRITICAL|WARNING|RECOVERED) /.test(l));
      assert.equal(table.length, MAX_ROWS);
      // The shown ones are the most urgent: no hidden row outranks a shown one.
      const hidden = d.rows.slice(MAX_ROWS);
      const count = (s: string): number => hidden.filter((r) => r.status === s).length;
      const by = [['critical', count('critical')], ['warning', count('warning')], ['recovered', count('recovered')]]
        .filter(([, k]) => (k as number) > 0)
        .map(([s, k]) => (s === 'warning' ? `${k} warning${k === 1 ? '' : 's'}` : `${k} ${s}`));
      assert.equal(d.rest, `${total - MAX_ROWS} more not shown (${by.join(', ')}); all of them on the dashboard: http://127.0.0.1:9464/`);
      assert.ok(d.text.includes(`\n\n${d.rest}\n`), 'the rest line is in the body');
      assert.equal(hidden.length + MAX_ROWS, total, 'nothing dropped silently');
    });
  }

  test('the rest points to the report when there is no dashboard, else to certs status', () => {
    const events = mixed(60, (i) => `h${i}.example.com`);
    assert.match(buildDigest(events, { now: NOW, links: { report: '/var/www/certs.html' } }).rest!, /; all of them in the report: \/var\/www\/certs\.html$/);
    assert.match(buildDigest(events, { now: NOW }).rest!, /; all of them: certs status$/);
  });

  test('a 253-character name pushes its own row only: the columns of the others stay aligned', () => {
    const rows = buildDigest([ev({ kind: 'problem', severity: 'critical', domain: LONG, code: 'revoked' }), ev({ kind: 'problem', severity: 'critical', domain: 'a.com', code: 'revoked' }), ev({ kind: 'problem', severity: 'critical', domain: 'b.com', code: 'revoked' })], { now: NOW }).rows;
    const lines = tableText(rows).split('\n').filter((l) => l.startsWith('CRITICAL'));
    assert.ok(lines.some((l) => l.includes(LONG)), 'the long name whole');
    const short = lines.filter((l) => !l.includes(LONG));
    assert.equal(short[0]!.indexOf('a.com:443'), short[1]!.indexOf('b.com:443'));
    assert.ok(short[0]!.length < 200, short[0]);
  });
});
