// Runs the real Pebble ACME test CA (Debian's pebble 2.4: /usr/bin/pebble) and its companion
// pebble-challtestsrv (a mock DNS server with an HTTP management API) on 127.0.0.1 free ports, so
// ACME code is exercised against a real server: real JWS checks, nonces (some rejected on purpose),
// real http-01 / dns-01 validation, EAB, revocation.
//
// Usage — always stop in finally (or t.after), even when the test throws:
//   const dns = await startChallTestSrv();                      // A queries → 127.0.0.1
//   const httpPort = await freePort();                          // where your http-01 server listens
//   const pebble = await startPebble({ dnsServer: dns.dnsServer, httpPort });
//   try {
//     // trust pebble.caPem (its HTTPS certificate) for the ACME directory pebble.directoryUrl;
//     // trust await pebble.rootPem() (the ACME issuing root, new on every start) for issued chains.
//   } finally { await pebble.stop(); await dns.stop(); }
//
// Pebble's VA validates http-01 by fetching http://<name>:<httpPort>/.well-known/acme-challenge/…
// where <name> is resolved through `dnsServer`; challtestsrv answers every A query with 127.0.0.1
// unless told otherwise, so any `.test` name reaches a server on 127.0.0.1:<httpPort>. dns-01 TXT
// records are set with `dns.setTxt('_acme-challenge.a.test', value)`.
//
// Process model: each binary runs under a small /bin/sh watchdog in a process group of its own.
// The watchdog SIGTERMs the binary when its stdin pipe from the test process closes — on stop(),
// and also when the test process dies in any way (Ctrl-C, SIGKILL, a runner timeout), so nothing
// outlives its test. stop() closes that pipe, escalates to SIGKILL of the whole group after a
// bounded wait, awaits the exit and removes the temp dir. The children are unref'd: a forgotten
// stop() does not keep `node --test` alive, and a process 'exit' hook kills what is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { createCA, createLeaf, type Issued } from './pki.js';
import { freePort, waitForPort } from './ports.js';

export const PEBBLE_BIN = process.env.PEBBLE_BIN ?? '/usr/bin/pebble';
export const CHALLTESTSRV_BIN = process.env.CHALLTESTSRV_BIN ?? '/usr/bin/pebble-challtestsrv';

// ---------------------------------------------------------------------------------------------
// Shared process plumbing
// ---------------------------------------------------------------------------------------------

/** Keeps the last `max` lines a process wrote (stdout and stderr interleaved). */
class LineLog {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max = 300) {}
  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
  text(last = this.max): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.slice(-last).join('\n');
  }
}

interface Proc {
  /** The /bin/sh watchdog (leader of the process group holding the binary). */
  child: ChildProcess;
  exited: Promise<void>;
  log: LineLog;
  /** Aborts when the process exits (or could not be spawned). */
  early: AbortSignal;
}

/** A started process group (child is set once spawned) and the temp dir to remove with it. */
interface LiveEntry {
  child?: ChildProcess;
  dir?: string;
}

