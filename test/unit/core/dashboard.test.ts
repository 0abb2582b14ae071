import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byUrgency, compareUrgency, dashboardSummary, expiryTimeline, lifetimeLeft, weekTotal, TIMELINE_WEEKS,
  type DashboardCounts, type DashboardRowLike, type TimelineCounts,
} from '../../../src/core/dashboard.js';
import type { DashboardSummary, TimelineWeek, DashboardRow } from '../../../src/web/model.js';
import type { Status } from '../../../src/core/problems.js';

// The core types mirror web/model.ts's (core may not import web): these assignments fail the
// typecheck when either side drifts.
const _toWeb = (c: DashboardCounts, t: TimelineCounts): [DashboardSummary, TimelineWeek] => [c, t];
const _fromWeb = (c: DashboardSummary, t: TimelineWeek, r: DashboardRow): [DashboardCounts, TimelineCounts, DashboardRowLike] => [c, t, r];
void _toWeb; void _fromWeb;

const NOW = new Date('2026-12-04T12:00:00.000Z');
const DAY = 86_400_000;
const inDays = (d: number): string => new Date(NOW.getTime() + d * DAY).toISOString();

let seq = 0;
function row(status: Status, daysLeft: number | null, extra: Partial<DashboardRowLike> = {}): DashboardRowLike {
  seq++;
  return { status, daysLeft, notAfter: daysLeft === null ? null : inDays(daysLeft), managed: false, domain: `d${seq}.example`, endpoint: `d${seq}.example:443`, ...extra };
}

describe('lifetimeLeft', () => {
  const cases: Array<[string, string | null, string | null, number | null]> = [
    ['half way', inDays(-45), inDays(45), 0.5],
    ['just issued', inDays(0), inDays(90), 1],
    ['not yet valid clamps to 1', inDays(10), inDays(100), 1],
    ['expired clamps to 0', inDays(-100), inDays(-10), 0],
    ['a quarter left', inDays(-75), inDays(25), 0.25],
    ['no notBefore', null, inDays(10), null],
    ['no notAfter', inDays(-10), null, null],
    ['unreadable date', 'soon', inDays(10), null],
    ['empty span', inDays(5), inDays(5), null],
    ['reversed span', inDays(5), inDays(-5), null],
  ];
  for (const [name, nb, na, want] of cases) {
    test(name, () => {
      const got = lifetimeLeft(nb, na, NOW);
      if (want === null) assert.equal(got, null);
      else assert.ok(got !== null && Math.abs(got - want) < 1e-9, `${got} != ${want}`);
    });
  }
});

describe('dashboardSummary', () => {
  test('no rows', () => {
    assert.deepEqual(dashboardSummary([]), { ok: 0, warning: 0, critical: 0, unknown: 0, within7: 0, within30: 0, total: 0 });
  });
  test('counts statuses and the 7 / 30 day windows, expired included, undated excluded', () => {
    const rows = [
      row('critical', -3), // expired: in both windows
      row('critical', 7), // boundary of 7
      row('warning', 8),
      row('warning', 30), // boundary of 30
      row('ok', 31),
      row('ok', 200),
      row('unknown', null),
      row('critical', null), // unreachable: no days
    ];
    assert.deepEqual(dashboardSummary(rows), { ok: 2, warning: 2, critical: 3, unknown: 1, within7: 2, within30: 4, total: 8 });
  });
});

describe('expiryTimeline', () => {
  test('13 weeks of 7 days from now, empty when nothing expires', () => {
    const weeks = expiryTimeline([], NOW);
    assert.equal(weeks.length, TIMELINE_WEEKS);
    assert.equal(weeks[0]!.start, NOW.toISOString());
    for (let i = 0; i < weeks.length; i++) {
      assert.equal(Date.parse(weeks[i]!.end) - Date.parse(weeks[i]!.start), 7 * DAY);
      if (i > 0) assert.equal(weeks[i]!.start, weeks[i - 1]!.end);
      assert.equal(weekTotal(weeks[i]!), 0);
    }
  });
  const cases: Array<[string, DashboardRowLike, number | null, 'managed' | 'monitored']> = [
    ['expires now: week 0', row('warning', 0), 0, 'monitored'],
    ['6.9 days: week 0', row('critical', 6.9, { managed: true }), 0, 'managed'],
    ['7 days: week 1', row('warning', 7), 1, 'monitored'],
    ['90.9 days: week 12, the last', row('ok', 90.9, { managed: true }), 12, 'managed'],
    ['91 days: past the timeline', row('ok', 91), null, 'monitored'],
    ['expired: not in it', row('critical', -0.01), null, 'monitored'],
    ['no date: not in it', row('unknown', null), null, 'monitored'],
    ['unreadable date: not in it', row('ok', 5, { notAfter: 'tomorrow' }), null, 'monitored'],
  ];
  for (const [name, r, week, side] of cases) {
    test(name, () => {
      const weeks = expiryTimeline([r], NOW);
      weeks.forEach((w, i) => {
        const other = side === 'managed' ? 'monitored' : 'managed';
        assert.equal(w[side][r.status], i === week ? 1 : 0, `week ${i}`);
        assert.equal(weekTotal(w), i === week ? 1 : 0, `week ${i} total`);
        assert.equal(weekTotal({ managed: w[other], monitored: w[other] }), 0);
      });
    });
  }
  test('totals add up over many rows', () => {
    const rows: DashboardRowLike[] = [];
    const statuses: Status[] = ['ok', 'warning', 'critical', 'unknown'];
    for (let i = 0; i < 500; i++) rows.push(row(statuses[i % 4]!, (i * 0.37) % 120 - 10, { managed: i % 3 === 0 }));
    const inWindow = rows.filter((r) => r.daysLeft! >= 0 && r.daysLeft! < 91).length;
    const weeks = expiryTimeline(rows, NOW);
    assert.equal(weeks.reduce((n, w) => n + weekTotal(w), 0), inWindow);
    const managed = weeks.reduce((n, w) => n + weekTotal({ managed: w.managed, monitored: { ok: 0, warning: 0, critical: 0, unknown: 0 } }), 0);
    assert.equal(managed, rows.filter((r) => r.managed && r.daysLeft! >= 0 && r.daysLeft! < 91).length);
  });
});

describe('urgency order', () => {
  test('status first, then fewest days (none last), then domain, then endpoint', () => {
    const rows = [
      row('ok', 5, { domain: 'a', endpoint: 'a:443' }),
      row('unknown', null, { domain: 'b', endpoint: 'b:443' }),
      row('warning', 20, { domain: 'c', endpoint: 'c:443' }),
      row('critical', null, { domain: 'd', endpoint: 'd:443' }),
      row('critical', -4, { domain: 'e', endpoint: 'e:443' }),
      row('critical', 3, { domain: 'f', endpoint: 'f:443' }),
      row('warning', 10, { domain: 'g', endpoint: 'g:8443' }),
      row('warning', 10, { domain: 'g', endpoint: 'g:443' }),
      row('warning', 10, { domain: 'a', endpoint: 'a:993' }),
    ];
    const order = byUrgency([...rows]).map((r) => `${r.status}/${r.endpoint}`);
    assert.deepEqual(order, [
      'critical/e:443', 'critical/f:443', 'critical/d:443',
      'warning/a:993', 'warning/g:443', 'warning/g:8443', 'warning/c:443',
      'unknown/b:443',
      'ok/a:443',
    ]);
  });
  test('equal rows compare 0', () => {
    const a = row('ok', 5, { domain: 'x', endpoint: 'x:1' });
    assert.equal(compareUrgency(a, { ...a }), 0);
  });
});
