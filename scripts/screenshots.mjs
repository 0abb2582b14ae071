// `npm run screenshots`: regenerates docs/dashboard.png (light) and docs/dashboard-dark.png, the
// README's pictures of the dashboard, from the seeded world of the browser tests
// (test/helpers/dashboard-world.ts, 300 endpoints) in Debian's Chromium (test/helpers/browser.ts).
//
// Deterministic: the world is seeded at a fixed instant (NOW below), the page is rendered
// in-process with that clock (service/dashboard.ts dashboardData + web/page.ts renderDashboard,
// what the daemon's `/` serves) and served from a loopback server, the browser's own clock is
// frozen at the same instant, and the viewport is fixed (1280 × 960, scale 1). The same sources
// give the same pictures; a change to the page shows in `git diff --stat docs/`.
//
// Runs TypeScript sources through tsx (the npm script passes --import tsx). Needs /usr/bin/chromium.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { dashboardData, endpointDetail } from '../src/service/dashboard.js';
import { openStore } from '../src/store/index.js';
import { renderEndpointPage } from '../src/web/endpoint-page.js';
import { renderDashboard } from '../src/web/page.js';
import { browserUnavailable, launchBrowser, openSession } from '../test/helpers/browser.js';
import { seedDashboardWorld } from '../test/helpers/dashboard-world.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs');
/** The instant the pictures show: any fixed one; dates on the page are relative to it. */
const NOW = new Date('2026-06-01T09:00:00.000Z');
const VIEWPORT = { width: 1280, height: 960 };
const SHOTS = [
  { scheme: 'light', file: 'dashboard.png' },
  { scheme: 'dark', file: 'dashboard-dark.png' },
];

const why = browserUnavailable();
if (why) {
  console.error(`screenshots: ${why}`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'certs-screenshots-'));
let server;
let browser;
try {
  const world = seedDashboardWorld(dir, { now: NOW });
  const config = loadConfig(world.configFile, { env: {} });
  const pageOpts = { mode: 'daemon', endpointHref: (id) => `/endpoint/${id}` };
  const render = (path) => {
    const store = openStore(world.dataDir, { readonly: true });
    try {
      if (path === '/') return renderDashboard(dashboardData(config, store, NOW), pageOpts);
      const m = /^\/endpoint\/(\d+)$/.exec(path);
      const detail = m ? endpointDetail(config, store, Number(m[1]), NOW) : null;
      return detail ? renderEndpointPage(detail, pageOpts) : null;
    } finally {
      store?.close();
    }
  };
  server = createServer((req, res) => {
    const html = render((req.url ?? '/').split('?')[0]);
    res.writeHead(html === null ? 404 : 200, { 'Content-Type': html === null ? 'text/plain' : 'text/html; charset=utf-8' });
    res.end(html ?? 'not found\n');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;

  browser = await launchBrowser();
  mkdirSync(DOCS, { recursive: true });
  for (const shot of SHOTS) {
    const s = await openSession(browser, { viewport: VIEWPORT, deviceScaleFactor: 1, colorScheme: shot.scheme, reducedMotion: 'reduce', locale: 'en-GB', timezoneId: 'UTC' });
    await s.page.clock.setFixedTime(NOW);
    await s.page.goto(url, { waitUntil: 'load' });
    const out = join(DOCS, shot.file);
    await s.page.screenshot({ path: out, animations: 'disabled', caret: 'hide' });
    const problems = [...s.errors(), ...s.offLoopback.map((u) => `request off loopback: ${u}`)];
    await s.close();
    if (problems.length > 0) throw new Error(`${shot.file}: ${problems.join('; ')}`);
    console.log(`screenshots: wrote ${out}`);
  }
} finally {
  await browser?.close();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
}
