/**
 * `certs demo` (issue 13): starts the demo world (src/demo/world.ts: a throwaway PKI and real TLS
 * servers on 127.0.0.1, each with something planted), writes an inventory of it, runs the REAL
 * scan and analysis into a data dir (scanAndRecord, then the lifecycle `status` lays over it),
 * and writes the dashboard as one HTML file. The caller prints the table and may keep the world
 * up to serve the dashboard; `close()` stops it all and removes a temporary data dir.
 *
 * The only thing not found by scanning is the renewal behind the stale deployment: the world
 * hands over a certificate "issued yesterday" for a managed domain whose server still serves the
 * old one, and it is recorded in the store as `certs renew` records an issued version, so the
 * lifecycle check reports what it would report on a real host that was renewed but not reloaded.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import type { EndpointReport } from '../core/model.js';
import { nagiosExitCode } from '../core/problems.js';
import { overallStatus } from '../core/report.js';
import type { LastRun } from '../core/metrics.js';
import { DEMO_ADDRESS, startDemoWorld, type DemoSite, type DemoWorld } from '../demo/world.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import type { AsyncStore } from '../store/contract.js';
import { renderDashboard } from '../web/page.js';
import { dashboardData } from './dashboard.js';
import { loadScanDeps, scanAndRecord } from './scan-record.js';
import { withLifecycle } from './status.js';

export interface DemoOptions {
  /** Keep the state here (created when missing); absent: a temporary dir, removed by close(). */
  dataDir?: string;
  /** Where the HTML report goes; absent: `<dataDir>/report.html`, or with a temporary data dir a new temporary folder of its own that is kept. */
  reportFile?: string;
  now: () => Date;
  version: string;
  /** Opens the store for writing (the CLI's composition root). */
  openStore: (config: Config) => Promise<AsyncStore>;
}

/** One planted situation and whether the scan found it. */
export interface PlantedCheck {
  domain: string;
  endpoint: string;
  planted: string;
  /** The problem code it was planted for; null: none (the site is healthy and must come out ok). */
  expect: string | null;
  /** The status and problem codes the scan reported for it. */
  status: string;
  found: string[];
  ok: boolean;
}

export interface DemoSession {
  config: Config;
  /** The path of the inventory written for this run. */
  configPath: string;
  dataDir: string;
  /** True when the data dir is removed by close(). */
  temporary: boolean;
  reportFile: string;
  /** What the scan found, as `certs status` shows it (lifecycle problems included), in inventory order. */
  reports: EndpointReport[];
  planted: PlantedCheck[];
  /** The demo's run, for the dashboard's /healthz. */
  lastRun: LastRun;
  world: DemoWorld;
  /** Stops the servers and removes a temporary data dir (the report stays); safe to call twice. */
  close(): Promise<void>;
}

