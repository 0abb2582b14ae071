// The dashboard's budgets (issue 13): first load ≤ 200 KB over the wire at 1,000 endpoints, and
// server time for `GET /` ≤ 300 ms at 10,000 endpoints.
//
//   node --import tsx bench/dashboard.ts                  the built CLI (dist/)
//   CERTS_BENCH_CLI=/tmp/old/dist/cli/main.js …           another build
//
// Setup per size: the seeded world of the browser tests (test/helpers/dashboard-world.ts: known
// statuses, chains, problems, dates relative to now) written to a temporary dir, and `certs
// daemon` from the built CLI on it with `daemon.http` on 127.0.0.1 and a token (Basic, as a
// browser sends it), a schedule that never fires.
//
// Lines on stdout (JSON, one per measurement; progress on stderr):
//   dashboard.bytes      at $BENCH_DASHBOARD_SMALL (1000) endpoints: every byte the daemon sent
//                        for one `GET /` (status line, headers and body), once with
//                        `Accept-Encoding: gzip, deflate, br` (what a browser sends) and once
//                        without (identity). The page inlines all its assets, so this is the whole
//                        first load; budget 200,000 bytes (gzip).
//   dashboard.server-ms  at $BENCH_DASHBOARD_LARGE (10000) endpoints: the time from the request's
//                        last byte written to the response's last byte read, on loopback, of
//                        $BENCH_DASHBOARD_REQUESTS (15) requests after a first one (medians and
//                        ranges), in two series, alternating:
//                          rendered  before each request the bench records one more scan of one
//                                    endpoint in the store (what a run does), so the daemon's
//                                    body cache (keyed on the database's files) misses and the
//                                    page is read from the store and rendered again;
//                          cached    nothing changed since the previous request.
//                        The budget (300 ms) is for `rendered`, gzip as a browser asks. With
//                        it, the CPU the daemon used during each rendered request (all its
//                        threads, /proc): the part of the time that a busy machine does not inflate.
//   dashboard.breakdown  the same render in this process without HTTP: data (store + config),
//                        HTML, gzip, medians.
// Exit 0 with the figures (a report; `withinBudget` says whether each was met); non-zero only
// when the benchmark could not run.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { loadConfig } from '../src/config/load.js';
import { dashboardData } from '../src/service/dashboard.js';
import { openStore } from '../src/store/index.js';
import { asyncStore } from '../src/store/sqlite-async.js';
import { renderDashboard } from '../src/web/page.js';
import { seedDashboardWorld, startWorldDaemon, TOKEN_ENV, type DashboardWorld, type WorldDaemon } from '../test/helpers/dashboard-world.js';
import { freePort } from '../test/helpers/ports.js';
import { fakeCert, reportFor } from '../test/helpers/store-fixtures.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.CERTS_BENCH_CLI ? resolve(process.env.CERTS_BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
const SMALL = intEnv('BENCH_DASHBOARD_SMALL', 1000);
const LARGE = intEnv('BENCH_DASHBOARD_LARGE', 10_000);
const REQUESTS = intEnv('BENCH_DASHBOARD_REQUESTS', 15);
const BYTES_BUDGET = 200_000;
const SERVER_MS_BUDGET = 300;
const TOKEN = 'bench-dashboard-token';
const AUTH = `Basic ${Buffer.from(`certs:${TOKEN}`).toString('base64')}`;
const BROWSER_ENCODINGS = 'gzip, deflate, br';

const log = (msg: string): void => void process.stderr.write(`bench/dashboard: ${msg}\n`);
const emit = (obj: object): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const round = (x: number): number => Math.round(x * 10) / 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * CPU time (ms) every thread of process `pid` has used so far, from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds on CPU; Linux): what a request costs the daemon, whatever else shares the cores.
 */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended while we listed them.
    }
  }
  return ns / 1e6;
}

interface Response {
  status: number;
  /** Every byte received: status line, headers, body. */
  wireBytes: number;
  headers: Map<string, string>;
  body: Buffer;
  /** From the request's last byte written to the response's last byte read. */
  ms: number;
}

