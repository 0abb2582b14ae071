// Runs the real BIND (named) as an authoritative primary for one zone on a free 127.0.0.1 port,
// accepting TSIG-signed dynamic updates, so dns-01 code meets a real RFC 2136 server.
//
// Usage — always stop in finally (or t.after):
//   const dns = await startBind({ zone: 'test.', tsig: { name: 'certs-key', algorithm: 'hmac-sha256', secret } });
//   try { ... dns.host, dns.port ... } finally { await dns.stop(); }
//
// The zone has SOA, NS ns.<zone>, ns A 127.0.0.1 and a wildcard A 127.0.0.1 (every name in the
// zone resolves to loopback, e.g. for http-01 checks), plus `records` lines as written.
// named runs in the foreground (-g, logs on stderr) as the current user; `controls {}` keeps it
// off rndc's port 953, so several instances can run side by side.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { promises as dnsp } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import type { TsigAlgorithm } from '../../src/config/types.js';
import { freePort } from './ports.js';

export const NAMED_BIN = process.env.NAMED_BIN ?? '/usr/sbin/named';

export interface BindTsig {
  name: string;
  algorithm: TsigAlgorithm;
  /** Base64. */
  secret: string;
}

export interface BindOptions {
  /** e.g. "test." */
  zone: string;
  tsig: BindTsig;
  /** More keys allowed to update the zone (e.g. one per TSIG algorithm). */
  extraKeys?: BindTsig[];
  /** Extra zone file lines, relative to the zone origin, e.g. `txt IN TXT "x"`. */
  records?: string[];
  /** Budget for named to answer SOA; default 10000 ms. */
  startTimeoutMs?: number;
}

export interface BindInstance {
  host: '127.0.0.1';
  port: number;
  /** Without the trailing dot. */
  zone: string;
  tsig: BindTsig;
  dir: string;
  /** named's log so far (stderr); still available after stop(). */
  log(): string;
  /** SIGTERM, SIGKILL after 5 s; removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** A random base64 secret of `bytes` bytes, as `tsig-keygen` would make. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64');
}

const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort for a forgotten stop(): only synchronous work is possible here.
  process.on('exit', () => {
    for (const { child, dir } of live) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

export async function startBind(opts: BindOptions): Promise<BindInstance> {
  // freePort() checks TCP only and may race with other processes: a port named cannot bind gets a fresh one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt < 4 && err instanceof PortInUse) continue;
      throw err;
    }
  }
}

class PortInUse extends Error {}

async function udpFree(port: number): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

async function freeDnsPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort('127.0.0.1');
    if (await udpFree(port)) return port;
  }
  throw new Error('startBind: no port free for both TCP and UDP on 127.0.0.1 after 20 tries');
}

async function startOnce(opts: BindOptions): Promise<BindInstance> {
  const zone = opts.zone.replace(/\.$/, '');
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-bind-'));
  let child: ChildProcess | undefined;
  let stderr = '';
  let exited: Promise<void> = Promise.resolve();
  const entry = { child: undefined as unknown as ChildProcess, dir };
  try {
    const port = await freeDnsPort();
    const conf = join(dir, 'named.conf');
    const zoneFile = join(dir, `${zone}.zone`);
    await writeFile(conf, namedConf(dir, port, zone, zoneFile, [opts.tsig, ...(opts.extraKeys ?? [])]));
    await writeFile(zoneFile, zoneText(zone, opts.records ?? []));
    child = spawn(NAMED_BIN, ['-g', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const proc = child;
    entry.child = proc;
    live.add(entry);
    installExitHook();
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let spawnError: Error | undefined;
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', (err) => {
        spawnError = err;
        if (proc.pid === undefined) resolve();
      });
    });
    let gone = false;
    void exited.then(() => (gone = true));

    for (;;) {
      if (gone) {
        if (/address in use/i.test(stderr)) throw new PortInUse(stderr);
        throw new Error(`named did not start (${NAMED_BIN}): ${spawnError?.message ?? `exit ${proc.exitCode ?? proc.signalCode}`}\n${stderr}`);
      }
      if (/address in use/i.test(stderr)) throw new PortInUse(stderr);
      if (await answersSoa(port, zone)) break;
      if (Date.now() > deadline) throw new Error(`named did not answer a SOA query for ${zone} on 127.0.0.1:${port} within ${opts.startTimeoutMs ?? 10_000} ms:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }

    let stopping: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      zone,
      tsig: opts.tsig,
      dir,
      log: () => stderr,
      stop() {
        stopping ??= (async () => {
          try {
            await terminate(proc, exited);
          } finally {
            live.delete(entry);
            await rm(dir, { recursive: true, force: true });
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    if (child) await terminate(child, exited);
    live.delete(entry);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function answersSoa(port: number, zone: string): Promise<boolean> {
  const r = new dnsp.Resolver({ timeout: 200, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  try {
    await r.resolveSoa(zone);
    return true;
  } catch (err) {
    // Not listening yet (refused, no answer) or still loading the zone (SERVFAIL).
    if (['ECONNREFUSED', 'ETIMEOUT', 'ESERVFAIL', 'EREFUSED'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

function namedConf(dir: string, port: number, zone: string, zoneFile: string, keys: BindTsig[]): string {
  return [
    '# generated by test/helpers/bind.ts',
    'options {',
    `  directory "${dir}";`,
    `  pid-file "${join(dir, 'named.pid')}";`,
    `  session-keyfile "${join(dir, 'session.key')}";`,
    `  managed-keys-directory "${dir}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    '  recursion no;',
    '  notify no;',
    '  dnssec-validation no;',
    '};',
    'controls { };',
    ...keys.map((k) => `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`),
    `zone "${zone}." {`,
    '  type primary;',
    `  file "${zoneFile}";`,
    `  journal "${zoneFile}.jnl";`,
    `  allow-update { ${keys.map((k) => `key "${k.name}";`).join(' ')} };`,
    '};',
    '',
  ].join('\n');
}

function zoneText(zone: string, records: string[]): string {
  return [
    `$ORIGIN ${zone}.`,
    '$TTL 60',
    `@ IN SOA ns.${zone}. hostmaster.${zone}. 1 60 60 600 1`,
    `@ IN NS ns.${zone}.`,
    'ns IN A 127.0.0.1',
    '* IN A 127.0.0.1',
    ...records,
    '',
  ].join('\n');
}

async function terminate(proc: ChildProcess, exited: Promise<void>, graceMs = 5000): Promise<void> {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
  clearTimeout(timer);
  if (!timedOut) return;
  proc.kill('SIGKILL');
  await exited;
}
