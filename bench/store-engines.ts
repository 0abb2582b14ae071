// The two store engines side by side (issue 15 "Benchmark"): `certs scan --json`, `certs status
// --json` and the `certs status` table at fleet size, once with the embedded SQLite store and once
// with store.engine postgres (a private PostgreSQL 15 on loopback, TLS, test/helpers/pg-store.ts),
// the built CLI spawned as a user runs it, alternating the engines within every round.
//
//   npm run build && node --import tsx bench/store-engines.ts   N = $BENCH_ENGINES_ENDPOINTS (default 10,000)
//   BENCH_ENGINES_RUNS=k …          timed status runs per case and engine (default 7)
//   BENCH_ENGINES_SCAN_ROUNDS=k …   scans per engine (default 2; each from an empty store)
//   BENCH_ENGINES_SCAN=0 …          status only (no nginx, no TLS handshakes)
//   BENCH_ENGINES_STATUS=0 …        scan only
//   CERTS_BENCH_CLI=path/to/dist/cli/main.js …  measure another build
//   CERTS_BENCH_CLI_BASE=path/to/dist/cli/main.js …  status also through that build on SQLite
//                                   (e.g. the tree before issue 15), in the same alternating runs,
//                                   on a store its own code wrote (lines with build: "base")
//
// status: the store is filled from test/helpers/store-fixtures.ts fleet() (one monitor-only domain
// per endpoint, 3-certificate chains, every tenth expiring soon) through each engine's own batch
// API (SQLite: ScanRepository.recordMany; PostgreSQL: openPgStore(…).scans.recordMany, the
// AsyncStore the CLI uses), so both hold the same scans; the untimed first run of each engine
// fills the config parse cache and its output is compared across engines (`sameOutput`,
// generatedAt aside). Wall time with stdout to a file, median/min/max of the runs, `node -e 0`
// timed alternately as the baseline, the CLI's own CPU time (user + system, median: what load
// inflates least), the 1-minute load average, peak RSS from one more run with bench/rss-preload.mjs.
// SQLite's `status --json` has the issue-15 budget of 0.3 s at 10,000 (pass true/false).
//
// scan: one nginx worker serving a wildcard certificate from a private CA under N SNI names on
// 127.0.0.1 (as bench/scan.ts), scan concurrency 64, every scan into an empty store whose schema
// exists (a fresh data dir / a fresh database, opened once before). One JSON line per scan, then
// one summary line per engine; creating the PostgreSQL schema is timed on a line of its own.
//
// The cluster is the tests' one: fsync=off and shared_buffers=8MB (test/helpers/postgres.ts), so
// PostgreSQL writes are cheaper here than on a durable server and reads get little cache.
// Exit 0 when a budget is missed (a report); non-zero only when the benchmark could not run.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openStore, type RecordItem } from '../src/store/index.js';
import { openPgStore } from '../src/store/pg/store.js';
import { startNginx, type NginxInstance } from '../test/helpers/nginx.js';
import { issueLeaf, makeCa } from '../test/helpers/openssl-cli.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../test/helpers/pg-store.js';
import { fleet } from '../test/helpers/store-fixtures.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.CERTS_BENCH_CLI ? resolve(process.env.CERTS_BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
const BASE = process.env.CERTS_BENCH_CLI_BASE ? resolve(process.env.CERTS_BENCH_CLI_BASE) : undefined;
const RSS_PRELOAD = join(ROOT, 'bench', 'rss-preload.mjs');
const N = intEnv('BENCH_ENGINES_ENDPOINTS', 10_000);
const RUNS = intEnv('BENCH_ENGINES_RUNS', 7);
const SCAN_ROUNDS = intEnv('BENCH_ENGINES_SCAN_ROUNDS', 2);
const DO_SCAN = process.env.BENCH_ENGINES_SCAN !== '0';
const DO_STATUS = process.env.BENCH_ENGINES_STATUS !== '0';
const CONCURRENCY = 64;
const TIMEOUT_MS = 5000;
/** SQLite's `certs status --json` at 10,000 endpoints, process start included (issue 15). */
const SQLITE_STATUS_BUDGET_MS = 300;
/** recordMany batch: what `certs scan` itself stores at once is 500; bigger batches only build faster. */
const FILL_BATCH = 1000;