/** One `GET path` on a fresh connection (`Connection: close`), read to the end. */
function get(port: number, path: string, encodings: string | null): Promise<Response> {
  return new Promise((resolveGet, reject) => {
    let t0 = 0;
    const c = connect(port, '127.0.0.1', () => {
      const head = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: ${AUTH}`, 'Connection: close'];
      if (encodings !== null) head.push(`Accept-Encoding: ${encodings}`);
      c.write(`${head.join('\r\n')}\r\n\r\n`, () => (t0 = performance.now()));
    });
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('end', () => {
      const ms = performance.now() - t0;
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const headText = all.toString('latin1', 0, split === -1 ? all.length : split);
      const [statusLine, ...lines] = headText.split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      let body: Buffer = split === -1 ? Buffer.alloc(0) : all.subarray(split + 4);
      if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
      resolveGet({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(statusLine ?? '')?.[1] ?? 0), wireBytes: all.length, headers, body, ms });
    });
  });
}

function dechunk(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol === -1) break;
    const size = parseInt(raw.toString('latin1', at, eol), 16);
    if (!(size > 0)) break;
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** The size of the page's <script type="application/json" id="rows"> (0 when absent). */
function rowsJsonBytes(page: string): number {
  const start = page.indexOf('id="rows"');
  if (start === -1) return 0;
  const open = page.indexOf('>', start) + 1;
  return Buffer.byteLength(page.slice(open, page.indexOf('</script>', open)));
}

/** The body as the browser would see it (gunzipped when the daemon gzipped it). */
function decoded(r: Response): Buffer {
  return r.headers.get('content-encoding') === 'gzip' ? gunzipSync(r.body) : r.body;
}

async function withWorld<T>(n: number, fn: (port: number, world: DashboardWorld, pid: number) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'certs-bench-dashboard-'));
  let daemon: WorldDaemon | undefined;
  try {
    const port = await freePort();
    const t0 = performance.now();
    const world = seedDashboardWorld(dir, { endpoints: n, http: { port, token: true } });
    log(`${n} endpoints seeded in ${Math.round(performance.now() - t0)} ms`);
    daemon = await startWorldDaemon(CLI, world, { CERTS_CACHE_DIR: join(dir, 'cache'), [TOKEN_ENV]: TOKEN });
    return await fn(port, world, daemon.child.pid!);
  } finally {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bytes(): Promise<void> {
  await withWorld(SMALL, async (port) => {
    const gz = await get(port, '/', BROWSER_ENCODINGS);
    const id = await get(port, '/', null);
    if (gz.status !== 200 || id.status !== 200) throw new Error(`GET / answered ${gz.status} / ${id.status}`);
    const page = decoded(gz).toString('utf8');
    if (page !== id.body.toString('utf8')) log('warning: the gzip and identity pages differ (rendered at different times?)');
    emit({
      bench: 'dashboard.bytes',
      endpoints: SMALL,
      gzipWireBytes: gz.wireBytes,
      gzipApplied: gz.headers.get('content-encoding') === 'gzip',
      identityWireBytes: id.wireBytes,
      htmlBytes: Buffer.byteLength(page),
      // Every row is in the page as JSON (the script pages through it); the first 100 also as HTML.
      rowsJsonBytes: rowsJsonBytes(page),
      budgetBytes: BYTES_BUDGET,
      withinBudget: gz.wireBytes <= BYTES_BUDGET,
      cli: CLI,
    });
  });
}

async function serverTime(): Promise<void> {
  await withWorld(LARGE, async (port, world, pid) => {
    // One endpoint rescanned before each `rendered` request: its report again with a new scannedAt.
    const target = world.endpoints.find((e) => e.scanned)!;
    const leaf = fakeCert(`${target.domain} bench rescan`, { notAfter: target.notAfter! });
    const store = openStore(world.dataDir);
    let rescans = 0;
    const touch = (): void => {
      const report = reportFor({ domain: target.domain, host: target.host, port: target.port, ...(target.address ? { address: target.address } : {}) }, [leaf], {
        scannedAt: new Date(world.now.getTime() + ++rescans * 1000).toISOString(),
        daysLeft: target.daysLeft,
      });
      store.scans.record(report, [leaf.der]);
    };
    try {
      const first = await get(port, '/', BROWSER_ENCODINGS);
      if (first.status !== 200) throw new Error(`GET / answered ${first.status}`);
      log(`first GET / at ${LARGE}: ${round(first.ms)} ms, ${first.wireBytes} bytes`);
      const rendered: number[] = [];
      const renderedCpu: number[] = [];
      const cached: number[] = [];
      const identity: number[] = [];
      let wire = 0;
      for (let i = 0; i < REQUESTS; i++) {
        touch();
        const cpu0 = cpuMs(pid);
        const r = await get(port, '/', BROWSER_ENCODINGS);
        renderedCpu.push(cpuMs(pid) - cpu0);
        rendered.push(r.ms);
        wire = r.wireBytes;
        cached.push((await get(port, '/', BROWSER_ENCODINGS)).ms);
        touch();
        identity.push((await get(port, '/', null)).ms);
      }
      const stats = (xs: number[]): { medianMs: number; minMs: number; maxMs: number } => ({ medianMs: round(median(xs)), minMs: round(Math.min(...xs)), maxMs: round(Math.max(...xs)) });
      const r = stats(rendered);
      emit({
        bench: 'dashboard.server-ms',
        endpoints: LARGE,
        requests: REQUESTS,
        firstMs: round(first.ms),
        rendered: r,
        renderedDaemonCpu: stats(renderedCpu),
        renderedIdentity: stats(identity),
        cached: stats(cached),
        gzipWireBytes: wire,
        budgetMs: SERVER_MS_BUDGET,
        withinBudget: r.medianMs <= SERVER_MS_BUDGET,
        note: 'loopback, request written to response read; rendered = the store changed before the request (cache miss), cached = unchanged; renderedDaemonCpu = CPU the daemon used (all threads) during a rendered request',
        cli: CLI,
      });
    } finally {
      store.close();
    }
  });
}

/**
 * Where a rendered `/` goes, in this process over the same world (no HTTP): the data from the
 * config and the store (service/dashboard.ts), the HTML (web/page.ts), its gzip. Medians of
 * REQUESTS rounds after a first.
 */
async function breakdown(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'certs-bench-dashboard-'));
  try {
    const world = seedDashboardWorld(dir, { endpoints: LARGE });
    const config = loadConfig(world.configFile, { env: {} });
    const data: number[] = [];
    const render: number[] = [];
    const gzip: number[] = [];
    let html = '';
    for (let i = 0; i <= REQUESTS; i++) {
      const t0 = performance.now();
      const sync = openStore(world.dataDir, { readonly: true });
      const store = sync ? asyncStore(sync, world.dataDir) : null;
      let d;
      try {
        d = await dashboardData(config, store, new Date());
      } finally {
        await store?.close();
      }
      const t1 = performance.now();
      html = renderDashboard(d, { mode: 'daemon', endpointHref: (id) => `/endpoint/${id}` });
      const t2 = performance.now();
      gzipSync(html);
      const t3 = performance.now();
      if (i === 0) continue;
      data.push(t1 - t0);
      render.push(t2 - t1);
      gzip.push(t3 - t2);
    }
    emit({ bench: 'dashboard.breakdown', endpoints: LARGE, rounds: REQUESTS, dataMs: round(median(data)), renderMs: round(median(render)), gzipMs: round(median(gzip)), htmlBytes: Buffer.byteLength(html), note: 'in-process medians: open store + dashboardData, renderDashboard, gzipSync' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const problem = cliProblem(CLI, ROOT, log);
if (problem) {
  log(problem);
  process.exitCode = 1;
} else {
  await bytes();
  await serverTime();
  await breakdown();
}
