/**
 * A real browser for the dashboard tests: Debian's Chromium (/usr/bin/chromium, installed by
 * scripts/ci.sh) driven by playwright-core through `executablePath`. Playwright never downloads
 * a browser here (playwright-core has no install step, and CI sets PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD).
 *
 *   const why = browserUnavailable();            // null when Chromium is there
 *   describe('…', { skip: why ?? false }, () => {
 *     const browser = await launchBrowser();     // one per test file
 *     const s = await openSession(browser, { httpCredentials: { username: 'certs', password: token } });
 *     await s.page.goto(url);
 *     assert.deepEqual(s.offLoopback, []);       // nothing left loopback
 *     assert.deepEqual(s.errors(), []);          // no console error, no uncaught page error
 *     await s.close(); await browser.close();
 *
 * Isolation, in three layers:
 * - `launch()` runs Chromium on a fresh temporary profile (user-data-dir) of its own, removed on
 *   close: no cookies, cache or service workers from an earlier run.
 * - The flags below turn off what Chromium fetches by itself (component updates, sync, safe
 *   browsing lists, QUIC probes), and its host resolver refuses every name but localhost, so even
 *   a request the route below could not see (the browser's own) cannot resolve a public host.
 * - Every context routes every request through a handler that lets loopback through and aborts
 *   and records anything else (`offLoopback`): a page that reaches for a CDN or a font fails the
 *   test by name instead of working only online.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  // Root in a container has no user namespaces for Chromium's sandbox; the pages are our own.
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--metrics-recording-only',
  '--safebrowsing-disable-auto-update',
  '--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions',
  // Names other than localhost do not resolve at all (IP literals are not names: the route catches those).
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE [::1]',
];

/** Why the browser tests cannot run here (null when they can). */
export function browserUnavailable(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `Chromium is not installed (${CHROMIUM_PATH}; apt-get install chromium, as scripts/ci.sh does)`;
}

/**
 * For a test file's `describe(…, { skip })`: the reason to skip, or false. With
 * TEST_SERVERS_REQUIRED=1 (CI, which installed Chromium) a missing browser throws instead of
 * letting the file pass silently.
 */
export function browserSkip(): string | false {
  const why = browserUnavailable();
  if (why && process.env['TEST_SERVERS_REQUIRED'] === '1') throw new Error(`the browser tests need Chromium: ${why}`);
  return why ?? false;
}

export function launchBrowser(opts: { timeoutMs?: number } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: opts.timeoutMs ?? 30_000,
    // Playwright's own handlers would kill Chromium on SIGINT/SIGTERM of the test process; keep
    // them (the default) so a Ctrl-C leaves no browser behind.
  });
}

/**
 * 127.0.0.0/8, [::1] and localhost (with or without a trailing dot); data:, about:, blob: and
 * file: (a saved report opened from disk) never reach a network.
 */
export function isLoopbackUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol === 'data:' || url.protocol === 'about:' || url.protocol === 'blob:') return true;
  if (url.protocol === 'file:') return url.hostname === '' || url.hostname === 'localhost';
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '[::1]') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m[1] === '127' && m.slice(2).every((o) => Number(o) <= 255);
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** URLs the page asked for that are not loopback: each one was aborted. */
  offLoopback: string[];
  /** Every request the page made (method and URL), in order. */
  requests: string[];
  /** `console.error` messages, and what the browser logs as errors itself (CSP violations, failed loads). */
  consoleErrors: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** consoleErrors and pageErrors together, for one assertion. */
  errors(): string[];
  close(): Promise<void>;
}

/**
 * A new context (its own cookies, credentials, colour scheme) with one page, every request
 * routed through the loopback check and every error collected.
 */
export async function openSession(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserSession> {
  const context = await browser.newContext({ serviceWorkers: 'block', acceptDownloads: false, ...options });
  const offLoopback: string[] = [];
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (req) => void requests.push(`${req.method()} ${req.url()}`));
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLoopbackUrl(url)) return route.continue();
    offLoopback.push(url);
    return route.abort('blockedbyclient');
  });
  // WebSockets do not go through route(); none is expected, so any is recorded and refused.
  await context.routeWebSocket(/.*/, (ws) => {
    const url = ws.url();
    if (!isLoopbackUrl(url)) offLoopback.push(url);
    return ws.close({ code: 1008, reason: 'blocked by the test' });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${msg.text()} (${msg.location().url || 'no url'})`);
  });
  page.on('pageerror', (err) => void pageErrors.push(err.stack ?? err.message));
  return {
    context,
    page,
    offLoopback,
    requests,
    consoleErrors,
    pageErrors,
    errors: () => [...consoleErrors, ...pageErrors],
    close: () => context.close(),
  };
}