type Engine = 'sqlite' | 'postgres';

const log = (msg: string): void => void process.stderr.write(`bench/store-engines: ${msg}\n`);
const emit = (obj: object): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const round = (x: number): number => Math.round(x * 10) / 10;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const stats = (ms: readonly number[]): { wallMs: number; minMs: number; maxMs: number } => ({
  wallMs: round(median(ms)),
  minMs: round(Math.min(...ms)),
  maxMs: round(Math.max(...ms)),
});

function readRssMB(file: string): number | null {
  return existsSync(file) ? round(Number(readFileSync(file, 'utf8')) / 1024) : null;
}

/**
 * The config text of one engine: the same domains, store.engine and the secrets through
 * ${env:…} (the URL carries the cluster's password), as an operator would write it.
 */
function configText(engine: Engine, dataDir: string, endpoints: readonly { host: string; port: number }[], scan?: { caFile: string }): string {
  const lines = [`dataDir: ${JSON.stringify(dataDir)}`];
  if (engine === 'postgres') lines.push('store:', '  engine: postgres', '  url: "${env:CERTS_BENCH_PG_URL}"', '  keyEncryptionKey: "${env:CERTS_BENCH_KEK}"');
  if (scan) lines.push('trust:', `  caFile: ${JSON.stringify(scan.caFile)}`, 'scan:', `  concurrency: ${CONCURRENCY}`, `  timeoutMs: ${TIMEOUT_MS}`);
  lines.push('domains:');
  // The shape `certs import hosts` writes: one monitor-only domain per endpoint.
  for (const { host, port } of endpoints) {
    lines.push(`  - name: ${host}`, '    managed: false', '    endpoints:', `      - host: ${host}`, `        port: ${port}`);
    if (scan) lines.push('        address: 127.0.0.1');
  }
  return `${lines.join('\n')}\n`;
}

interface Run {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

function spawnTimed(args: string[], env: NodeJS.ProcessEnv): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  return { ms, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

/**
 * Loaded into each timed run: writes the process's own CPU time (user + system, ms) at exit. On
 * this shared 2-core machine wall time grows with everyone else's load; CPU time much less, so
 * it says what the run itself costs. A data: URL, so no file besides this benchmark is needed.
 */
const CPU_PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import{writeFileSync}from'node:fs';const f=process.env.CERTS_BENCH_CPU_FILE;if(f)process.on('exit',()=>{const u=process.cpuUsage();writeFileSync(f,String((u.user+u.system)/1000))});",
)}`;

/** Wall time of a run whose stdout goes to a file, as from cron (a pipe would also time this reader), and its CPU time. */
function spawnToFile(args: string[], env: NodeJS.ProcessEnv, file: string): { ms: number; cpuMs: number } {
  const fd = openSync(file, 'w');
  const cpuFile = `${file}.cpu`;
  rmSync(cpuFile, { force: true });
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', CPU_PRELOAD, ...args], { env: { ...env, CERTS_BENCH_CPU_FILE: cpuFile }, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.error) throw r.error;
    if (r.status === null || r.status > 2) throw new Error(`${args.join(' ')}: exit ${r.status}: ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
    return { ms, cpuMs: Number(readFileSync(cpuFile, 'utf8')) };
  } finally {
    closeSync(fd);
  }
}

/** An async spawn for the scans: the event loop stays free (nginx and PostgreSQL are children of this process). */
function spawnAsync(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 }));
  });
}

