/**
 * The digest email's HTML part in a real browser (issue 14): Debian's Chromium driven by
 * playwright-core (test/helpers/browser.ts), light and dark colour schemes, 1,000 and 390 px
 * wide, for the golden digest (test/helpers/digest-fixture.ts) and a long one (60 rows, the 50
 * shown, names of 253 characters).
 *
 * What it checks, each of which could fail: the table is there and visible with its seven
 * column headings; every status badge carries its word; the page does not scroll sideways at
 * 390 px (only the table's own box may); every piece of text has a contrast of at least 4.5:1
 * against the background it is painted on, computed from getComputedStyle, in both schemes; the
 * dark scheme really is dark; the page loads nothing at all (no request, so no image, font or
 * stylesheet from anywhere).
 *
 * Screenshots go to test-artifacts/ (gitignored). With UPDATE_GOLDEN=1 the light 1,000 px one
 * is also written to docs/digest.png, which the README shows.
 *
 * Skipped on a machine without Chromium, except under TEST_SERVERS_REQUIRED=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { buildDigest, type NotifyEvent } from '../../src/core/notify-policy.js';
import { browserSkip, launchBrowser, openSession } from '../helpers/browser.js';
import { goldenDigest, goldenEmail, goldenEvents, GOLDEN_NOW, renderDigest } from '../helpers/digest-fixture.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const DOCS_PNG = fileURLToPath(new URL('../../docs/digest.png', import.meta.url));
const WIDTHS = [1000, 390] as const;
const SCHEMES = ['light', 'dark'] as const;

interface Measure {
  tableVisible: boolean;
  headings: string[];
  badges: string[];
  pageOverflow: number;
  bodyLuminance: number;
  worst: { ratio: number; text: string; fg: string; bg: string };
  rows: number;
}

/** Measured in the page: every text node's colour against the first opaque background behind it. */
async function measure(page: Page): Promise<Measure> {
  // tsx compiles named functions with esbuild's keepNames, which calls a __name helper the page does not have.
  await page.evaluate('globalThis.__name = (f) => f');
  return page.evaluate(() => {
    const parse = (c: string): [number, number, number, number] => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return [0, 0, 0, 0];
      const p = m[1]!.split(/[ ,/]+/).filter(Boolean).map(Number);
      return [p[0]!, p[1]!, p[2]!, p[3] ?? 1];
    };
    const lum = ([r, g, b]: number[]): number => {
      const f = (v: number): number => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const backgroundOf = (el: Element | null): string => {
      for (let e = el; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        if (parse(bg)[3] > 0.5) return bg;
      }
      return 'rgb(255, 255, 255)'; // what a browser paints when nothing says otherwise
    };
    let worst = { ratio: Infinity, text: '', fg: '', bg: '' };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = (n.textContent ?? '').trim();
      const el = n.parentElement;
      if (!text || !el) continue;
      const fg = getComputedStyle(el).color;
      const bg = backgroundOf(el);
      const [a, b] = [lum(parse(fg)), lum(parse(bg))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < worst.ratio) worst = { ratio, text: text.slice(0, 60), fg, bg };
    }
    const table = document.querySelector('table');
    const rect = table?.getBoundingClientRect();
    return {
      tableVisible: !!table && !!rect && rect.width > 0 && rect.height > 0 && getComputedStyle(table).visibility !== 'hidden',
      headings: [...document.querySelectorAll('th')].map((th) => th.textContent ?? ''),
      badges: [...document.querySelectorAll('tbody td:first-child > span')].map((s) => s.textContent ?? ''),
      pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      bodyLuminance: lum(parse(getComputedStyle(document.body).backgroundColor)),
      worst,
      rows: document.querySelectorAll('tbody tr').length,
    };
  });
}