const live = new Set<LiveEntry>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A forgotten stop(): only synchronous work is possible here. (Even without this hook the
  // watchdog stops the binary once our end of its stdin pipe closes.)
  process.on('exit', () => {
    for (const { child, dir } of live) {
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) killGroup(child.pid, 'SIGKILL');
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Runs "$@" in the background and SIGTERMs it as soon as its stdin (a pipe from this process)
 * reaches EOF: when stop() closes the pipe, and also when this process dies in any way (SIGKILL,
 * a test-runner timeout, Ctrl-C), so no Pebble outlives its test. The shell exits only after the
 * binary has, with its exit status, so 'exit' of the shell means the ports are free again; it
 * removes `cleanDir` (if given) on the way out unless a `.keep` file is in it.
 * (An asynchronous list's stdin is /dev/null in sh, hence the pipe is kept on fd 3.)
 */
const WATCHDOG = [
  'exec 3<&0 </dev/null',
  '"$@" 3<&- &',
  'pid=$!',
  '{ read -r _ <&3; kill -TERM "$pid" 2>/dev/null; } &',
  'watcher=$!',
  // The shell's own output must not go to pipes that may be closed: dash reports "Terminated"
  // for the binary on stderr, and with our end gone that SIGPIPE would kill it before cleanup.
  'exec 3<&- >/dev/null 2>&1',
  'wait "$pid"; status=$?',
  'kill "$watcher" 2>/dev/null',
  // The temp dir, also when the test process died without stop(); restart() leaves a .keep in it.
  'if [ -n "$WATCHDOG_CLEAN_DIR" ] && [ ! -e "$WATCHDOG_CLEAN_DIR/.keep" ]; then rm -rf "$WATCHDOG_CLEAN_DIR"; fi',
  'exit "$status"',
].join('\n');

function spawnLogged(bin: string, args: string[], env: NodeJS.ProcessEnv, log: LineLog, cleanDir?: string): Proc {
  // detached: a process group of its own (sh, the binary, the watcher), killed as a whole if the
  // binary ignores SIGTERM.
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'pebble-watchdog', bin, ...args], { env: { ...env, WATCHDOG_CLEAN_DIR: cleanDir ?? '' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => log.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => log.push(d));
  // Nothing here keeps the test process alive: a forgotten stop() must not hang `node --test`.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') log.push(`[stdin] ${err.message}\n`);
  });
  const controller = new AbortController();
  // 'exit' never comes when the shell could not be spawned; 'error' does instead.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      controller.abort(new Error(`${bin} exited (code ${code}, signal ${signal})`));
      resolve();
    });
    child.on('error', (err) => {
      log.push(`[spawn error] ${err.message}\n`);
      if (child.pid === undefined) {
        controller.abort(new Error(`${bin} could not be started: ${err.message}`));
        resolve();
      }
    });
  });
  return { child, exited, log, early: controller.signal };
}

/** Closes the watchdog's stdin (the binary gets SIGTERM); SIGKILLs the group after graceMs. */
async function terminate(p: Proc, graceMs = 5000): Promise<void> {
  const { child, exited } = p;
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    await exited;
    return;
  }
  child.stdin?.end();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (!timedOut) return;
  killGroup(child.pid, 'SIGKILL');
  // The child was unref'd at spawn: with nothing else pending, the event loop would end before
  // its 'exit' arrives and node:test would cancel the waiting hook. Waiting for it is the point now.
  child.ref();
  await exited;
}

/** A start failure caused by a port somebody else took between freePort() and the bind. */
class BindError extends Error {}

function startError(what: string, err: unknown, log: LineLog): Error {
  const detail = log.text(40);
  if (/address already in use/i.test(detail)) return new BindError(`${what} could not bind its ports:\n${detail}`);
  return new Error(`${what} did not start: ${(err as Error).message}\n${detail}`, { cause: err });
}

async function withBindRetries<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt < attempts && err instanceof BindError) continue;
      throw err;
    }
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP(S) request with a bounded time; `ca` (PEM) is the only trust anchor for https URLs.
 * No keep-alive, so nothing lingers after a test.
 */
export function request(url: string, opts: { method?: string; ca?: string; body?: string | Buffer; headers?: http.OutgoingHttpHeaders; timeoutMs?: number } = {}): Promise<SimpleResponse> {
  const u = new URL(url);
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const reqOpts: https.RequestOptions = { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: timeoutMs };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    const req = u.protocol === 'https:'
      ? https.request(u, { ...reqOpts, ca: opts.ca }, onResponse)
      : http.request(u, reqOpts, onResponse);
    req.on('timeout', () => req.destroy(new Error(`${reqOpts.method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls `check` (which throws while not ready) until it passes, the deadline, or `signal` aborts. */
async function pollUntil(what: string, deadline: number, signal: AbortSignal, check: () => Promise<void>): Promise<void> {
  let lastError: unknown;
  for (;;) {
    signal.throwIfAborted();
    try {
      await check();
      return;
    } catch (err) {
      signal.throwIfAborted();
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what} not ready in time (last: ${lastError instanceof Error ? lastError.message : String(lastError)})`, { cause: lastError });
    }
    await pause(Math.min(25, Math.max(0, deadline - Date.now())), signal);
  }
}

// ---------------------------------------------------------------------------------------------
// pebble-challtestsrv
// ---------------------------------------------------------------------------------------------

export interface ChallTestSrvOptions {
  /** Answer for A queries without a specific mock; default 127.0.0.1. '' answers none. */
  defaultIPv4?: string;
  /** Answer for AAAA queries without a specific mock; default '' (none), so clients use IPv4. */
  defaultIPv6?: string;
  /** Budget for the DNS and management ports to accept connections; default 10000 ms. */
  startTimeoutMs?: number;
}

