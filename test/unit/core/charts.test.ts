import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  escapeText, lifetimeBarSvg, lifetimePercent, shortDate, sparklineLayout, sparklineSvg, timelineLayout, timelineSvg,
  type SparkInput, type TimelineWeekInput,
} from '../../../src/core/charts.js';
import type { Status } from '../../../src/core/problems.js';

const zero = (): Record<Status, number> => ({ ok: 0, warning: 0, critical: 0, unknown: 0 });
const DAY = 86_400_000;
const T0 = Date.parse('2026-12-04T12:00:00Z');

function weeks(counts: Array<[Partial<Record<Status, number>>, Partial<Record<Status, number>>]>): TimelineWeekInput[] {
  return counts.map(([m, o], i) => ({
    start: new Date(T0 + i * 7 * DAY).toISOString(),
    end: new Date(T0 + (i + 1) * 7 * DAY).toISOString(),
    managed: { ...zero(), ...m },
    monitored: { ...zero(), ...o },
  }));
}

const attrs = (tag: string, svg: string): Array<Record<string, string>> =>
  [...svg.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));

describe('escapeText', () => {
  const cases: Array<[string, string]> = [
    ['plain.example.com', 'plain.example.com'],
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['a&b "c" \'d\'', 'a&amp;b &quot;c&quot; &#39;d&#39;'],
    ['', ''],
    ['ümlaut ✓', 'ümlaut ✓'],
    ['&amp;', '&amp;amp;'],
  ];
  for (const [input, want] of cases) test(JSON.stringify(input), () => assert.equal(escapeText(input), want));
});

describe('shortDate', () => {
  test('UTC day and month', () => {
    assert.equal(shortDate('2026-12-04T23:59:59Z'), '4 Dec');
    assert.equal(shortDate('2027-01-01T00:00:00Z'), '1 Jan');
    assert.equal(shortDate('nonsense'), '');
  });
});

