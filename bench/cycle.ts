// Cycle benchmark (issue #6): a daemon over an inventory of N endpoints completes a cycle — scan →
// renew → deploy → rescan → notify — and what that costs in wall time and peak RSS (target ≤ 400 MB
// at 10,000 endpoints). Same setup as bench/scan.ts: one loopback nginx (one worker) serving a
// wildcard certificate from a private CA under N SNI names eNNNN.bench.test dialled at 127.0.0.1.
//
//   node --import tsx bench/cycle.ts                  N = $BENCH_ENDPOINTS (default 1000)
//   BENCH_LARGE=1 node --import tsx bench/cycle.ts    also 10,000 endpoints
//
// The inventory is monitor-only (`managed: false`, no acme section: no ACME at 10,000), so renew and
// deploy have nothing to do. The notify step does real work: the wildcard (90 days) has 20 days
// left, so on a first cycle every endpoint crosses the 30-day threshold — one event per endpoint, one digest
// (text + HTML) written to the outbox and delivered over SMTP to a sink on loopback (the test
// helper test/helpers/smtp-server.ts: smtp-server in a child process, no TLS, no AUTH). That is the
// heavy case for notify: a shared wildcard whose renewal broke reaches every name on the same run.
//
// Modes (one JSON line each on stdout; progress on stderr), each on a fresh data dir (a first
// cycle: every endpoint inserted, every event new):
//   run     `dist/cli/main.js run --config … --json`, as cron runs it; wall time from spawn to exit
//   daemon  `dist/cli/main.js daemon --config … --run-now` with a far-future schedule and the HTTP
//           endpoint on; wall time from spawn to the JSON log event `run.finished`; then one GET
//           /healthz, then SIGTERM (stopMs: SIGTERM to exit)
// Peak RSS of the CLI process comes from bench/rss-preload.mjs (getrusage at exit, like
// bench/scan.ts); the daemon exits on its own after SIGTERM, so the preload reports it too.
// Exit 0 even when a target is missed (a report); non-zero only when the benchmark could not run.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startNginx, type NginxInstance } from '../test/helpers/nginx.js';
import { createCA, createLeaf, daysFrom } from '../test/helpers/pki.js';
import { freePort } from '../test/helpers/ports.js';
import { startSmtpServer, type SmtpServerHandle } from '../test/helpers/smtp-server.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// CERTS_BENCH_CLI points at another build of the CLI (as in bench/scan.ts).
const CLI = process.env.CERTS_BENCH_CLI ? resolve(process.env.CERTS_BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
const RSS_PRELOAD = join(ROOT, 'bench', 'rss-preload.mjs');
const CONCURRENCY = 64;
const TIMEOUT_MS = 5000;
const LARGE_N = 10_000;
const RSS_TARGET_MB = 400;
/**
 * The served wildcard: a 90-day certificate with 20 days left, inside the default 30-day notify
 * threshold (thresholds count only below half the lifetime, so a fresh 20-day one would not do).
 */
const LEAF_LIFETIME_DAYS = 90;
const LEAF_DAYS_LEFT = 20;
/** 00:00 on 1 January: never fires during a benchmark (unless run across New Year's midnight). */
const FAR_SCHEDULE = '0 0 1 1 *';
/** Budget for one cycle at 10,000 endpoints (a scan alone takes ~21 s there). */
const CYCLE_BUDGET_MS = 10 * 60_000;
const STOP_BUDGET_MS = 60_000;

const N = intEnv('BENCH_ENDPOINTS', 1000);
const LARGE = process.env.BENCH_LARGE === '1';

type Mode = 'run' | 'daemon';

interface Measurement {
  bench: 'cycle';
  mode: Mode;
  endpoints: number;
  wallMs: number | null;
  perEndpointMs: number | null;
  peakRssMB: number | null;
  rssTarget: number;
  rssMet: boolean | null;
  [extra: string]: unknown;
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (msg: string): void => void process.stderr.write(`bench/cycle: ${msg}\n`);
const emit = (obj: object): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const tail = (text: string, lines = 5): string => text.trim().split('\n').slice(-lines).join(' | ');

function measurement(mode: Mode, endpoints: number, wallMs: number | null, peakRssMB: number | null, extra: Record<string, unknown>): Measurement {
  return {
    bench: 'cycle',
    mode,
    endpoints,
    wallMs: wallMs === null ? null : round(wallMs, 1),
    perEndpointMs: wallMs === null ? null : round(wallMs / endpoints, 3),
    peakRssMB: peakRssMB === null ? null : round(peakRssMB, 1),
    rssTarget: RSS_TARGET_MB,
    rssMet: peakRssMB === null ? null : peakRssMB <= RSS_TARGET_MB,
    ...extra,
  };
}

/** The same names as bench/scan.ts (which runs on import, so it cannot be imported from). */
function names(n: number): string[] {
  const width = Math.max(4, String(n).length);
  return Array.from({ length: n }, (_, i) => `e${String(i + 1).padStart(width, '0')}.bench.test`);
}

/** Cycle steps as the CLI logs them (stderr for `run`, JSON lines for `daemon`). */
const STEPS = ['run.start', 'scan.done', 'run.done'] as const;
type Step = (typeof STEPS)[number];

/**
 * Where the time went, from when each step's log line reached the benchmark (ms since spawn):
 * startMs (spawn to run.start: Node, modules, config), scanMs (the scan, stored), afterScanMs
 * (renew, deploy — nothing here —, lifecycle overlay, notify: decide, render, outbox, SMTP).
 */
function phases(seen: Partial<Record<Step, number>>): Record<string, number> | undefined {
  const a = seen['run.start'];
  const b = seen['scan.done'];
  const c = seen['run.done'];
  if (a === undefined || b === undefined || c === undefined) return undefined;
  return { startMs: round(a, 1), scanMs: round(b - a, 1), afterScanMs: round(c - b, 1) };
}

interface Setup {
  dir: string;
  nginxPort: number;
  caFile: string;
  smtp: SmtpServerHandle;
}

/** bench/scan.ts's config plus notify (email to the sink) and daemon (schedule, HTTP endpoint). */
function writeConfig(s: Setup, label: string, hosts: string[], httpPort: number): { file: string; dataDir: string } {
  const file = join(s.dir, `certs-${label}.yaml`);
  const dataDir = join(s.dir, `data-${label}`);
  const config = {
    dataDir,
    trust: { caFile: s.caFile },
    scan: { concurrency: CONCURRENCY, timeoutMs: TIMEOUT_MS },
    daemon: { schedule: FAR_SCHEDULE, http: { address: '127.0.0.1', port: httpPort } },
    notify: {
      email: {
        smtp: { host: s.smtp.host, port: s.smtp.port, secure: false, requireTLS: false, timeoutMs: 60_000 },
        from: 'certs@bench.test',
        to: ['ops@bench.test'],
      },
    },
    domains: hosts.map((host) => ({ name: host, managed: false, endpoints: [{ host, port: s.nginxPort, address: '127.0.0.1' }] })),
  };
  writeFileSync(file, stringify(config));
  return { file, dataDir };
}

function readRssMB(file: string): number | null {
  if (!existsSync(file)) return null;
  const kib = Number(readFileSync(file, 'utf8'));
  return Number.isFinite(kib) && kib > 0 ? kib / 1024 : null;
}

interface SmtpCount {
  messages: number;
  bytes: number;
}

async function smtpCount(smtp: SmtpServerHandle): Promise<SmtpCount> {
  const all = await smtp.messages();
  return { messages: all.length, bytes: all.reduce((sum, m) => sum + Buffer.byteLength(m.raw), 0) };
}

function smtpDelta(before: SmtpCount, after: SmtpCount): SmtpCount {
  return { messages: after.messages - before.messages, bytes: after.bytes - before.bytes };
}

interface RunJson {
  summary?: Record<string, number>;
  endpoints?: unknown[];
  notify?: { events: number; queued: number; delivered: number; failed: Array<{ key: string; error: string }>; pending: number } | null;
  errors?: string[];
}

/** (a) `certs run --json`: one cycle as cron runs it, from spawn to exit. */
async function runMode(s: Setup, n: number, hosts: string[]): Promise<Measurement> {
  const { file } = writeConfig(s, `run-${n}`, hosts, await freePort());
  const rssFile = join(s.dir, `rss-run-${n}.txt`);
  const before = await smtpCount(s.smtp);
  const seen: Partial<Record<Step, number>> = {};
  const t0 = performance.now();
  const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; wallMs: number }>((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', RSS_PRELOAD, CLI, 'run', '--config', file, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', CERTS_BENCH_RSS_FILE: rssFile },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      // "certs: <step> …" lines; a chunk boundary inside a step name only delays nothing we use.
      const text = d.toString('utf8');
      for (const step of STEPS) if (seen[step] === undefined && text.includes(`certs: ${step} `)) seen[step] = performance.now() - t0;
    });
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), wallMs: performance.now() - t0 }),
    );
  });
  const extra: Record<string, unknown> = { exitCode: r.code ?? r.signal, phases: phases(seen) };
  let parsed: RunJson | undefined;
  try {
    parsed = JSON.parse(r.stdout) as RunJson;
  } catch (err) {
    extra.error = `stdout is not one JSON document (${(err as Error).message}); exit ${r.code ?? r.signal}; stderr: ${tail(r.stderr)}`;
  }
  extra.smtp = smtpDelta(before, await smtpCount(s.smtp));
  if (parsed) {
    const count = parsed.endpoints?.length ?? 0;
    extra.summary = parsed.summary;
    extra.notify = parsed.notify && { events: parsed.notify.events, queued: parsed.notify.queued, delivered: parsed.notify.delivered, failed: parsed.notify.failed.length, pending: parsed.notify.pending };
    if (parsed.errors?.length) extra.errors = parsed.errors;
    // Exit 3 is "unknown or could not run": the timing would not be of a real cycle.
    if (count !== n || r.code === 3 || r.code === null) extra.error = `expected ${n} endpoints, got ${count}; exit ${r.code ?? r.signal}; stderr: ${tail(r.stderr)}`;
    else if (!parsed.notify || parsed.notify.delivered < 1) extra.error = `the notify step delivered nothing: ${JSON.stringify(parsed.notify)}; stderr: ${tail(r.stderr)}`;
  }
  return measurement('run', n, r.wallMs, readRssMB(rssFile), extra);
}