export interface ChallTestSrvInstance {
  /** "127.0.0.1:P": pass to Pebble's -dnsserver and to dns.Resolver#setServers. */
  dnsServer: string;
  dnsPort: number;
  /** http://127.0.0.1:Q — the management API. */
  managementUrl: string;
  /** Process group id (the watchdog shell's pid); challtestsrv runs in that group. */
  pid: number;
  /**
   * Adds a TXT value for `host` (e.g. "_acme-challenge.a.test"; the trailing dot is optional here,
   * though challtestsrv itself only matches TXT mocks set with it).
   * challtestsrv keeps every value added for a name (as for a wildcard plus its base name) until
   * clearTxt(host).
   */
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  /** Mocks A records for `host` (instead of defaultIPv4). */
  addA(host: string, addresses: string[]): Promise<void>;
  clearA(host: string): Promise<void>;
  addAAAA(host: string, addresses: string[]): Promise<void>;
  clearAAAA(host: string): Promise<void>;
  /** CNAME for `host` → `target`. */
  setCname(host: string, target: string): Promise<void>;
  clearCname(host: string): Promise<void>;
  /** CAA policies for `host`, e.g. [{ tag: 'issue', value: 'ca.test' }]. */
  addCaa(host: string, policies: Array<{ tag: string; value: string }>): Promise<void>;
  clearCaa(host: string): Promise<void>;
  /** Every query for `host` answers SERVFAIL (until clearServfail). */
  setServfail(host: string): Promise<void>;
  clearServfail(host: string): Promise<void>;
  /** DNS queries received for `host`: [{ Question: { Name: 'x.test.', Qtype: 16, Qclass: 1 } }, …]. */
  dnsRequestHistory(host: string): Promise<unknown[]>;
  /** POSTs a JSON body to a management endpoint (e.g. '/add-caa'); throws on a non-2xx status. */
  management(path: string, body: Record<string, unknown>): Promise<SimpleResponse>;
  /** Last lines of challtestsrv's output. */
  logs(): string;
  /** SIGTERM (SIGKILL after 5 s), await exit. Idempotent. */
  stop(): Promise<void>;
}

function fqdn(host: string): string {
  return host.endsWith('.') ? host : `${host}.`;
}

export function startChallTestSrv(opts: ChallTestSrvOptions = {}): Promise<ChallTestSrvInstance> {
  return withBindRetries(() => startChallTestSrvOnce(opts));
}

