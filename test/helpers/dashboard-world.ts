/**
 * A seeded world for the dashboard: a config of N monitor-only and managed domains and a store
 * holding their last scans, with statuses, days left, issuers, chains and problems known in
 * advance — for the browser test (test/e2e/dashboard-browser.test.ts), the README screenshot
 * (scripts/screenshots.mjs) and the page benchmark (bench/dashboard.ts). Built with the store
 * API (store-fixtures.ts fakeCert: the store never parses DER), no network, no PKI.
 *
 * Everything is a function of (index, now): the same N and `now` give the same world. Dates are
 * `now + d days + 12 h`, so a page rendered up to 12 hours later still floors to `d` days left.
 *
 * The mix (by a hash of the index, so statuses are spread through the inventory, not in blocks):
 *   ~63 % ok         31..120 days left (the ones past 90 are beyond the 13-week timeline)
 *   ~17 % warning    8..30 days left (expiring-soon), or healthy dates with revocation-unknown
 *   ~14 % critical   expired (-1..-30), 0..7 days left, incomplete chain, hostname mismatch
 *   ~6 %  unknown    configured but never scanned (no stored row, no detail page)
 * Every 4th scanned domain is managed (an `acme` section is configured; nothing ever renews:
 * the daemon's schedule never fires). Every 25th endpoint is dialled at a fixed address. One
 * finished run is recorded an hour before `now` (the page's "last run").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Problem, Status } from '../../src/core/problems.js';
import { openStore } from '../../src/store/index.js';
import type { RecordItem } from '../../src/store/scans.js';
import { fakeCert, reportFor, type FakeCert } from './store-fixtures.js';

const DAY_MS = 86_400_000;
/** 00:00 on 1 January: the daemon's schedule never fires during a test or a benchmark. */
export const FAR_SCHEDULE = '0 0 1 1 *';
/** The environment variable the config's `daemon.http.token` reads (`${env:…}`). */
export const TOKEN_ENV = 'CERTS_HTTP_TOKEN';

export interface WorldEndpoint {
  domain: string;
  host: string;
  port: number;
  address?: string;
  managed: boolean;
  status: Status;
  /** Whole days left at `now` (floor), null when never scanned. */
  daysLeft: number | null;
  notAfter: string | null;
  problems: string[];
  /** The stored chain's SHA-256 fingerprints: served certificates in served order, then those the analysis added. */
  chain: string[];
  /** How many of `chain` the server sent. */
  servedCount: number;
  scanned: boolean;
}

export interface DashboardWorld {
  now: Date;
  configFile: string;
  dataDir: string;
  endpoints: WorldEndpoint[];
  /** Counts by status, as `certs status --json` summarises them. */
  byStatus: Record<Status, number>;
}

export interface WorldOptions {
  /** How many endpoints (one per domain); default 300. */
  endpoints?: number;
  /** The world's clock; default the real time. */
  now?: Date;
  /** daemon.http: the loopback port, and whether the token (read from $CERTS_HTTP_TOKEN) is required. */
  http?: { port: number; token?: boolean };
  /** Endpoints (from the first) that also get a week of daily earlier scans, for the detail page's sparkline; default 40. */
  historyFor?: number;
}

const PREFIXES = ['www', 'api', 'shop', 'mail', 'vpn', 'git', 'status', 'cdn', 'auth', 'docs', 'pay', 'app', 'admin', 'grafana', 'ci', 'wiki', 'intranet', 'sso', 'portal', 'files'];
const REGIONS = ['', 'eu.', 'us.', 'ap.', 'staging.'];
const ZONES = ['example.com', 'example.net', 'example.org'];
const LIFETIMES = [90, 90, 90, 47, 365, 200];

/** A small deterministic number from a label (0 .. 2^32-1). */
function h(label: string): number {
  return createHash('sha256').update(label).digest().readUInt32BE(0);
}

/** The i-th domain name: unique for any i. */
export function worldDomain(i: number): string {
  const per = PREFIXES.length * REGIONS.length * ZONES.length;
  const round = Math.floor(i / per);
  const j = i % per;
  const prefix = PREFIXES[j % PREFIXES.length]!;
  const region = REGIONS[Math.floor(j / PREFIXES.length) % REGIONS.length]!;
  const zone = ZONES[Math.floor(j / (PREFIXES.length * REGIONS.length))]!;
  return `${prefix}${round > 0 ? round + 1 : ''}.${region}${zone}`;
}

interface Issuer {
  inter: FakeCert;
  root: FakeCert;
}

function issuers(): Issuer[] {
  const roots = [fakeCert('Example Trust Root X1', { isCA: true, notAfter: '2040-01-01T00:00:00.000Z' }), fakeCert('Internal Ops Root CA', { isCA: true, notAfter: '2040-01-01T00:00:00.000Z' })];
  const names: Array<[string, number]> = [
    ['Example Trust RSA CA 2025', 0],
    ['Example Trust ECC CA E7', 0],
    ['Sample Public TLS CA G4', 0],
    ['Internal Ops Issuing CA', 1],
  ];
  return names.map(([name, r]) => {
    const root = roots[r]!;
    const inter = fakeCert(name, { issuer: root.info.subject, isCA: true, notAfter: '2031-01-01T00:00:00.000Z' });
    return { inter, root };
  });
}

