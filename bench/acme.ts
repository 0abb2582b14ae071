// ACME renewal benchmark: `certs renew --force` next to `certbot renew --force-renewal` over the
// same N certificates, in one run against one Pebble (PEBBLE_VA_NOSLEEP=1, badNonce rejection 0%,
// authz reuse 0%, so every order is really validated over http-01) and pebble-challtestsrv (DNS:
// every name → 127.0.0.1). Loopback only; nothing listens beyond 127.0.0.1.
//
//   npm run build && node --import tsx bench/acme.ts     N = $BENCH_ACME_CERTS (default 50)
//   BENCH_ACME_CONCURRENCY=8,1    certs concurrencies to time, the first compared with certbot
//                                 (default 8 alone: each extra one costs ~25 s at N = 50)
//   BENCH_ACME_CERTBOT_SHARDS=1   certbot issuance strictly one name after another (default 5
//                                 side by side, see certbotIssueAll; issuance is not timed)
//
// Steps (progress on stderr, JSON lines on stdout):
//   1. certs, built CLI, one config with N managed domains b<i>.bench.test, http-01 standalone on
//      127.0.0.1:P (Pebble's httpPort), preflight through challtestsrv:
//        node dist/cli/main.js renew --config certs.yaml --json             issue (timed, extra line)
//        node dist/cli/main.js renew --force --config certs.yaml --json     timed, per concurrency
//   2. certbot (Debian's /usr/bin/certbot), standalone on the same 127.0.0.1:P, trusting Pebble's
//      HTTPS through REQUESTS_CA_BUNDLE:
//        certbot certonly --standalone … -d b<i>.bench.test      once per name (timed, extra line)
//        certbot renew --force-renewal --no-random-sleep-on-renew …         timed
//   3. a comparison line: speedup = certbot renew wall time / certs renew wall time (first
//      concurrency), target ≥ 5; certsPeakRssMB = the largest peak of every certs run (issue
//      and renews), target ≤ 200 MB.
// Total time at N = 50 on 2 cores: ~3.5 min, of which certbot renew ~2 min (it sleeps 1 s while
// polling the authorization and 1 s polling the order, per certificate, one after another).
//
// Wall time: spawn to exit of the child as seen from this process (process start included).
// Peak RSS: GNU time (`/usr/bin/time -v`, Debian package `time`) wraps every timed command, so
// both tools are measured the same way (ru_maxrss of the process it waited for); for certs the
// preload bench/rss-preload.mjs also reports the Node process's own getrusage maxRSS as a cross-
// check. Without /usr/bin/time: certs falls back to the preload alone, certbot to polling VmHWM in
// /proc/<pid>/status every 20 ms (the last value read before exit). `rssMethod` says which.
//
// Exit 0 when the targets are missed (a report); non-zero only when the benchmark could not run.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startChallTestSrv, startPebble, type ChallTestSrvInstance, type PebbleInstance } from '../test/helpers/pebble.js';
import { freePort } from '../test/helpers/ports.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// CERTS_BENCH_CLI points at another build of the CLI (e.g. to compare two branches).
const CLI = process.env.CERTS_BENCH_CLI ? resolve(process.env.CERTS_BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
const RSS_PRELOAD = join(ROOT, 'bench', 'rss-preload.mjs');
const CERTBOT = process.env.CERTBOT_BIN ?? '/usr/bin/certbot';
// BENCH_GNU_TIME=/nonexistent exercises the fallbacks.
const GNU_TIME = process.env.BENCH_GNU_TIME ?? '/usr/bin/time';
const EMAIL = 'ops@example.com';

// Targets (from the ACME renewal performance issue).
const MIN_SPEEDUP = 5;
const MAX_RSS_MB = 200;

// Bounds: the whole benchmark stays well under 5 minutes at N = 50 on a small machine.
const CERTS_TIMEOUT_MS = 120_000;
const CERTBOT_ONE_TIMEOUT_MS = 60_000;
const CERTBOT_RENEW_TIMEOUT_MS = 240_000;

function concurrencies(): number[] {
  const raw = process.env.BENCH_ACME_CONCURRENCY;
  if (raw === undefined || raw === '') return [8];
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error(`BENCH_ACME_CONCURRENCY=${raw}: expected integers 1..64, comma-separated`);
  return list;
}

const N = intEnv('BENCH_ACME_CERTS', 50);
const CONCURRENCIES = concurrencies();
const CERTBOT_SHARDS = Math.min(intEnv('BENCH_ACME_CERTBOT_SHARDS', 5), 50, N);
const PEBBLE_SETTINGS = { vaNoSleep: true, nonceReject: 0, authzReuse: 0 } as const;

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (msg: string): void => void process.stderr.write(`bench/acme: ${msg}\n`);
const emit = (obj: object): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const tail = (s: string, lines = 6): string => s.trim().split('\n').slice(-lines).join(' | ');
const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `b${i + 1}.bench.test`);