async function startChallTestSrvOnce(opts: ChallTestSrvOptions): Promise<ChallTestSrvInstance> {
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  const [dnsPort, mgmtPort] = [await freePort(), await freePort()];
  const args = [
    '-dns01', `127.0.0.1:${dnsPort}`,
    '-management', `127.0.0.1:${mgmtPort}`,
    '-http01', '',
    '-https01', '',
    '-tlsalpn01', '',
    '-defaultIPv4', opts.defaultIPv4 ?? '127.0.0.1',
    '-defaultIPv6', opts.defaultIPv6 ?? '',
  ];
  const log = new LineLog();
  const p = spawnLogged(CHALLTESTSRV_BIN, args, process.env, log);
  const entry = { child: p.child };
  if (p.child.pid !== undefined) live.add(entry);
  installExitHook();
  try {
    const left = (): number => Math.max(1, deadline - Date.now());
    await Promise.all([
      waitForPort('127.0.0.1', dnsPort, left(), { signal: p.early }),
      waitForPort('127.0.0.1', mgmtPort, left(), { signal: p.early }),
    ]);
    // TCP and UDP DNS listeners start separately: wait for a real (UDP) answer too. Any answer,
    // even NXDOMAIN or NODATA (defaultIPv4 ''), proves the server is up; only a timeout or a
    // refused port means it is not.
    await pollUntil(`challtestsrv DNS 127.0.0.1:${dnsPort}`, deadline, p.early, async () => {
      const resolver = new Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      try {
        await resolver.resolve4('challtestsrv-ready.test');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTFOUND' && code !== 'ENODATA') throw err;
      }
    });
  } catch (err) {
    await terminate(p);
    live.delete(entry);
    throw startError(`pebble-challtestsrv (${CHALLTESTSRV_BIN})`, p.early.aborted ? p.early.reason : err, log);
  }

  const managementUrl = `http://127.0.0.1:${mgmtPort}`;
  const management = async (path: string, body: Record<string, unknown>): Promise<SimpleResponse> => {
    const res = await request(`${managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (res.status < 200 || res.status > 299) {
      throw new Error(`challtestsrv ${path} ${JSON.stringify(body)}: HTTP ${res.status} ${res.body.toString('utf8')}`);
    }
    return res;
  };
  let stopping: Promise<void> | undefined;
  return {
    dnsServer: `127.0.0.1:${dnsPort}`,
    dnsPort,
    managementUrl,
    pid: p.child.pid as number,
    management,
    async setTxt(host, value) { await management('/set-txt', { host: fqdn(host), value }); },
    async clearTxt(host) { await management('/clear-txt', { host: fqdn(host) }); },
    async addA(host, addresses) { await management('/add-a', { host: fqdn(host), addresses }); },
    async clearA(host) { await management('/clear-a', { host: fqdn(host) }); },
    async addAAAA(host, addresses) { await management('/add-aaaa', { host: fqdn(host), addresses }); },
    async clearAAAA(host) { await management('/clear-aaaa', { host: fqdn(host) }); },
    async setCname(host, target) { await management('/set-cname', { host: fqdn(host), target: fqdn(target) }); },
    async clearCname(host) { await management('/clear-cname', { host: fqdn(host) }); },
    async addCaa(host, policies) { await management('/add-caa', { host: fqdn(host), policies }); },
    async clearCaa(host) { await management('/clear-caa', { host: fqdn(host) }); },
    async setServfail(host) { await management('/set-servfail', { host: fqdn(host) }); },
    async clearServfail(host) { await management('/clear-servfail', { host: fqdn(host) }); },
    async dnsRequestHistory(host) {
      // History is keyed by the name without its trailing dot (unlike TXT mocks, keyed with it).
      const res = await management('/dns-request-history', { host: host.replace(/\.$/, '') });
      const text = res.body.toString('utf8').trim();
      return text ? (JSON.parse(text) as unknown[]) ?? [] : [];
    },
    logs: () => log.text(),
    stop() {
      stopping ??= terminate(p).finally(() => live.delete(entry));
      return stopping;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Pebble
// ---------------------------------------------------------------------------------------------

export interface PebbleOptions {
  /** host:port Pebble's VA resolves names through (-dnsserver), e.g. challtestsrv's dnsServer. */
  dnsServer: string;
  /** Port Pebble's VA connects to for http-01 (http://<name>:httpPort/.well-known/…). */
  httpPort: number;
  /** Port for tls-alpn-01; default: a free port nobody listens on. */
  tlsPort?: number;
  /** kid → base64url HMAC key; when given, externalAccountBindingRequired is true. */
  eab?: Record<string, string>;
  /** certificateValidityPeriod in seconds (Pebble's default is 5 years). */
  validityPeriodSeconds?: number;
  /** PEBBLE_WFE_NONCEREJECT: percentage of good nonces rejected with badNonce; default 10. */
  nonceReject?: number;
  /** PEBBLE_CHAIN_LENGTH: 1 = leaf + one intermediate (Pebble's default), n = n intermediates. */
  chainLength?: number;
  /** PEBBLE_AUTHZREUSE percentage; default 0 so every order is really validated. */
  authzReuse?: number;
  /** PEBBLE_ALTERNATE_ROOTS: number of extra issuance hierarchies (alternate chains). */
  alternateRoots?: number;
  /** Extra environment for pebble (e.g. PEBBLE_VA_ALWAYS_VALID: '1'). */
  env?: Record<string, string>;
  /** Budget for the directory and management API to answer; default 15000 ms. */
  startTimeoutMs?: number;
}

export interface PebbleCertStatus {
  status: 'Valid' | 'Revoked';
  /** As Pebble prints it: lowercase hex, no leading zeros. */
  serial: string;
  /** The issued certificate (leaf only). */
  certificatePem: string;
  /** RFC 5280 reason code, present when revoked. */
  reason?: number;
  revokedAt?: Date;
}

export interface PebbleInstance {
  /** https://127.0.0.1:P/dir */
  directoryUrl: string;
  /** https://127.0.0.1:M — the management API (same HTTPS certificate as the ACME port). */
  managementUrl: string;
  port: number;
  managementPort: number;
  httpPort: number;
  tlsPort: number;
  /**
   * Path of a PEM file (in the instance's temp dir, removed by stop()) holding the test CA that
   * signed Pebble's HTTPS certificate. The CA is generated once per process and shared by every
   * instance, so one trusting agent reaches them all.
   */
  caFile: string;
  /** The same CA as PEM text: trust it (only it) to talk to the directory. */
  caPem: string;
  /**
   * Pebble's HTTPS server certificate (SANs 127.0.0.1, ::1, localhost; signed by caPem) and key:
   * fronts such as the ARI proxy reuse them so clients trust one CA for both.
   */
  tls: { certPem: string; keyPem: string };
  /** The EAB keys the instance was started with (empty when EAB is not required). */
  eab: Record<string, string>;
  /** Process group id (the watchdog shell's pid); Pebble itself runs in that group. Changes on restart(). */
  pid(): number;
  /** GET <mgmt>/roots/0: the ACME issuing root, new on every (re)start. */
  rootPem(): Promise<string>;
  /** GET <mgmt>/intermediates/0: the intermediate that signs leaves (with chainLength 1). */
  intermediatePem(): Promise<string>;
  /**
   * GET <mgmt>/cert-status-by-serial/<serial>; `serialHex` in any case, with or without leading
   * zeros or colons. null when Pebble does not know the serial (HTTP 404).
   */
  certStatusBySerial(serialHex: string): Promise<PebbleCertStatus | null>;
  /** GET any management path (e.g. '/root-keys/0'). */
  managementGet(path: string): Promise<SimpleResponse>;
  /**
   * Stops and starts Pebble again on the same ports with the same config: all ACME state
   * (accounts, orders, issued certs) and the issuing hierarchy are new.
   */
  restart(): Promise<void>;
  /** Last lines of Pebble's output, for failure messages. */
  logs(): string;
  /** SIGTERM (SIGKILL after 5 s), await exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The CA and server certificate for Pebble's HTTPS ports, generated once per process at first use
 * and shared by every instance (and ARI front): acme-client's HTTPS agent is global to its axios
 * instance, so one trusted CA must cover every Pebble a test file starts.
 */
let identity: Promise<{ ca: Issued; server: Issued }> | undefined;
function httpsIdentity(): Promise<{ ca: Issued; server: Issued }> {
  identity ??= (async () => {
    const ca = await createCA({ cn: 'certs test Pebble HTTPS CA' });
    const server = await createLeaf({ cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1', '::1'], issuer: ca });
    return { ca, server };
  })();
  return identity;
}

export function startPebble(opts: PebbleOptions): Promise<PebbleInstance> {
  return withBindRetries(() => startPebbleOnce(opts));
}

async function startPebbleOnce(opts: PebbleOptions): Promise<PebbleInstance> {
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-pebble-'));
  const entry: LiveEntry = { dir };
  live.add(entry);
  installExitHook();
  let current: Proc | undefined;
  try {
    const { ca, server } = await httpsIdentity();
    const caFile = join(dir, 'https-ca.pem');
    const certFile = join(dir, 'https-cert.pem');
    const keyFile = join(dir, 'https-key.pem');
    await writeFile(caFile, ca.pem);
    await writeFile(certFile, server.pem);
    await writeFile(keyFile, server.keyPem, { mode: 0o600 });

    const port = await freePort();
    const managementPort = await freePort();
    const tlsPort = opts.tlsPort ?? await freePort();
    const eab = opts.eab ?? {};
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: certFile,
        privateKey: keyFile,
        httpPort: opts.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: opts.eab !== undefined,
        externalAccountMACKeys: eab,
        ...(opts.validityPeriodSeconds !== undefined ? { certificateValidityPeriod: opts.validityPeriodSeconds } : {}),
      },
    };
    const configFile = join(dir, 'pebble-config.json');
    await writeFile(configFile, JSON.stringify(config, null, 2));

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: String(opts.nonceReject ?? 10),
      PEBBLE_AUTHZREUSE: String(opts.authzReuse ?? 0),
      ...(opts.chainLength !== undefined ? { PEBBLE_CHAIN_LENGTH: String(opts.chainLength) } : {}),
      ...(opts.alternateRoots !== undefined ? { PEBBLE_ALTERNATE_ROOTS: String(opts.alternateRoots) } : {}),
      ...opts.env,
    };
    const args = ['-config', configFile, '-dnsserver', opts.dnsServer];
    const directoryUrl = `https://127.0.0.1:${port}/dir`;
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    const log = new LineLog();

    const launch = async (): Promise<Proc> => {
      const p = spawnLogged(PEBBLE_BIN, args, env, log, dir);
      entry.child = p.child;
      const deadline = Date.now() + timeoutMs;
      try {
        await Promise.all([
          pollUntil(`Pebble directory ${directoryUrl}`, deadline, p.early, async () => {
            const res = await request(directoryUrl, { ca: ca.pem, timeoutMs: 2000 });
            if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
          }),
          pollUntil(`Pebble management ${managementUrl}`, deadline, p.early, async () => {
            const res = await request(`${managementUrl}/roots/0`, { ca: ca.pem, timeoutMs: 2000 });
            if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
          }),
        ]);
      } catch (err) {
        await terminate(p);
        throw startError(`pebble (${PEBBLE_BIN} ${args.join(' ')})`, p.early.aborted ? p.early.reason : err, log);
      }
      return p;
    };
    current = await launch();

    const managementGet = (path: string): Promise<SimpleResponse> => request(`${managementUrl}${path}`, { ca: ca.pem });
    const getPem = async (path: string): Promise<string> => {
      const res = await managementGet(path);
      if (res.status !== 200) throw new Error(`Pebble management GET ${path}: HTTP ${res.status}`);
      return res.body.toString('utf8');
    };
    let stopping: Promise<void> | undefined;
    let restarting: Promise<void> | undefined;
    return {
      directoryUrl,
      managementUrl,
      port,
      managementPort,
      httpPort: opts.httpPort,
      tlsPort,
      caFile,
      caPem: ca.pem,
      tls: { certPem: server.pem, keyPem: server.keyPem },
      eab,
      pid: () => current?.child.pid as number,
      rootPem: () => getPem('/roots/0'),
      intermediatePem: () => getPem('/intermediates/0'),
      managementGet,
      async certStatusBySerial(serialHex) {
        const serial = normaliseSerial(serialHex);
        const res = await managementGet(`/cert-status-by-serial/${serial}`);
        if (res.status === 404) return null;
        if (res.status !== 200) throw new Error(`Pebble cert-status-by-serial/${serial}: HTTP ${res.status} ${res.body.toString('utf8')}`);
        const raw = JSON.parse(res.body.toString('utf8')) as { Status: string; Serial: string; Certificate: string; Reason?: number; RevokedAt?: string };
        if (raw.Status !== 'Valid' && raw.Status !== 'Revoked') throw new Error(`Pebble cert-status-by-serial/${serial}: unexpected status ${raw.Status}`);
        const out: PebbleCertStatus = { status: raw.Status, serial: raw.Serial, certificatePem: raw.Certificate };
        if (raw.Status === 'Revoked') {
          if (raw.Reason !== undefined) out.reason = raw.Reason;
          if (raw.RevokedAt) out.revokedAt = new Date(raw.RevokedAt);
        }
        return out;
      },
      restart() {
        if (stopping) return Promise.reject(new Error('pebble restart after stop()'));
        restarting ??= (async () => {
          try {
            // The watchdog removes the temp dir when Pebble exits, unless told to keep it.
            const keep = join(dir, '.keep');
            await writeFile(keep, '');
            try {
              if (current) await terminate(current);
            } finally {
              await rm(keep, { force: true });
            }
            current = undefined;
            // The ports were ours a moment ago; a bind failure here is reported, not retried.
            current = await launch();
          } finally {
            restarting = undefined;
          }
        })();
        return restarting;
      },
      logs: () => log.text(),
      stop() {
        stopping ??= (async () => {
          try {
            await restarting?.catch(() => undefined);
            if (current) await terminate(current);
          } finally {
            live.delete(entry);
            await rm(dir, { recursive: true, force: true });
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    if (current) await terminate(current);
    live.delete(entry);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Pebble prints serials as Go's %x of a big.Int: lowercase, no leading zeros, no colons. */
export function normaliseSerial(serialHex: string): string {
  const hex = serialHex.replace(/[:\s]/g, '').toLowerCase().replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error(`serial "${serialHex}": expected hexadecimal digits`);
  return hex;
}