/** A long digest: 60 problems, some with 253-character names, so only 50 are shown. */
function longHtml(): string {
  const base = goldenEvents().events[0]!;
  const name = (i: number): string => (i % 7 === 0 ? `${`n${i}-`.padEnd(61, 'x')}.${'y'.repeat(61)}.${'z'.repeat(61)}.${'w'.repeat(61)}.com`.slice(0, 253) : `host${i}.example.com`);
  const events: NotifyEvent[] = Array.from({ length: 60 }, (_, i) => ({ ...base, key: `k${i}`, domain: name(i), endpoint: `${name(i)}:443 @203.0.113.${i}`, endpointKey: `e${i}`, daysLeft: -1 - (i % 3) }));
  return renderDigest(buildDigest(events, { now: GOLDEN_NOW, total: 60, stillOpen: 0, links: { dashboard: 'http://127.0.0.1:9464/' } })).html;
}

describe('digest email HTML in a real browser', { skip: browserSkip() }, () => {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
  });

  const html = goldenEmail().html;
  const statuses = goldenDigest().rows.map((r) => r.status.toUpperCase());

  for (const scheme of SCHEMES) {
    for (const width of WIDTHS) {
      it(`${scheme}, ${width} px: table, badges, no sideways page scroll, readable text`, async () => {
        const s = await openSession(browser!, { viewport: { width, height: 900 }, colorScheme: scheme });
        try {
          await s.page.setContent(html, { waitUntil: 'load' });
          const m = await measure(s.page);
          const shot = join(ARTIFACTS, `digest-${scheme}-${width}.png`);
          await s.page.screenshot({ path: shot, fullPage: true });
          if (scheme === 'light' && width === 1000 && process.env['UPDATE_GOLDEN'] === '1') copyFileSync(shot, DOCS_PNG);
          assert.ok(m.tableVisible, 'the table is visible');
          assert.deepEqual(m.headings, ['Status', 'Domain', 'Endpoint', 'Days left', 'Expires', 'Issuer', 'Problem']);
          assert.deepEqual(m.badges, statuses, 'each row says its status in words');
          assert.ok(m.pageOverflow <= 0, `the page scrolls sideways by ${m.pageOverflow} px`);
          assert.ok(m.worst.ratio >= 4.5, `contrast ${m.worst.ratio.toFixed(2)} for "${m.worst.text}" (${m.worst.fg} on ${m.worst.bg})`);
          if (scheme === 'dark') assert.ok(m.bodyLuminance < 0.1, `dark mode paints a dark page (luminance ${m.bodyLuminance.toFixed(3)})`);
          else assert.ok(m.bodyLuminance > 0.8, `light mode paints a light page (luminance ${m.bodyLuminance.toFixed(3)})`);
          assert.deepEqual(s.requests, [], 'the email loads nothing');
          assert.deepEqual(s.errors(), []);
        } finally {
          await s.close();
        }
      });
    }
  }

  it('a long digest with 253-character names at 390 px: 50 rows shown, the rest counted, no sideways page scroll', async () => {
    for (const scheme of SCHEMES) {
      const s = await openSession(browser!, { viewport: { width: 390, height: 900 }, colorScheme: scheme });
      try {
        await s.page.setContent(longHtml(), { waitUntil: 'load' });
        const m = await measure(s.page);
        await s.page.screenshot({ path: join(ARTIFACTS, `digest-long-${scheme}-390.png`), fullPage: true });
        assert.equal(m.badges.length, 50);
        assert.equal(m.rows, 100, 'each of the 50 problems: its row and its fix row');
        assert.ok(m.pageOverflow <= 0, `the page scrolls sideways by ${m.pageOverflow} px`);
        assert.ok(m.worst.ratio >= 4.5, `contrast ${m.worst.ratio.toFixed(2)} for "${m.worst.text}"`);
        assert.match(await s.page.locator('body').innerText(), /10 more not shown \(10 critical\); all of them on the dashboard: http:\/\/127\.0\.0\.1:9464\//);
      } finally {
        await s.close();
      }
    }
  });
});
