// The daemon's HTTP endpoint under abusive clients (issue #10 §3): what they cost the daemon.
//
//   node --import tsx bench/http.ts                    the built CLI (dist/), 3,000 domains
//   CERTS_BENCH_CLI=/tmp/old/dist/cli/main.js …        another build (the before figures)
//
// Setup: an inventory of $BENCH_HTTP_DOMAINS (default 3000) monitor-only domains whose last scans
// are already stored (test/helpers/store-fixtures.ts `fleet`, 3-certificate chains), so `/status`
// is the full document; `certs daemon` on it with `daemon.http` on loopback, no token (so the old
// build, which has none, reads the same config), a schedule that never fires during the bench.
//
// Phases (one JSON line each on stdout, progress on stderr):
//   pipelining  $BENCH_HTTP_CONNECTIONS (100) connections each send $BENCH_HTTP_PIPELINE (50)
//               pipelined `GET /status` in one write, again every 250 ms, and never read a byte;
//               a connection the daemon closes is opened again at once, for $BENCH_HTTP_SECONDS
//               (10). Daemon RSS is sampled from /proc every 100 ms: before, peak and at the end
//               (and VmHWM, the peak since start, config load included); the connections the daemon holds (/proc/net/tcp) at peak and at the end,
//               and how many it cut off.
//   idle        after the daemon settled: $BENCH_HTTP_IDLE (50) connections that made one request
//               and read its answer, and as many that never sent anything; how many of each are
//               still open $BENCH_HTTP_IDLE_SECONDS (8) seconds later (the daemon's keep-alive is
//               5 s, its header timeout 5 s; Node adds 1 s to the first, checks the second every
//               `connectionsCheckingInterval`).
// Exit 0 with the figures (a report); non-zero only when the benchmark could not run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { openStore } from '../src/store/index.js';
import { freePort } from '../test/helpers/ports.js';
import { fleet } from '../test/helpers/store-fixtures.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.CERTS_BENCH_CLI ? resolve(process.env.CERTS_BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
const DOMAINS = intEnv('BENCH_HTTP_DOMAINS', 3000);
const CONNECTIONS = intEnv('BENCH_HTTP_CONNECTIONS', 100);
const PIPELINE = intEnv('BENCH_HTTP_PIPELINE', 50);
const SECONDS = intEnv('BENCH_HTTP_SECONDS', 10);
const IDLE = intEnv('BENCH_HTTP_IDLE', 50);
const IDLE_SECONDS = intEnv('BENCH_HTTP_IDLE_SECONDS', 8);
/** 00:00 on 1 January: never fires during a benchmark. */
const FAR_SCHEDULE = '0 0 1 1 *';

const log = (msg: string): void => void process.stderr.write(`bench/http: ${msg}\n`);
const emit = (obj: object): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const mb = (kib: number): number => Math.round(kib / 102.4) / 10;

/** VmRSS and VmHWM (peak) of a process, in KiB, from /proc (Linux). */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

function prepare(dir: string, port: number): string {
  const dataDir = join(dir, 'data');
  const items = fleet(DOMAINS);
  const store = openStore(dataDir);
  try {
    for (let i = 0; i < items.length; i += 500) store.scans.recordMany(items.slice(i, i + 500));
  } finally {
    store.close();
  }
  const file = join(dir, 'certs.yaml');
  const config = {
    dataDir,
    trust: { bundled: true, system: false },
    daemon: { schedule: FAR_SCHEDULE, http: { address: '127.0.0.1', port } },
    domains: items.map((it) => ({ name: it.report.domain, managed: false })),
  };
  writeFileSync(file, stringify(config));
  return file;
}

function startDaemon(file: string, dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'daemon', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', CERTS_CACHE_DIR: join(dir, 'cache') },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolveStart, reject) => {
    let buf = '';
    const onData = (d: string): void => {
      buf += d;
      if (/"event":"http\.listening"/.test(buf)) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolveStart(child);
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`the daemon exited (${code}) before listening: ${stderr.trim()}`)));
  });
}

/** One GET, read in full: the warm-up, and the size of the document. */
function getOnce(port: number, path: string): Promise<{ status: number; bytes: number; ms: number }> {
  return new Promise((resolveGet, reject) => {
    const t0 = performance.now();
    const c = connect(port, '127.0.0.1', () => c.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => {
      const text = Buffer.concat(chunks);
      const head = text.indexOf('\r\n\r\n');
      resolveGet({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text.toString('latin1', 0, 20))?.[1] ?? 0), bytes: head === -1 ? 0 : text.length - head - 4, ms: performance.now() - t0 });
    });
  });
}

/** Connections the daemon holds open on `port` (server side, ESTABLISHED), from /proc/net/tcp{,6}. */
function daemonConnections(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[1]!.endsWith(`:${hexPort}`) && f[3] === '01') n++;
    }
  }
  return n;
}