describe('timeline', () => {
  const data = weeks([
    [{ critical: 2, ok: 3 }, { warning: 1 }],
    [{}, {}],
    [{ ok: 10 }, { ok: 5, unknown: 1 }],
    [{}, { critical: 7 }],
  ]);
  const L = timelineLayout(data);

  test('the busiest week spans the plot; each bar is its count to scale', () => {
    assert.equal(L.max, 16);
    const scale = (L.baseline - L.top) / L.max;
    assert.deepEqual(L.bars.map((b) => b.count), [6, 0, 16, 7]);
    for (const b of L.bars) {
      assert.ok(Math.abs(b.height - b.count * scale) <= 0.01, `bar ${b.index}: ${b.height} vs ${b.count * scale}`);
      assert.equal(b.y + b.height, L.baseline);
    }
    assert.equal(L.bars[2]!.y, L.top);
  });

  test('segments stack without gaps or overlap and add up to the bar', () => {
    const scale = (L.baseline - L.top) / L.max;
    for (const b of L.bars) {
      let bottom = L.baseline;
      let sum = 0;
      let count = 0;
      for (const s of b.segments) {
        assert.ok(s.count > 0);
        assert.ok(Math.abs(s.y + s.height - bottom) < 1e-9, 'rests on the one below');
        assert.ok(Math.abs(s.height - s.count * scale) <= 0.02);
        bottom = s.y;
        sum += s.height;
        count += s.count;
      }
      assert.equal(count, b.count);
      assert.ok(Math.abs(sum - b.height) < 1e-9);
    }
  });

  test('managed below monitor-only, statuses in order', () => {
    assert.deepEqual(L.bars[0]!.segments.map((s) => `${s.managed ? 'M' : 'o'}:${s.status}`), ['M:critical', 'M:ok', 'o:warning']);
    assert.deepEqual(L.bars[2]!.segments.map((s) => `${s.managed ? 'M' : 'o'}:${s.status}`), ['M:ok', 'o:unknown', 'o:ok']);
  });

  test('bars do not overlap and stay inside the view', () => {
    for (let i = 0; i < L.bars.length; i++) {
      const b = L.bars[i]!;
      assert.ok(b.x >= 0 && b.x + b.width <= L.width);
      if (i > 0) assert.ok(b.x >= L.bars[i - 1]!.x + L.bars[i - 1]!.width);
    }
  });

  test('the SVG carries one bar per week with its count, titles with counts, hatched monitor-only', () => {
    const svg = timelineSvg(data);
    assert.match(svg, /^<svg [^>]*role="img" aria-label="Certificates expiring per week over the next 4 weeks: 29 in all; the most, 16, in the week from 18 Dec\."/);
    const bars = attrs('g', svg).filter((g) => g['data-testid'] === 'timeline-bar');
    assert.deepEqual(bars.map((g) => Number(g['data-count'])), [6, 0, 16, 7]);
    const titles = [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
    assert.equal(titles[0], 'Week from 4 Dec: 6 expiring. Managed: 2 critical, 3 ok. Monitor-only: 1 warning.');
    assert.equal(titles[1], 'Week from 11 Dec: 0 expiring. Managed: none. Monitor-only: none.');
    const segs = attrs('rect', svg).filter((r) => (r.class ?? '').split(' ').includes('seg'));
    // 2+1 managed segments solid; 1+2+1 monitor-only ones each with a hatch overlay.
    assert.equal(segs.filter((r) => !r.class!.includes('mon')).length, 3);
    assert.equal(segs.filter((r) => r.class!.includes('mon')).length, 4);
    assert.equal(attrs('rect', svg).filter((r) => r.fill === 'url(#tl-hatch)').length, 4);
    assert.match(svg, /<pattern id="tl-hatch"/);
  });

  test('every week empty: flat bars, no division by zero', () => {
    const L0 = timelineLayout(weeks([[{}, {}], [{}, {}]]));
    assert.equal(L0.max, 1);
    for (const b of L0.bars) {
      assert.equal(b.height, 0);
      assert.equal(b.segments.length, 0);
    }
    assert.match(timelineSvg(weeks([[{}, {}]])), /0 in all\./);
  });

  test('a hostile pattern id is escaped', () => {
    assert.match(timelineSvg(weeks([[{}, { ok: 1 }]]), '"><x'), /id="&quot;&gt;&lt;x-hatch"/);
  });
});

describe('sparkline', () => {
  const at = (d: number): string => new Date(T0 + d * DAY).toISOString();
  const pts: SparkInput[] = [
    { scannedAt: at(0), daysLeft: 30, status: 'ok' },
    { scannedAt: at(1), daysLeft: 29, status: 'ok' },
    { scannedAt: at(2), daysLeft: null, status: 'critical' },
    { scannedAt: at(4), daysLeft: 89, status: 'ok' },
    { scannedAt: at(8), daysLeft: -3, status: 'critical' },
  ];

  test('x follows time, y follows days left, 0 inside the range', () => {
    const L = sparklineLayout(pts);
    assert.equal(L.min, -3);
    assert.equal(L.max, 89);
    const p = L.points;
    assert.equal(p[2], null);
    assert.equal(p[0]!.x, 4);
    assert.equal(p[4]!.x, L.width - 4);
    // Day 4 of 8 is half way.
    assert.equal(p[3]!.x, L.width / 2);
    assert.equal(p[3]!.y, 4, 'highest at the top');
    assert.equal(p[4]!.y, L.height - 4, 'lowest at the bottom');
    assert.ok(p[0]!.y > p[3]!.y && p[0]!.y < p[4]!.y);
    assert.ok(L.zeroY > p[0]!.y && L.zeroY < p[4]!.y);
  });

  test('a missing days-left splits the line; non-ok and last scans get a dot', () => {
    const svg = sparklineSvg(pts);
    const lines = attrs('polyline', svg);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.points!.split(' ').length, 2);
    assert.equal(lines[1]!.points!.split(' ').length, 2);
    const dots = attrs('circle', svg);
    assert.deepEqual(dots.map((d) => d.class), ['dot s-critical']);
    assert.match(svg, /aria-label="Days left over 5 scans from 2026-12-04 to 2026-12-12: now -3, lowest -3, highest 89\."/);
  });

  test('one scan, no scans, scans without dates', () => {
    const one = sparklineLayout([{ scannedAt: at(0), daysLeft: 10, status: 'ok' }]);
    assert.equal(one.points[0]!.x, one.width / 2);
    assert.match(sparklineSvg([]), /No scans recorded yet\./);
    assert.doesNotMatch(sparklineSvg([]), /polyline|circle/);
    const undated = sparklineLayout([
      { scannedAt: '', daysLeft: 1, status: 'ok' },
      { scannedAt: '', daysLeft: 2, status: 'ok' },
      { scannedAt: '', daysLeft: 3, status: 'ok' },
    ]);
    assert.deepEqual(undated.points.map((p) => p!.x), [4, 150, 296]);
  });

  test('all-null history draws no line', () => {
    const svg = sparklineSvg([{ scannedAt: at(0), daysLeft: null, status: 'critical' }, { scannedAt: at(1), daysLeft: null, status: 'critical' }]);
    assert.doesNotMatch(svg, /polyline/);
    assert.match(svg, /none had a certificate date/);
  });
});

describe('lifetime bar', () => {
  test('percent rounding and clamping', () => {
    assert.equal(lifetimePercent(null), null);
    assert.equal(lifetimePercent(0.374), 37);
    assert.equal(lifetimePercent(0.375), 38);
    assert.equal(lifetimePercent(1.5), 100);
    assert.equal(lifetimePercent(-1), 0);
    assert.equal(lifetimePercent(Number.NaN), null);
  });
  test('the filled part is the percent of a 100-wide bar, labelled in text', () => {
    const svg = lifetimeBarSvg(37, 'warning');
    const rects = attrs('rect', svg);
    assert.equal(rects[0]!.width, '100');
    assert.equal(rects[1]!.width, '37');
    assert.equal(rects[1]!.class, 's-warning');
    assert.match(svg, /aria-label="37% of lifetime left"/);
    assert.doesNotMatch(lifetimeBarSvg(null, 'unknown'), /<svg/);
  });
});