/** (b) `certs daemon --run-now`: from spawn to the `run.finished` log event, then SIGTERM. */
async function daemonMode(s: Setup, n: number, hosts: string[]): Promise<Measurement> {
  const httpPort = await freePort();
  const { file } = writeConfig(s, `daemon-${n}`, hosts, httpPort);
  const rssFile = join(s.dir, `rss-daemon-${n}.txt`);
  const before = await smtpCount(s.smtp);
  const events: Array<Record<string, unknown>> = [];
  const seen: Partial<Record<Step, number>> = {};
  let stderr = '';
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', RSS_PRELOAD, CLI, 'daemon', '--config', file, '--run-now'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', CERTS_BENCH_RSS_FILE: rssFile },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.once('exit', (code, signal) => r({ code, signal, at: performance.now() })));
  const finished = new Promise<{ event: Record<string, unknown>; at: number } | { error: string }>((resolveFinished) => {
    let buf = '';
    const timer = setTimeout(() => resolveFinished({ error: `no run.finished within ${CYCLE_BUDGET_MS} ms` }), CYCLE_BUDGET_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let e: Record<string, unknown>;
        try {
          e = JSON.parse(line) as Record<string, unknown>;
        } catch {
          e = { event: 'not-json', line };
        }
        events.push(e);
        const step = STEPS.find((x) => x === e.event);
        if (step && seen[step] === undefined) seen[step] = performance.now() - t0;
        if (e.event === 'run.finished' || e.event === 'run.error') {
          clearTimeout(timer);
          resolveFinished({ event: e, at: performance.now() });
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    void exited.then((x) => {
      clearTimeout(timer);
      resolveFinished({ error: `the daemon exited (${x.code ?? x.signal}) before run.finished` });
    });
  });
  const done = await finished;
  const extra: Record<string, unknown> = { phases: phases(seen) };
  let wallMs: number | null = null;
  if ('error' in done) {
    extra.error = `${done.error}; last events: ${JSON.stringify(events.slice(-3))}; stderr: ${tail(stderr)}`;
  } else {
    wallMs = done.at - t0;
    extra.exitCode = done.event.exitCode;
    if (done.event.event !== 'run.finished') extra.error = `${String(done.event.event)}: ${String(done.event.error)}`;
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      const body = (await res.json()) as { status?: string };
      extra.healthz = { code: res.status, status: body.status };
    } catch (err) {
      extra.healthz = { error: (err as Error).message };
    }
  }
  const stopAt = performance.now();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_BUDGET_MS);
  const exit = await exited;
  clearTimeout(killer);
  extra.stopMs = round(exit.at - stopAt, 1);
  extra.daemonExit = exit.code ?? exit.signal;
  extra.smtp = smtpDelta(before, await smtpCount(s.smtp));
  // The daemon logs the notify step as {event: 'notify', detail: 'delivered …' | 'not delivered …'}.
  const deliveredLog = events.filter((e) => e.event === 'notify' && /^delivered /.test(String(e.detail))).length;
  const failedLog = events.filter((e) => e.event === 'notify' && /^not delivered /.test(String(e.detail))).length;
  extra.notifyLog = { delivered: deliveredLog, notDelivered: failedLog };
  if (!extra.error && (extra.smtp as SmtpCount).messages < 1) extra.error = `the notify step delivered nothing; last events: ${JSON.stringify(events.slice(-3))}`;
  const rss = readRssMB(rssFile);
  if (rss === null && !extra.error) extra.error = `no peak RSS reported (daemon exit ${String(extra.daemonExit)}); stderr: ${tail(stderr)}`;
  return measurement('daemon', n, wallMs, rss, extra);
}