type Kind = 'ok' | 'expiring-warning' | 'revocation-unknown' | 'expired' | 'expiring-critical' | 'incomplete-chain' | 'hostname-mismatch' | 'unknown';

function kindOf(i: number): { kind: Kind; days: number } {
  const k = h(`kind ${i}`) % 100;
  const r = h(`days ${i}`);
  if (k < 63) return { kind: 'ok', days: 31 + (r % 90) };
  if (k < 76) return { kind: 'expiring-warning', days: 8 + (r % 23) };
  if (k < 80) return { kind: 'revocation-unknown', days: 31 + (r % 60) };
  if (k < 84) return { kind: 'expired', days: -1 - (r % 30) };
  if (k < 88) return { kind: 'expiring-critical', days: r % 8 };
  if (k < 91) return { kind: 'incomplete-chain', days: 20 + (r % 60) };
  if (k < 94) return { kind: 'hostname-mismatch', days: 25 + (r % 60) };
  return { kind: 'unknown', days: 0 };
}

function problemsFor(kind: Kind, name: string, days: number, notAfter: string, issuer: string): Problem[] {
  const when = notAfter.slice(0, 10);
  switch (kind) {
    case 'ok':
    case 'unknown':
      return [];
    case 'expiring-warning':
      return [{ code: 'expiring-soon', severity: 'warning', message: `the certificate for ${name} expires in ${days} days (${when})`, hint: 'renew it, or check why automatic renewal has not happened yet' }];
    case 'revocation-unknown':
      return [{ code: 'revocation-unknown', severity: 'warning', message: `the CRL of ${issuer} could not be fetched: connection timed out`, hint: 'check that the CRL distribution point is reachable from this host' }];
    case 'expired':
      return [{ code: 'expired', severity: 'critical', message: `the certificate for ${name} expired ${-days} day${days === -1 ? '' : 's'} ago (${when})`, hint: 'renew and deploy a new certificate now' }];
    case 'expiring-critical':
      return [{ code: 'expiring-soon', severity: 'critical', message: `the certificate for ${name} expires in ${days} day${days === 1 ? '' : 's'} (${when})`, hint: 'renew it now: clients start failing when it expires' }];
    case 'incomplete-chain':
      return [{ code: 'incomplete-chain', severity: 'critical', message: `${name} does not send the intermediate ${issuer}; browsers that have not cached it fail`, hint: 'serve the full chain (fullchain.pem), not the leaf alone' }];
    case 'hostname-mismatch':
      return [{ code: 'hostname-mismatch', severity: 'critical', message: `the certificate served on ${name} is for old-${name}, not ${name}`, hint: 'deploy the certificate issued for this name, or add it to the certificate' }];
  }
}