/** The inventory of the demo world: each site dialled at 127.0.0.1, trusting the demo root only. */
export function demoConfigText(world: DemoWorld, dataDir: string, rootFile: string): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = [
    '# Written by `certs demo`: the inventory of its demo world. Every server runs inside the demo',
    '# process on 127.0.0.1 (ports of this run); names are under .test and never resolve. The only',
    '# trust anchor is the throwaway root the demo made at start.',
    `dataDir: ${q(dataDir)}`,
    'trust:',
    `  caFile: ${q(rootFile)}`,
    '  bundled: false',
    '  system: false',
    'scan:',
    '  timeoutMs: 5000',
    '  revocation: false',
    'domains:',
  ];
  for (const s of world.sites) {
    lines.push(`  - name: ${q(s.domain)}    # ${s.planted}`);
    lines.push(`    managed: ${s.managed}`);
    if (s.managed) lines.push('    nginx: false');
    const protocol = s.protocol ? `, protocol: ${s.protocol}` : '';
    lines.push(`    endpoints: [{host: ${q(s.domain)}, port: ${s.port}, address: ${DEMO_ADDRESS}${protocol}}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** Did the scan report what was planted at each site (and nothing at the healthy ones)? */
export function checkPlanted(sites: readonly DemoSite[], reports: readonly EndpointReport[]): PlantedCheck[] {
  return sites.map((s) => {
    const r = reports.find((x) => x.domain === s.domain);
    const found: string[] = r ? r.problems.map((p) => p.code) : [];
    const status = r?.status ?? 'missing';
    const ok = r !== undefined && (s.expect === null ? r.status === 'ok' && found.length === 0 : found.includes(s.expect));
    return { domain: s.domain, endpoint: `${s.domain}:${s.port}${s.protocol ? ` (${s.protocol} STARTTLS)` : ''}`, planted: s.planted, expect: s.expect, status, found, ok };
  });
}

/**
 * Starts the world, scans it, writes the report. On failure everything started is stopped (and a
 * temporary data dir removed) before the error is thrown.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoSession> {
  const temporary = opts.dataDir === undefined;
  const dataDir = opts.dataDir !== undefined ? resolve(opts.dataDir) : mkdtempSync(join(tmpdir(), 'certs-demo-'));
  if (!temporary) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let world: DemoWorld | null = null;
  let store: AsyncStore | null = null;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await store?.close();
    await world?.stop();
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const startedAt = opts.now();
    world = await startDemoWorld(startedAt);
    const rootFile = join(dataDir, 'demo-root.pem');
    writeFileSync(rootFile, world.rootPem, { mode: 0o644 });
    const configPath = join(dataDir, 'demo.yaml');
    writeFileSync(configPath, demoConfigText(world, dataDir, rootFile), { mode: 0o600 });
    const config = loadConfig(configPath);

    store = await opts.openStore(config);
    const runId = await store.runs.start(startedAt.toISOString());
    await recordRenewal(store, world, dataDir);
    const deps = await loadScanDeps(config, opts.now);
    const scanned = await scanAndRecord(config, store, config.domains, deps);
    const reports = await withLifecycle(config, store, scanned);
    const finishedAt = opts.now().toISOString();
    const status = overallStatus(reports);
    const exitCode = nagiosExitCode(status);
    // As service/run.ts records a cycle: an unknown verdict is a warning outcome.
    const outcome: LastRun['outcome'] = status === 'unknown' ? 'warning' : status;
    await store.runs.finish(runId, { finishedAt, outcome, exitCode, summary: { renewed: [], deployed: [], failed: [], notified: 0 } });

    const reportFile = opts.reportFile !== undefined
      ? resolve(opts.reportFile)
      : temporary ? join(mkdtempSync(join(tmpdir(), 'certs-demo-report-')), 'report.html') : join(dataDir, 'report.html');
    const html = renderDashboard(await dashboardData(config, store, opts.now(), { version: opts.version }), { mode: 'file' });
    writeFileAtomic(reportFile, html, 0o644);

    return {
      config,
      configPath,
      dataDir,
      temporary,
      reportFile,
      reports: reports.map(({ chain: _chain, ...rest }) => rest),
      planted: checkPlanted(world.sites, reports),
      lastRun: { startedAt: startedAt.toISOString(), finishedAt, outcome, exitCode },
      world,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Records the certificate the world issued "yesterday" for its managed domain as the next
 * version of its lineage, as a renewal does (the files are not written: nothing deploys them).
 */
async function recordRenewal(store: AsyncStore, world: DemoWorld, dataDir: string): Promise<void> {
  const { domain, cert, issuer } = world.renewed;
  const version = (await store.issued.maxVersion(domain)) + 1;
  await store.issued.record({
    lineage: domain,
    version,
    fingerprint256: cert.fingerprint256,
    serial: cert.serial,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    issuer,
    names: cert.dnsNames,
    keyType: 'ecdsa-p256',
    directoryUrl: 'demo:',
    profile: null,
    ariCertId: null,
    replacedId: null,
    dir: join(dataDir, 'archive', domain, `v${version}`),
    issuedAt: cert.notBefore.toISOString(),
    reason: 'certs demo: renewed, never reloaded',
    revokedAt: null,
    revokeReason: null,
  });
}