async function pipelining(port: number, pid: number): Promise<Record<string, unknown>> {
  const batch = Buffer.from('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(PIPELINE));
  const open = new Set<Socket>();
  let opened = 0;
  let cutOff = 0;
  let running = true;
  // A client that never reads cannot see the daemon close the connection (EOF is a read); it
  // finds out when a later write fails. So every client keeps pipelining: a new batch every
  // 250 ms once the previous one left its buffer, and reconnects when a write fails.
  const openOne = (): void => {
    const c = connect(port, '127.0.0.1');
    opened++;
    open.add(c);
    c.pause(); // never reads a byte
    c.on('error', () => undefined);
    c.once('connect', () => c.write(batch));
    c.once('close', () => {
      open.delete(c);
      if (!running) return;
      cutOff++;
      openOne();
    });
  };
  const before = memoryOf(pid);
  let peakRss = before.rss;
  let peakConnections = 0;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memoryOf(pid).rss);
    } catch {
      // the daemon is gone; the end figures below throw
    }
    peakConnections = Math.max(peakConnections, daemonConnections(port));
  }, 100);
  const feeder = setInterval(() => {
    for (const c of open) if (c.readyState === 'open' && c.writableLength === 0) c.write(batch);
  }, 250);
  for (let i = 0; i < CONNECTIONS; i++) openOne();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  clearInterval(feeder);
  clearInterval(sampler);
  const end = memoryOf(pid);
  const heldAtEnd = daemonConnections(port);
  for (const c of open) c.destroy();
  return {
    bench: 'http-pipelining',
    domains: DOMAINS,
    connections: CONNECTIONS,
    pipelined: PIPELINE,
    seconds: SECONDS,
    rssBeforeMB: mb(before.rss),
    rssPeakMB: mb(peakRss),
    rssHighWaterMB: mb(end.hwm),
    rssEndMB: mb(end.rss),
    daemonConnectionsPeak: peakConnections,
    daemonConnectionsAtEnd: heldAtEnd,
    cutOffByDaemon: cutOff,
    connectionsOpened: opened,
  };
}

async function idle(port: number): Promise<Record<string, unknown>> {
  const afterRequest: Socket[] = [];
  const silent: Socket[] = [];
  const closed = new WeakSet<Socket>();
  await Promise.all(
    Array.from({ length: IDLE }, () => new Promise<void>((done) => {
      const c = connect(port, '127.0.0.1', () => c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      afterRequest.push(c);
      c.on('error', () => undefined);
      c.once('close', () => closed.add(c));
      c.once('data', () => done());
    })),
  );
  for (let i = 0; i < IDLE; i++) {
    const c = connect(port, '127.0.0.1');
    silent.push(c);
    c.on('error', () => undefined);
    c.on('data', () => undefined);
    c.once('close', () => closed.add(c));
  }
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const openOf = (xs: Socket[]): number => xs.filter((c) => !closed.has(c)).length;
  const out = { bench: 'http-idle', afterSeconds: IDLE_SECONDS, keepAliveOpen: openOf(afterRequest), keepAliveOf: IDLE, silentOpen: openOf(silent), silentOf: IDLE };
  for (const c of [...afterRequest, ...silent]) c.destroy();
  return out;
}

const problem = cliProblem(CLI, ROOT, log);
if (problem) {
  log(problem);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'certs-bench-http-'));
const cli = CLI === join(ROOT, 'dist', 'cli', 'main.js') ? 'dist' : CLI;
const daemons: ChildProcess[] = [];
/** How long the daemon may take to answer /healthz once the pipelining stops before it is reported as stuck. */
const SETTLE_BUDGET_MS = 30_000;
try {
  const port = await freePort();
  log(`storing ${DOMAINS} domains' scans`);
  const file = prepare(dir, port);

  let daemon = await startDaemon(file, dir);
  daemons.push(daemon);
  const warm = await getOnce(port, '/status');
  if (warm.status !== 200) throw new Error(`GET /status answered ${warm.status}`);
  log(`/status: ${warm.bytes} bytes in ${Math.round(warm.ms)} ms; daemon RSS ${mb(memoryOf(daemon.pid!).rss)} MB; pipelining for ${SECONDS} s`);
  const piped = await pipelining(port, daemon.pid!);
  // Is it still serving? A daemon working through everything it read answers late, or not at all.
  const t0 = performance.now();
  const healthz = await Promise.race([getOnce(port, '/healthz'), new Promise<null>((r) => setTimeout(() => r(null), SETTLE_BUDGET_MS).unref())]);
  const healthzAfterMs = healthz ? Math.round(performance.now() - t0) : null;
  const rssAfterMB = mb(memoryOf(daemon.pid!).rss);
  emit({ ...piped, statusBytes: warm.bytes, healthzAfterMs, healthzBudgetMs: SETTLE_BUDGET_MS, rssAfterHealthzMB: rssAfterMB, cli });
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGKILL');
  await exited;

  // Idle connections against a fresh daemon, so that nothing left from the pipelining skews it.
  daemon = await startDaemon(file, dir);
  daemons.push(daemon);
  log(`idle connections for ${IDLE_SECONDS} s`);
  emit({ ...(await idle(port)), cli });
} finally {
  for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