// ---------------------------------------------------------------------------------------------
// Child processes: own process group (GNU time does not pass a SIGTERM on), killed by group id
// on timeout, on SIGINT/SIGTERM of this process, and at exit.
// ---------------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Stops Pebble and challtestsrv and removes the temp dir; set by main(). */
let cleanup: (() => Promise<void>) | undefined;

process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    for (const child of live) killGroup(child, 'SIGKILL');
    setTimeout(() => process.exit(130), 10_000).unref();
    void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak RSS in KiB, from GNU time or /proc polling; null when not measured. */
  peakRssKiB: number | null;
  timedOut: boolean;
}

const HAVE_GNU_TIME = existsSync(GNU_TIME);
const TIME_MARK = '@@certs-bench-time@@';

/**
 * Runs cmd under `/usr/bin/time -v` when available (its report goes to a file, not the child's
 * stderr), else polls /proc/<pid>/status VmHWM every 20 ms when `pollRss` is set.
 */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; pollRss?: boolean; timeFile?: string }): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const timeFile = opts.timeFile;
    const [bin, argv] = HAVE_GNU_TIME && timeFile ? [GNU_TIME, ['-v', '-o', timeFile, '-f', TIME_MARK, cmd, ...args]] : [cmd, args];
    if (timeFile) rmSync(timeFile, { force: true });
    const t0 = performance.now();
    const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, detached: true });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 3000).unref();
    }, opts.timeoutMs);
    let polledKiB: number | null = null;
    const poller = opts.pollRss && !(HAVE_GNU_TIME && timeFile) && child.pid !== undefined
      ? setInterval(() => {
        try {
          const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) polledKiB = Math.max(polledKiB ?? 0, Number(m[1]));
        } catch {
          // gone between ticks
        }
      }, 20)
      : undefined;
    child.once('error', (e) => {
      clearTimeout(timer);
      if (poller) clearInterval(poller);
      live.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      const wallMs = performance.now() - t0;
      clearTimeout(timer);
      if (poller) clearInterval(poller);
      live.delete(child);
      let peakRssKiB = polledKiB;
      if (HAVE_GNU_TIME && timeFile && existsSync(timeFile)) {
        const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(readFileSync(timeFile, 'utf8'));
        if (m) peakRssKiB = Number(m[1]);
      }
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), wallMs, peakRssKiB, timedOut });
    });
  });
}