/** Exit 0-2 are verdicts (ok, warning, critical); 3 and others mean it could not judge or run. */
function checkStatus(r: Run, json: boolean, n: number): string | undefined {
  if (r.code === null || r.code > 2) return `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  if (!json) return r.stdout.includes(`${n} endpoints:`) ? undefined : 'no summary line for every endpoint';
  const doc = JSON.parse(r.stdout) as { endpoints?: unknown[] };
  return doc.endpoints?.length === n ? undefined : `expected ${n} endpoints, got ${doc.endpoints?.length}`;
}

const withoutTime = (out: string): string => out.replace(/"generatedAt": "[^"]*"/, '');

interface Target {
  /** The engine, or `sqlite-base`: SQLite through the CERTS_BENCH_CLI_BASE build. */
  label: Engine | 'sqlite-base';
  engine: Engine;
  cli: string;
  config: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Filled by the given build's own store code (the current one by default): a build opens only its
 * own schema version read-only, so a base build on the other side of a migration gets its own copy.
 */
async function fillSqlite(dataDir: string, items: readonly RecordItem[], cli = CLI): Promise<void> {
  const open = cli === CLI ? openStore : ((await import(pathToFileURL(join(dirname(cli), '..', 'store', 'index.js')).href)) as { openStore: typeof openStore }).openStore;
  const store = open(dataDir);
  try {
    for (let i = 0; i < items.length; i += FILL_BATCH) store.scans.recordMany(items.slice(i, i + FILL_BATCH));
  } finally {
    store.close();
  }
}

async function fillPostgres(url: string, kek: string, items: readonly RecordItem[]): Promise<void> {
  const store = await openPgStore(url, { keyEncryptionKey: kek });
  try {
    for (let i = 0; i < items.length; i += FILL_BATCH) await store.scans.recordMany(items.slice(i, i + FILL_BATCH));
  } finally {
    await store.close();
  }
}

async function statusBench(work: string, baseEnv: NodeJS.ProcessEnv, cluster: StoreCluster | null, kek: string): Promise<void> {
  const items = fleet(N);
  const endpoints = items.map(({ report }) => ({ host: report.host, port: report.port }));
  const targets: Target[] = [];
  for (const [label, cli] of [['sqlite', CLI], ...(BASE ? [['sqlite-base', BASE]] : [])] as ['sqlite' | 'sqlite-base', string][]) {
    const dir = join(work, `status-${label}`);
    mkdirSync(dir);
    const t0 = performance.now();
    await fillSqlite(join(dir, 'data'), items, cli);
    const config = join(dir, 'certs.yaml');
    writeFileSync(config, configText('sqlite', join(dir, 'data'), endpoints));
    log(`status: ${N} endpoints stored in SQLite (${label}) in ${Math.round(performance.now() - t0)} ms`);
    targets.push({ label, engine: 'sqlite', cli, config, env: baseEnv });
  }
  if (cluster) {
    const dir = join(work, 'status-postgres');
    mkdirSync(dir);
    const url = await cluster.newDatabase('status');
    const t0 = performance.now();
    await fillPostgres(url, kek, items);
    const config = join(dir, 'certs.yaml');
    writeFileSync(config, configText('postgres', join(dir, 'data'), endpoints));
    log(`status: ${N} endpoints stored in PostgreSQL in ${Math.round(performance.now() - t0)} ms`);
    targets.push({ label: 'postgres', engine: 'postgres', cli: CLI, config, env: { ...baseEnv, CERTS_BENCH_PG_URL: url } });
  }
  for (const json of [true, false]) {
    const kase = json ? 'status --json' : 'status';
    const argsOf = (t: Target): string[] => [t.cli, 'status', '--config', t.config, ...(json ? ['--json'] : [])];
    const outputs = new Map<Target['label'], string>();
    for (const t of targets) {
      const r = spawnTimed(argsOf(t), t.env);
      const bad = checkStatus(r, json, N);
      if (bad) throw new Error(`${t.label}: certs ${argsOf(t).slice(1).join(' ')}: ${bad}`);
      outputs.set(t.label, withoutTime(r.stdout));
    }
    const times = new Map<Target['label'], number[]>(targets.map((t) => [t.label, []]));
    const cpu = new Map<Target['label'], number[]>(targets.map((t) => [t.label, []]));
    const baseline: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      baseline.push(spawnTimed(['-e', '0'], baseEnv).ms);
      // Alternate which engine goes first, so neither always runs on a warmer machine.
      const order = i % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const r = spawnToFile(argsOf(t), t.env, join(work, 'out'));
        times.get(t.label)!.push(r.ms);
        cpu.get(t.label)!.push(r.cpuMs);
      }
    }
    // Every target printed the same bytes (generatedAt aside): the engines (and builds) agree.
    const same = outputs.size > 1 ? new Set(outputs.values()).size === 1 : null;
    for (const t of targets) {
      const rssFile = join(work, `rss-${t.label}`);
      rmSync(rssFile, { force: true });
      spawnTimed(['--import', RSS_PRELOAD, ...argsOf(t)], { ...t.env, CERTS_BENCH_RSS_FILE: rssFile });
      const ms = times.get(t.label)!;
      const budget = t.label === 'sqlite' && json && N === 10_000 ? { budgetMs: SQLITE_STATUS_BUDGET_MS, pass: median(ms) <= SQLITE_STATUS_BUDGET_MS } : {};
      emit({
        bench: 'store-engines', case: kase, engine: t.engine, ...(t.label === 'sqlite-base' ? { build: 'base', cli: t.cli } : {}), endpoints: N, runs: RUNS, ...stats(ms),
        cpuMs: round(median(cpu.get(t.label)!)), cpuRangeMs: [round(Math.min(...cpu.get(t.label)!)), round(Math.max(...cpu.get(t.label)!))],
        loadAvg1: round(loadavg()[0]!),
        nodeStartMs: round(median(baseline)), nodeStartRangeMs: [round(Math.min(...baseline)), round(Math.max(...baseline))],
        peakRssMB: readRssMB(rssFile), ...(same === null ? {} : { sameOutput: same }), ...budget,
      });
    }
  }
}

async function scanBench(work: string, baseEnv: NodeJS.ProcessEnv, cluster: StoreCluster | null): Promise<void> {
  const pki = join(work, 'pki');
  mkdirSync(pki);
  const ca = await makeCa(pki, 'certs bench root', 365, 'bench-ca');
  const leaf = await issueLeaf(pki, ca, '*.bench.test', { days: 90 }, 'wildcard.bench.test');
  let ngx: NginxInstance | undefined;
  try {
    // One worker leaves the second core to the scanner, as in bench/scan.ts.
    ngx = await startNginx({
      sites: [
        { serverNames: ['*.bench.test'], certPem: leaf.certPem, keyPem: leaf.keyPem },
        { serverNames: ['_'], certPem: leaf.certPem, keyPem: leaf.keyPem, default: true },
      ],
      workerProcesses: 1,
      workerConnections: 4096,
    });
    const width = Math.max(4, String(N).length);
    const endpoints = Array.from({ length: N }, (_, i) => ({ host: `e${String(i + 1).padStart(width, '0')}.bench.test`, port: ngx!.port }));
    const engines: Engine[] = cluster ? ['sqlite', 'postgres'] : ['sqlite'];
    const times = new Map<Engine, number[]>(engines.map((e) => [e, []]));
    const rss = new Map<Engine, number[]>(engines.map((e) => [e, []]));
    for (let r = 1; r <= SCAN_ROUNDS; r++) {
      const order = r % 2 === 1 ? engines : [...engines].reverse();
      for (const engine of order) {
        const dir = join(work, `scan-${engine}-${r}`);
        mkdirSync(dir);
        const config = join(dir, 'certs.yaml');
        writeFileSync(config, configText(engine, join(dir, 'data'), endpoints, { caFile: ca.certPath }));
        const env: NodeJS.ProcessEnv = { ...baseEnv };
        // The store exists, empty, with its schema (as for every scan after the first): creating the
        // PostgreSQL schema takes seconds on this cluster and is reported on its own line instead.
        if (engine === 'postgres') {
          env.CERTS_BENCH_PG_URL = await cluster!.newDatabase('scan');
          const t0 = performance.now();
          await (await openPgStore(env.CERTS_BENCH_PG_URL, { keyEncryptionKey: env.CERTS_BENCH_KEK! })).close();
          if (r === 1) emit({ bench: 'store-engines', case: 'create schema', engine, wallMs: round(performance.now() - t0) });
        } else openStore(join(dir, 'data')).close();
        const rssFile = join(dir, 'rss');
        log(`scan round ${r}/${SCAN_ROUNDS}: ${engine}, ${N} endpoints`);
        const run = await spawnAsync(['--import', RSS_PRELOAD, CLI, 'scan', '--config', config, '--json'], { ...env, CERTS_BENCH_RSS_FILE: rssFile });
        let error: string | undefined;
        let summary: unknown;
        try {
          const doc = JSON.parse(run.stdout) as { endpoints?: unknown[]; summary?: { ok?: number } };
          summary = doc.summary;
          if (doc.endpoints?.length !== N || run.code === 3 || run.code === null) error = `expected ${N} endpoints, got ${doc.endpoints?.length}; exit ${run.code}`;
          else if (doc.summary?.ok !== N) error = `not every endpoint ok (exit ${run.code})`;
        } catch (err) {
          error = `stdout is not one JSON document (${(err as Error).message}); exit ${run.code}; ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
        }
        const peak = readRssMB(rssFile);
        if (!error) {
          times.get(engine)!.push(run.ms);
          if (peak !== null) rss.get(engine)!.push(peak);
        }
        emit({ bench: 'store-engines', case: 'scan --json', engine, endpoints: N, round: r, wallMs: round(run.ms), peakRssMB: peak, summary, ...(error ? { error } : {}) });
        // Each scan starts from an empty store: drop this one's data (the database stays until the cluster stops).
        rmSync(join(dir, 'data'), { recursive: true, force: true });
      }
    }
    for (const engine of engines) {
      const ms = times.get(engine)!;
      if (ms.length === 0) continue;
      emit({ bench: 'store-engines', case: 'scan --json', summary: 'rounds', engine, endpoints: N, runs: ms.length, ...stats(ms), perEndpointMs: Math.round((median(ms) / N) * 1000) / 1000, peakRssMB: Math.max(...rss.get(engine)!) });
    }
  } finally {
    await ngx?.stop();
  }
}

async function main(): Promise<void> {
  for (const cli of [CLI, ...(BASE ? [BASE] : [])]) {
    const problem = cliProblem(cli, ROOT, log);
    if (problem) throw new Error(problem);
  }
  const pgProblem = postgresUnavailable();
  if (pgProblem) emit({ bench: 'store-engines', engine: 'postgres', skipped: pgProblem });
  const work = mkdtempSync(join(tmpdir(), 'certs-bench-engines-'));
  let cluster: StoreCluster | null = null;
  try {
    const kek = randomBytes(32).toString('base64');
    const baseEnv: NodeJS.ProcessEnv = { ...process.env, CERTS_CACHE_DIR: join(work, 'cache'), NO_COLOR: '1', CERTS_BENCH_KEK: kek };
    delete baseEnv.NODE_OPTIONS;
    mkdirSync(baseEnv.CERTS_CACHE_DIR!, { recursive: true, mode: 0o700 });
    if (!pgProblem) cluster = await startStoreCluster();
    if (DO_STATUS) await statusBench(work, baseEnv, cluster, kek);
    if (DO_SCAN) await scanBench(work, baseEnv, cluster);
  } finally {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