/** Writes the store and the config into `dir` (both created); returns what the page must show. */
export function seedDashboardWorld(dir: string, opts: WorldOptions = {}): DashboardWorld {
  const n = opts.endpoints ?? 300;
  const now = opts.now ?? new Date();
  const historyFor = opts.historyFor ?? 40;
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const chains = issuers();
  const endpoints: WorldEndpoint[] = [];
  const items: RecordItem[] = [];
  const domains: Array<Record<string, unknown>> = [];
  const at = (days: number): string => new Date(now.getTime() + days * DAY_MS + 12 * 3_600_000).toISOString();

  for (let i = 0; i < n; i++) {
    const name = worldDomain(i);
    const { kind, days } = kindOf(i);
    const scanned = kind !== 'unknown';
    const managed = scanned && i % 4 === 1;
    const port = name.startsWith('mail') ? 465 : 443;
    const address = i % 25 === 7 ? `192.0.2.${(i % 250) + 1}` : undefined;
    const entry: Record<string, unknown> = { name, managed };
    if (port !== 443 || address) entry.endpoints = [{ host: name, port, ...(address ? { address } : {}) }];
    domains.push(entry);
    const ep: WorldEndpoint = { domain: name, host: name, port, managed, status: 'unknown', daysLeft: null, notAfter: null, problems: [], chain: [], servedCount: 0, scanned };
    if (address) ep.address = address;
    endpoints.push(ep);
    if (!scanned) continue;

    const { inter, root } = chains[h(`issuer ${i}`) % chains.length]!;
    const notAfter = at(days);
    const lifetime = LIFETIMES[h(`life ${i}`) % LIFETIMES.length]!;
    const leaf = fakeCert(`${name} leaf`, { issuer: inter.info.subject, notAfter });
    leaf.info.notBefore = new Date(Date.parse(notAfter) - lifetime * DAY_MS).toISOString();
    // Every 50th leaf has an empty subject DN (names only in the SAN), as some CAs issue now.
    leaf.info.subject = i % 50 === 3 ? '' : `CN=${name}`;
    leaf.info.dnsNames = kind === 'hostname-mismatch' ? [`old-${name}`] : [name, ...(name.startsWith('www.') ? [name.slice(4)] : [])];
    const problems = problemsFor(kind, name, days, notAfter, inter.info.subject.replace(/^CN=/, ''));
    // An incomplete chain: only the leaf is served; the intermediate and root come from the trust store.
    const served = kind === 'incomplete-chain' ? [leaf] : [leaf, inter];
    const chain = [leaf, inter, root];
    const scannedAt = new Date(now.getTime() - (5 + (i % 50)) * 60_000).toISOString();
    const report = reportFor({ domain: name, host: name, port, ...(address ? { address } : {}) }, chain, { problems, daysLeft: days, scannedAt });
    report.subject = leaf.info.subject === '' ? `(empty subject) ${name}` : leaf.info.subject;
    report.protocol = 'TLSv1.3';
    // As the scan reports it (service/scan-inventory.ts): the rest of `chain` came from the trust store.
    report.servedCount = served.length;
    items.push({
      report,
      chainDer: served.map((c) => c.der),
      extra: { path: chain.map((c, j) => ({ fingerprint256: c.info.fingerprint256, source: j < served.length ? 'served' : 'trust-store', anchor: j === 2 })) },
    });
    if (i < historyFor) {
      // A week of earlier daily scans of the same certificate: the sparkline's points.
      for (let back = 7; back >= 1; back--) {
        const earlier = reportFor({ domain: name, host: name, port, ...(address ? { address } : {}) }, chain, {
          problems: problemsFor(kind, name, days + back, notAfter, inter.info.subject.replace(/^CN=/, '')),
          daysLeft: days + back,
          scannedAt: new Date(now.getTime() - back * DAY_MS).toISOString(),
        });
        earlier.subject = report.subject;
        earlier.servedCount = served.length;
        items.push({ report: earlier, chainDer: served.map((c) => c.der), extra: items[items.length - 1]!.extra! });
      }
    }
    ep.status = report.status;
    ep.daysLeft = days;
    ep.notAfter = notAfter;
    ep.problems = problems.map((p) => p.code);
    ep.chain = chain.map((c) => c.info.fingerprint256);
    ep.servedCount = served.length;
  }

  const store = openStore(dataDir);
  try {
    for (let i = 0; i < items.length; i += 500) store.scans.recordMany(items.slice(i, i + 500));
    // The last run the page shows: an hour ago, two managed certificates renewed and deployed.
    const managedNames = endpoints.filter((e) => e.managed).map((e) => e.domain);
    const run = store.runs.start(new Date(now.getTime() - 3_600_000).toISOString());
    store.runs.finish(run, {
      finishedAt: new Date(now.getTime() - 3_600_000 + 42_000).toISOString(),
      outcome: byStatusOf(endpoints).critical > 0 ? 'critical' : 'ok',
      exitCode: byStatusOf(endpoints).critical > 0 ? 2 : 0,
      summary: { renewed: managedNames.slice(0, 2), deployed: managedNames.slice(0, 2), failed: [], notified: 3 },
    });
  } finally {
    store.close();
  }

  const config: Record<string, unknown> = {
    dataDir,
    trust: { bundled: true, system: false },
    // Managed domains need an ACME section; nothing is ever ordered (no run happens).
    acme: { directory: 'https://127.0.0.1:9/directory', email: 'ops@example.com', agreeToTerms: true },
    daemon: {
      schedule: FAR_SCHEDULE,
      scanSchedule: FAR_SCHEDULE,
      ...(opts.http ? { http: { address: '127.0.0.1', port: opts.http.port, ...(opts.http.token ? { token: `\${env:${TOKEN_ENV}}` } : {}) } } : {}),
    },
    domains,
  };
  const configFile = join(dir, 'certs.yaml');
  writeFileSync(configFile, stringify(config));
  return { now, configFile, dataDir, endpoints, byStatus: byStatusOf(endpoints) };
}

function byStatusOf(endpoints: readonly WorldEndpoint[]): Record<Status, number> {
  const byStatus: Record<Status, number> = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  for (const e of endpoints) byStatus[e.status]++;
  return byStatus;
}

export interface WorldDaemon {
  child: ChildProcess;
  /** What the daemon wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** SIGTERM, SIGKILL after 10 s; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * `certs daemon --config <world>` from the built CLI `cli` (dist/cli/main.js), resolved once it
 * logged `http.listening`; `env` is added to the test's environment (the token, CERTS_CACHE_DIR).
 */
export function startWorldDaemon(cli: string, world: Pick<DashboardWorld, 'configFile'>, env: Record<string, string>, timeoutMs = 20_000): Promise<WorldDaemon> {
  const child = spawn(process.execPath, [cli, 'daemon', '--config', world.configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stopping: Promise<void> | undefined;
  const daemon: WorldDaemon = {
    child,
    stderr: () => stderr,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      void daemon.stop();
      reject(new Error(`certs daemon did not listen within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
    const onData = (d: string): void => {
      buf += d;
      if (/"event":"http\.listening"/.test(buf)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        // Keep reading its log so a full pipe never blocks it.
        child.stdout!.resume();
        resolve(daemon);
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`certs daemon exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr.trim()}`));
    });
  });
}