async function main(): Promise<void> {
  const problem = cliProblem(CLI, ROOT, log);
  if (problem) {
    for (const mode of ['run', 'daemon'] as const) emit(measurement(mode, N, null, null, { error: problem }));
    return;
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-bench-cycle-'));
  let ngx: NginxInstance | undefined;
  let smtp: SmtpServerHandle | undefined;
  try {
    log(`N=${N}${LARGE && N !== LARGE_N ? ` and ${LARGE_N}` : ''}; private CA and *.bench.test certificate (${LEAF_DAYS_LEFT} of ${LEAF_LIFETIME_DAYS} days left) in ${dir}`);
    const now = new Date();
    const ca = await createCA({ cn: 'certs bench root', notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 365) });
    const caFile = join(dir, 'bench-ca.pem');
    writeFileSync(caFile, ca.pem);
    const leaf = await createLeaf({ dns: ['*.bench.test'], issuer: ca, notBefore: daysFrom(now, LEAF_DAYS_LEFT - LEAF_LIFETIME_DAYS), notAfter: daysFrom(now, LEAF_DAYS_LEFT) });
    ngx = await startNginx({
      sites: [
        { serverNames: ['*.bench.test'], certPem: leaf.pem, keyPem: leaf.keyPem },
        { serverNames: ['_'], certPem: leaf.pem, keyPem: leaf.keyPem, default: true },
      ],
      workerProcesses: 1,
      workerConnections: 4096,
    });
    smtp = await startSmtpServer();
    log(`nginx on 127.0.0.1:${ngx.port}, SMTP sink on ${smtp.host}:${smtp.port}`);
    const setup: Setup = { dir, nginxPort: ngx.port, caFile, smtp };

    const sizes = LARGE && N !== LARGE_N ? [N, LARGE_N] : [N];
    for (const n of sizes) {
      const hosts = names(n);
      for (const mode of ['run', 'daemon'] as const) {
        log(`${mode}: one cycle over ${n} endpoints`);
        const m = mode === 'run' ? await runMode(setup, n, hosts) : await daemonMode(setup, n, hosts);
        emit(m);
        if (m.error) log(`${mode} (${n}): ${String(m.error)}`);
      }
    }
  } finally {
    await smtp?.dispose();
    await ngx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