/** GNU time's exit code is the child's; "Command exited with non-zero status" etc. is in the file. */
function failure(r: Ran, what: string): string | null {
  if (r.timedOut) return `${what}: timed out and was killed; stderr: ${tail(r.stderr)}`;
  if (r.code !== 0) return `${what}: exit ${r.code ?? r.signal}; ${tail(r.stderr || r.stdout)}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// certs
// ---------------------------------------------------------------------------------------------

function writeCertsConfig(dir: string, pebble: PebbleInstance, dns: ChallTestSrvInstance, httpPort: number, hosts: string[], concurrency: number): string {
  const file = join(dir, `certs-c${concurrency}.yaml`);
  const config = {
    dataDir: join(dir, 'certs-data'),
    acme: {
      directory: pebble.directoryUrl,
      caFile: pebble.caFile,
      email: EMAIL,
      agreeToTerms: true,
      keyType: 'ecdsa-p256',
      challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: httpPort } },
      preflight: { httpPort, resolver: dns.dnsServer, timeoutMs: 5000 },
      concurrency,
      timeoutMs: 30_000,
    },
    domains: hosts.map((name) => ({ name })),
  };
  writeFileSync(file, stringify(config));
  return file;
}

interface CertsRun {
  wallMs: number | null;
  peakRssMB: number | null;
  peakRssMBPreload: number | null;
  issued: number;
  error?: string;
  command: string;
}

async function certsRenew(dir: string, configFile: string, force: boolean, label: string): Promise<CertsRun> {
  const rssFile = join(dir, `rss-${label}.txt`);
  rmSync(rssFile, { force: true });
  const args = ['--import', RSS_PRELOAD, CLI, 'renew', ...(force ? ['--force'] : []), '--config', configFile, '--json'];
  const command = `node ${args.join(' ')}`;
  const env: NodeJS.ProcessEnv = { ...process.env, CERTS_BENCH_RSS_FILE: rssFile, CERTS_CACHE_DIR: join(dir, 'certs-cache') };
  for (const k of ['NODE_OPTIONS', 'CERTS_CONFIG', 'NO_COLOR', 'FORCE_COLOR']) delete env[k];
  const r = await run(process.execPath, args, { env, timeoutMs: CERTS_TIMEOUT_MS, timeFile: join(dir, `time-${label}.txt`) });
  const preloadKiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : NaN;
  const preloadMB = Number.isFinite(preloadKiB) ? round(preloadKiB / 1024) : null;
  let issued = 0;
  let error = failure(r, 'certs renew');
  try {
    const doc = JSON.parse(r.stdout) as { results?: Array<{ domain: string; action: string; reason?: string; error?: { message: string } }> };
    const results = doc.results ?? [];
    issued = results.filter((x) => x.action === 'issued').length;
    const bad = results.find((x) => x.action !== 'issued');
    if (!error && (issued !== N || bad)) error = `expected ${N} issued, got ${issued}${bad ? `; first other: ${bad.domain} ${bad.action}: ${bad.error?.message ?? bad.reason ?? ''}` : ''}`;
  } catch (e) {
    error ??= `stdout is not one JSON document (${(e as Error).message}); stderr: ${tail(r.stderr)}`;
  }
  const peakKiB = r.peakRssKiB ?? (Number.isFinite(preloadKiB) ? preloadKiB : null);
  return {
    wallMs: error ? null : r.wallMs,
    peakRssMB: peakKiB === null ? null : round(peakKiB / 1024),
    peakRssMBPreload: preloadMB,
    issued,
    ...(error ? { error } : {}),
    command,
  };
}

// ---------------------------------------------------------------------------------------------
// certbot
// ---------------------------------------------------------------------------------------------

/** --config-dir/--work-dir/--logs-dir under `base` (created). */
function certbotDirs(base: string): string[] {
  for (const d of ['config', 'work', 'logs']) mkdirSync(join(base, d), { recursive: true });
  return ['--config-dir', join(base, 'config'), '--work-dir', join(base, 'work'), '--logs-dir', join(base, 'logs')];
}

function certbotEnv(pebble: PebbleInstance): NodeJS.ProcessEnv {
  // requests (used by certbot's acme client) trusts exactly this bundle: Pebble's HTTPS CA.
  return { ...process.env, REQUESTS_CA_BUNDLE: pebble.caFile };
}

/** Lineages whose archive holds at least `version` certificates. */
function certbotLineagesAt(base: string, hosts: string[], version: number): number {
  const archive = join(base, 'config', 'archive');
  return hosts.filter((h) => existsSync(join(archive, h, `cert${version}.pem`))).length;
}

function certonlyArgs(pebble: PebbleInstance, httpPort: number, base: string, address: string): string[] {
  return [
    'certonly', '--standalone',
    '--http-01-port', String(httpPort), '--http-01-address', address,
    '--server', pebble.directoryUrl,
    ...certbotDirs(base),
    '--agree-tos', '-m', EMAIL, '--no-eff-email', '--non-interactive',
    '--key-type', 'ecdsa', '--elliptic-curve', 'secp256r1',
  ];
}

/**
 * The certbot lineages the renewal is timed on. certbot takes ~3.5 s per `certonly` (1.5 s of
 * Python start, then fixed 1 s polling sleeps), so 50 in a row would take most of the time budget.
 * With SHARDS > 1: the first name registers the account in the main config dir; then SHARDS
 * sequences run side by side, shard k on 127.0.0.(k+1):P (challtestsrv answers that address for
 * its names) with its own config dir seeded with that account, since certbot locks its config
 * dir. Afterwards each shard's archive/, live/ (relative symlinks, kept verbatim) and renewal/*.conf
 * (absolute paths and http01_address rewritten to the main dir and 127.0.0.1) are moved into the
 * main config dir and the A records removed: the result is what 50 sequential runs would leave,
 * one account, every lineage on 127.0.0.1:P. BENCH_ACME_CERTBOT_SHARDS=1 runs them sequentially.
 */
async function certbotIssueAll(dir: string, pebble: PebbleInstance, dns: ChallTestSrvInstance, httpPort: number, hosts: string[], shards: number): Promise<{ wallMs: number; error?: string; command: string }> {
  const mainBase = join(dir, 'certbot');
  const env = certbotEnv(pebble);
  const command = `REQUESTS_CA_BUNDLE=${pebble.caFile} ${CERTBOT} ${certonlyArgs(pebble, httpPort, mainBase, '127.0.0.1').join(' ')} -d b<i>.bench.test` +
    (shards > 1 ? ` (first name alone, then ${shards} sequences side by side on 127.0.0.1..${shards} with their own dirs, merged)` : '');
  const t0 = performance.now();
  let done = 0;
  const one = async (base: string, address: string, host: string): Promise<void> => {
    const r = await run(CERTBOT, [...certonlyArgs(pebble, httpPort, base, address), '-d', host], { env, timeoutMs: CERTBOT_ONE_TIMEOUT_MS });
    const f = failure(r, `certbot certonly -d ${host} (${address})`);
    if (f) throw new Error(f);
    if (++done % 10 === 0) log(`certbot certonly: ${done}/${hosts.length}`);
  };
  const shardHosts: string[][] = Array.from({ length: shards }, () => []);
  try {
    const [firstHost, ...rest] = hosts as [string, ...string[]];
    await one(mainBase, '127.0.0.1', firstHost);
    rest.forEach((h, i) => shardHosts[i % shards]!.push(h));
    const bases = shardHosts.map((_, k) => (k === 0 ? mainBase : join(dir, `certbot-shard${k}`)));
    for (let k = 1; k < shards; k++) {
      certbotDirs(bases[k]!);
      cpSync(join(mainBase, 'config', 'accounts'), join(bases[k]!, 'config', 'accounts'), { recursive: true });
      for (const h of shardHosts[k]!) await dns.addA(h, [`127.0.0.${k + 1}`]);
    }
    await Promise.all(shardHosts.map(async (list, k) => {
      for (const h of list) await one(bases[k]!, `127.0.0.${k + 1}`, h);
    }));
    for (let k = 1; k < shards; k++) mergeCertbotShard(bases[k]!, mainBase, shardHosts[k]!);
    return { wallMs: performance.now() - t0, command };
  } catch (err) {
    return { wallMs: performance.now() - t0, error: (err as Error).message, command };
  } finally {
    for (const list of shardHosts.slice(1)) for (const h of list) await dns.clearA(h).catch(() => undefined);
  }
}

function mergeCertbotShard(from: string, to: string, hosts: string[]): void {
  for (const h of hosts) {
    for (const sub of ['archive', 'live']) {
      cpSync(join(from, 'config', sub, h), join(to, 'config', sub, h), { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    }
    const conf = readFileSync(join(from, 'config', 'renewal', `${h}.conf`), 'utf8')
      .replaceAll(`${from}/`, `${to}/`)
      .replace(/^http01_address = .*$/m, 'http01_address = 127.0.0.1');
    writeFileSync(join(to, 'config', 'renewal', `${h}.conf`), conf);
  }
}

async function certbotRenewAll(dir: string, pebble: PebbleInstance, hosts: string[]): Promise<{ wallMs: number | null; peakRssMB: number | null; renewed: number; error?: string; command: string }> {
  const base = join(dir, 'certbot');
  const args = ['renew', '--force-renewal', '--no-random-sleep-on-renew', ...certbotDirs(base), '--non-interactive'];
  const command = `REQUESTS_CA_BUNDLE=${pebble.caFile} ${CERTBOT} ${args.join(' ')}`;
  const r = await run(CERTBOT, args, { env: certbotEnv(pebble), timeoutMs: CERTBOT_RENEW_TIMEOUT_MS, pollRss: true, timeFile: join(dir, 'time-certbot-renew.txt') });
  const renewed = certbotLineagesAt(base, hosts, 2);
  let error = failure(r, 'certbot renew');
  if (!error && renewed !== hosts.length) error = `expected ${hosts.length} lineages renewed (archive/<name>/cert2.pem), found ${renewed}; ${tail(r.stdout || r.stderr)}`;
  return { wallMs: error ? null : r.wallMs, peakRssMB: r.peakRssKiB === null ? null : round(r.peakRssKiB / 1024), renewed, ...(error ? { error } : {}), command };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const problem = cliProblem(CLI, ROOT, log);
  if (problem) throw new Error(problem);
  if (!existsSync(CERTBOT)) log(`${CERTBOT} not found (Debian package certbot): only certs is measured`);
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-bench-acme-'));
  let dns: ChallTestSrvInstance | undefined;
  let pebble: PebbleInstance | undefined;
  const hosts = names(N);
  const rssMethodCerts = HAVE_GNU_TIME ? '/usr/bin/time -v (ru_maxrss); preload getrusage as cross-check' : 'preload getrusage maxRSS (bench/rss-preload.mjs)';
  const rssMethodCertbot = HAVE_GNU_TIME ? '/usr/bin/time -v (ru_maxrss)' : 'polling VmHWM in /proc/<pid>/status every 20 ms';
  cleanup = async () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    await Promise.allSettled([pebble?.stop(), dns?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    dns = await startChallTestSrv();
    const httpPort = await freePort();
    pebble = await startPebble({ dnsServer: dns.dnsServer, httpPort, nonceReject: PEBBLE_SETTINGS.nonceReject, authzReuse: PEBBLE_SETTINGS.authzReuse, validityPeriodSeconds: 90 * 86_400 });
    log(`N=${N}; Pebble ${pebble.directoryUrl} (PEBBLE_VA_NOSLEEP=1, nonceReject 0%, authzReuse 0%), http-01 on 127.0.0.1:${httpPort}, challtestsrv DNS ${dns.dnsServer}; temp ${dir}`);

    // --- certs ---------------------------------------------------------------------------------
    const certsLines: Array<{ concurrency: number; run: CertsRun }> = [];
    const [first] = CONCURRENCIES as [number, ...number[]];
    const issueCfg = writeCertsConfig(dir, pebble, dns, httpPort, hosts, first);
    log(`certs: issue ${N} (renew, concurrency ${first})`);
    const issue = await certsRenew(dir, issueCfg, false, 'certs-issue');
    emit({ bench: 'acme-issue', tool: 'certs', certs: N, concurrency: first, wallMs: issue.wallMs === null ? null : round(issue.wallMs), perCertMs: issue.wallMs === null ? null : round(issue.wallMs / N), peakRssMB: issue.peakRssMB, ...(issue.error ? { error: issue.error } : {}), command: issue.command });
    if (!issue.error) {
      for (const c of CONCURRENCIES) {
        const cfg = writeCertsConfig(dir, pebble, dns, httpPort, hosts, c);
        log(`certs: renew --force ${N} at concurrency ${c}`);
        const r = await certsRenew(dir, cfg, true, `certs-renew-c${c}`);
        certsLines.push({ concurrency: c, run: r });
        emit({
          bench: 'acme-renew', tool: 'certs', certs: N, concurrency: c,
          wallMs: r.wallMs === null ? null : round(r.wallMs), perCertMs: r.wallMs === null ? null : round(r.wallMs / N),
          peakRssMB: r.peakRssMB, peakRssMBPreload: r.peakRssMBPreload, rssMethod: rssMethodCerts,
          pebble: PEBBLE_SETTINGS, ...(r.error ? { error: r.error } : {}), command: r.command,
        });
        if (r.error) log(`certs (concurrency ${c}): ${r.error}`);
      }
    } else log(`certs issue: ${issue.error}`);

    // --- certbot -------------------------------------------------------------------------------
    let certbot: Awaited<ReturnType<typeof certbotRenewAll>> | { wallMs: null; peakRssMB: null; error: string } = { wallMs: null, peakRssMB: null, error: `${CERTBOT} not found` };
    if (existsSync(CERTBOT)) {
      log(`certbot: certonly × ${N} (${CERTBOT_SHARDS} at a time; not part of the comparison)`);
      const ci = await certbotIssueAll(dir, pebble, dns, httpPort, hosts, CERTBOT_SHARDS);
      emit({ bench: 'acme-issue', tool: 'certbot', certs: N, wallMs: round(ci.wallMs), perCertMs: round(ci.wallMs / N), shards: CERTBOT_SHARDS, note: `${N} certbot certonly processes, ${CERTBOT_SHARDS} at a time`, ...(ci.error ? { error: ci.error } : {}), command: ci.command });
      if (ci.error) {
        certbot = { wallMs: null, peakRssMB: null, error: ci.error };
        log(ci.error);
      } else {
        log(`certbot: renew --force-renewal over ${N} lineages`);
        certbot = await certbotRenewAll(dir, pebble, hosts);
        if (certbot.error) log(certbot.error);
      }
    }
    emit({
      bench: 'acme-renew', tool: 'certbot', certs: N, concurrency: 1,
      wallMs: certbot.wallMs === null ? null : round(certbot.wallMs), perCertMs: certbot.wallMs === null ? null : round(certbot.wallMs / N),
      peakRssMB: certbot.peakRssMB, rssMethod: rssMethodCertbot, pebble: PEBBLE_SETTINGS,
      ...(certbot.error ? { error: certbot.error } : {}), ...('command' in certbot ? { command: certbot.command } : {}),
    });

    // --- comparison ----------------------------------------------------------------------------
    const main = certsLines[0]?.run;
    const speedupAt = (r: CertsRun | undefined): number | null => (r?.wallMs && certbot.wallMs ? round(certbot.wallMs / r.wallMs, 2) : null);
    const speedup = speedupAt(main);
    const others = Object.fromEntries(certsLines.slice(1).map((l) => [`c${l.concurrency}`, speedupAt(l.run)]));
    const maxRss = certsLines.reduce<number | null>((m, l) => (l.run.peakRssMB === null ? m : Math.max(m ?? 0, l.run.peakRssMB)), issue.peakRssMB);
    emit({
      bench: 'acme-renew', certs: N, concurrency: certsLines[0]?.concurrency ?? first,
      speedup, target: MIN_SPEEDUP, met: speedup !== null && speedup >= MIN_SPEEDUP,
      ...(certsLines.length > 1 ? { speedupAtOtherConcurrency: others } : {}),
      certsPeakRssMB: maxRss, rssTarget: MAX_RSS_MB, rssMet: maxRss !== null && maxRss <= MAX_RSS_MB,
      pebble: PEBBLE_SETTINGS,
      ...(speedup === null ? { error: String(main?.error ?? issue.error ?? certbot.error ?? 'not measured') } : {}),
    });
  } finally {
    await cleanup();
  }
}

await main();
