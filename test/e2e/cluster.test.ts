/**
 * Several daemons on one PostgreSQL (issue 16), end to end: three `certs daemon` processes of the
 * built CLI, nodes a, b and c, each with its own dataDir and its own nginx on 127.0.0.2, .3 and .4
 * (one port), sharing one database, one Pebble (behind a recording proxy that counts orders) and
 * one SMTP server. Phases run one after another on fresh daemons:
 * - one managed domain served by the three nginx nodes: one order, all three serve it, one email;
 * - kill -9 of the node holding a certificate's lock mid-order: another node renews it;
 * - SIGSTOP of the holder past its lease, SIGCONT: its late writes are refused by the fence;
 * - 30,000 endpoints: each scanned exactly once in a cycle, counted from the stored scans.
 * Nothing sleeps to synchronise: waits are for log events or polled conditions, all bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type pg from 'pg';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { ordersCreated, startProxy, type Proxy } from '../helpers/acme-proxy.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf, daysFrom } from '../helpers/pki.js';
import { startTlsServer, type TlsServer } from '../helpers/scan-fixture.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { postgresSkip, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';
import { startDaemon, type Daemon } from '../helpers/daemon-process.js';
import { connectPg } from '../../src/store/pg/connect.js';
import { parsePgUrl } from '../../src/lib/pg-url.js';

const skip = postgresSkip();
const NODES = [
  { name: 'a', address: '127.0.0.2' },
  { name: 'b', address: '127.0.0.3' },
  { name: 'c', address: '127.0.0.4' },
] as const;
type Ev = Record<string, unknown>;

/** The leaf `address:port` serves for SNI `name`. */
function served(address: string, port: number, name: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: address, port, servername: name, rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? null;
      s.end();
      resolve(fp);
    });
    s.setTimeout(3000, () => s.destroy());
    s.once('error', () => resolve(null));
    s.once('close', () => resolve(null));
  });
}

/** Polls `check` every 200 ms until it is true; fails after `ms` with `what`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    // An error (the schema not created yet by the first daemon) is "not yet".
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('three daemons on one PostgreSQL', { skip }, () => {
  let cluster: StoreCluster;
  let dbUrl: string;
  let db: pg.Client;
  let env: AcmeEnv;
  let proxy: Proxy;
  let smtp: SmtpServerHandle;
  let expiring: TlsServer;
  const nginx: NginxInstance[] = [];
  let port = 0;
  let trustFile = '';
  const kek = randomBytes(32).toString('base64');
  let daemons: Daemon[] = [];
  const pgEnv = () => ({ CERTS_DATABASE_URL: dbUrl, CERTS_KEK: kek });

  const snippetDir = (node: string) => join(env.dir, `snippets-${node}`);
  const dataDir = (node: string) => join(env.dir, `data-${node}`);

  /** A node's config: its name and address, its nginx, the shared store; `domains` is the YAML list. */
  function writeNodeConfig(i: number, domains: string, phase: string, extra = ''): string {
    const n = NODES[i]!;
    const ngx = nginx[i]!;
    const file = join(env.dir, `${phase}-${n.name}.yaml`);
    writeFileSync(file, `dataDir: ${dataDir(n.name)}
acme:
  directory: ${proxy.url}
  caFile: ${env.pebble.caFile}
  email: ops@example.com
  agreeToTerms: true
  challenge: { type: http-01, standalone: { address: 127.0.0.1, port: ${env.httpPort} } }
  preflight: { enabled: false }
  timeoutMs: 10000
trust: { caFile: ${trustFile}, bundled: false, system: false }
scan: { revocation: false, timeoutMs: 5000 }
store: { engine: postgres, url: "\${env:CERTS_DATABASE_URL}", keyEncryptionKey: "\${env:CERTS_KEK}" }
node: { name: ${n.name}, addresses: [${n.address}] }
cluster: { leaseSeconds: 3, scanBatchSize: 1 }
daemon: { schedule: "*/6 * * * * *" }
nginx:
  snippetDir: ${snippetDir(n.name)}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
${extra}
domains:
${domains}
`);
    return file;
  }

  /** The daemons' recent events, for a failure message. */
  const recent = (): string => daemons.map((d, i) => `${NODES[i]!.name}: ${d.events.slice(-25).map((e) => JSON.stringify(e)).join('\n   ')}\n stderr: ${d.stderr().slice(-2000)}`).join('\n');
  /** The first daemon to see `pred`, or a failure naming what every daemon logged. */
  async function first(ds: readonly Daemon[], pred: (e: Ev) => boolean, ms: number, what: string): Promise<Daemon> {
    try {
      return await Promise.any(ds.map((d) => d.waitFor(pred, ms).then(() => d)));
    } catch {
      throw new Error(`no daemon logged ${what} within ${ms} ms:\n${recent()}`);
    }
  }

  function startAll(files: string[]): Daemon[] {
    daemons = files.map((f) => startDaemon(f, [], pgEnv()));
    return daemons;
  }

  async function stopAll(): Promise<void> {
    for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGCONT');
    for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGTERM');
    await Promise.all(daemons.map((d) => Promise.race([d.exited, new Promise((r) => setTimeout(r, 40_000))])));
    for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
    daemons = [];
  }

  const q = async <T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> => (await db.query<T>(sql, values)).rows;
  const newOrders = (): number => ordersCreated(proxy);
  const ordersFor = (name: string): number => ordersCreated(proxy, name);
  const renewEvent = (domain: string, re: RegExp) => (e: Ev): boolean => e['event'] === 'renew' && e['domain'] === domain && re.test(String(e['detail']));
  const issuedEvent = (domain: string) => (e: Ev): boolean => e['event'] === 'renew.result' && e['domain'] === domain && e['action'] === 'issued';

  before(async () => {
    cluster = await startStoreCluster();
    dbUrl = await cluster.newDatabase('cluster');
    db = await connectPg(parsePgUrl(dbUrl));
    env = await startAcmeEnv();
    proxy = await startProxy(env.pebble);
    smtp = await startSmtpServer();
    const now = new Date();
    const ca = await createCA({ cn: 'cluster test CA', notBefore: daysFrom(now, -30), notAfter: daysFrom(now, 400) });
    // A monitor-only endpoint 5 days from expiry: every node's notify step sees it.
    const soon = await createLeaf({ dns: ['expiring.test'], issuer: ca, notBefore: daysFrom(now, -80), notAfter: daysFrom(now, 5) });
    expiring = await startTlsServer(soon.pem, soon.keyPem);
    const placeholder = await createLeaf({ dns: ['cluster.test'], issuer: ca, notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 60) });
    writeFileSync(join(env.dir, 'old.pem'), placeholder.pem);
    writeFileSync(join(env.dir, 'old.key'), placeholder.keyPem, { mode: 0o600 });
    trustFile = join(env.dir, 'trust.pem');
    writeFileSync(trustFile, `${await env.pebble.rootPem()}${ca.pem}`);
    for (const n of NODES) {
      mkdirSync(snippetDir(n.name));
      writeFileSync(join(snippetDir(n.name), 'cluster.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    }
    for (const n of NODES) {
      const ngx = await startNginx({ address: n.address, ...(port ? { port } : {}), sites: [{ serverNames: ['cluster.test'], extra: `include ${snippetDir(n.name)}/cluster.test.conf;` }] });
      port = ngx.port;
      nginx.push(ngx);
    }
  });
  after(async () => {
    await stopAll().catch(() => undefined);
    writeFileSync(join(env.dir, 'release'), '');
    await db?.end().catch(() => undefined);
    await Promise.allSettled([...nginx.map((n) => n.stop()), proxy?.stop(), env?.stop(), smtp?.dispose(), expiring?.close()]);
    await cluster?.stop();
  });

  const clusterDomain = () => `  - { name: cluster.test, endpoints: [${NODES.map((n) => `{ host: cluster.test, port: ${port}, address: ${n.address} }`).join(', ')}] }
  - { name: expiring.test, managed: false, endpoints: [{ host: expiring.test, port: ${expiring.port}, address: 127.0.0.1 }] }`;

  it('one managed domain on three nginx nodes: ordered once, served by all three, one email', async () => {
    const files = NODES.map((_, i) => writeNodeConfig(i, clusterDomain(), 'one'));
    startAll(files);
    try {
      let fp = '';
      await until(async () => {
        const rows = await q<{ fingerprint256: string }>("SELECT fingerprint256 FROM issued WHERE lineage = 'cluster.test'");
        if (rows.length === 0) return false;
        fp = rows[0]!.fingerprint256;
        const seen = await Promise.all(NODES.map((n) => served(n.address, port, 'cluster.test')));
        return seen.every((s) => s === fp);
      }, 120_000, 'all three nginx nodes to serve the new certificate');
      // Every node ends a cycle after that, so each has judged and notified at least once since.
      const marks = daemons.map((d) => d.events.length);
      await Promise.all(daemons.map((d, i) => d.waitFor((e) => e['event'] === 'run.finished' && d.events.indexOf(e) >= marks[i]!, 60_000)));
      assert.equal(newOrders(), 1, 'one order at the CA');
      assert.deepEqual(await q("SELECT lineage, version FROM issued WHERE lineage = 'cluster.test'"), [{ lineage: 'cluster.test', version: 1 }]);
      const deps = await q<{ node: string; version: number; verified_at: string | null; stale_since: string | null }>("SELECT node, version, verified_at, stale_since FROM deployments WHERE lineage = 'cluster.test' ORDER BY node");
      assert.deepEqual(deps.map((d) => [d.node, d.version, d.verified_at !== null, d.stale_since]), [['a', 1, true, null], ['b', 1, true, null], ['c', 1, true, null]]);
      const mails = (await smtp.messages()).filter((m) => m.raw.includes('expiring.test'));
      assert.equal(mails.length, 1, `one email about expiring.test: ${mails.map((m) => m.subject).join(' | ')}`);
      const nodes = await q<{ name: string; last_run_outcome: string | null }>('SELECT name, last_run_outcome FROM nodes ORDER BY name');
      assert.deepEqual(nodes.map((n) => n.name), ['a', 'b', 'c']);
      const runs = await q<{ node: string }>('SELECT DISTINCT node FROM runs ORDER BY node');
      assert.deepEqual(runs.map((r) => r.node), ['a', 'b', 'c']);
    } finally {
      await stopAll();
    }
  });

  /** A managed domain (no nginx) whose pre hook blocks the first node that reaches it until `release` exists. */
  const blockingDomain = (name: string, release = 'release') => `  - name: ${name}
    endpoints: []
    nginx: false
    hooks:
      pre: [/bin/sh, -c, 'if mkdir ${join(env.dir, `${name}-first`)} 2>/dev/null; then while [ ! -e ${join(env.dir, release)} ]; do sleep 0.05; done; fi']
      timeoutMs: 600000`;

  /**
   * The daemon that took `lineage`'s lock, once it is inside its blocking pre hook: "renewing" is
   * logged just before the hook runs, and the hook's first-caller directory says it is in.
   */
  async function holderInHook(lineage: string): Promise<Daemon> {
    const holder = await first(daemons, renewEvent(lineage, /^renewing/), 60_000, `renewing ${lineage}`);
    await until(async () => existsSync(join(env.dir, `${lineage}-first`)), 30_000, 'the holder to enter its pre hook');
    return holder;
  }

  /** On every given node, current/ of `lineage` holds a certificate and the key that belongs to it, the recorded one. */
  async function assertCurrentMatches(lineage: string, nodes: readonly string[]): Promise<void> {
    const [row] = await q<{ fingerprint256: string }>('SELECT fingerprint256 FROM issued WHERE lineage = $1 ORDER BY version DESC LIMIT 1', [lineage]);
    for (const n of nodes) {
      const current = join(dataDir(n), 'certs', lineage, 'current');
      const cert = new X509Certificate(readFileSync(join(current, 'cert.pem')));
      assert.equal(cert.fingerprint256, row!.fingerprint256, `node ${n}: current is the recorded version`);
      assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(current, 'privkey.pem')))), `node ${n}: cert and key match`);
    }
  }

  it('kill -9 of the node holding a certificate lock mid-order: another node renews it within a lease and a cycle', async () => {
    const files = NODES.map((_, i) => writeNodeConfig(i, blockingDomain('kill.test'), 'kill'));
    startAll(files);
    try {
      const holder = await holderInHook('kill.test');
      const victim = daemons.indexOf(holder);
      holder.proc.kill('SIGKILL');
      await holder.exited;
      const others = daemons.filter((d) => d !== holder);
      const t0 = Date.now();
      await first(others, issuedEvent('kill.test'), 60_000, 'kill.test issued');
      assert.ok(Date.now() - t0 < 3_000 + 6_000 + 30_000, 'within lease + one cycle (plus the order)');
      // Each survivor finishes a cycle after the issue: the one that did not order materialises it.
      const marks = others.map((d) => d.events.length);
      await Promise.all(others.map((d, i) => d.waitFor((e) => e['event'] === 'run.finished' && d.events.indexOf(e) >= marks[i]!, 60_000)));
      assert.deepEqual(await q("SELECT version FROM issued WHERE lineage = 'kill.test'"), [{ version: 1 }], 'exactly one version');
      await assertCurrentMatches('kill.test', NODES.filter((_, i) => i !== victim).map((n) => n.name));
    } finally {
      await stopAll();
    }
  });

  it('SIGSTOP of the holder past its lease, then SIGCONT: its late writes are refused by the fencing token, nothing doubled', async () => {
    const files = NODES.map((_, i) => writeNodeConfig(i, blockingDomain('stop.test'), 'stop'));
    startAll(files);
    try {
      const holder = await holderInHook('stop.test');
      holder.proc.kill('SIGSTOP');
      const others = daemons.filter((d) => d !== holder);
      await first(others, issuedEvent('stop.test'), 60_000, 'stop.test issued');
      const versionsBefore = await q<{ version: number; fingerprint256: string }>("SELECT version, fingerprint256 FROM issued WHERE lineage = 'stop.test'");
      assert.equal(versionsBefore.length, 1);
      // Wake the paused node and let its hook return: it orders, and its record is refused.
      writeFileSync(join(env.dir, 'release'), '');
      holder.proc.kill('SIGCONT');
      await holder.waitFor(renewEvent('stop.test', /lease lost.*refused/), 60_000);
      assert.deepEqual(await q<{ version: number; fingerprint256: string }>("SELECT version, fingerprint256 FROM issued WHERE lineage = 'stop.test'"), versionsBefore, 'nothing doubled, nothing overwritten');
      assert.equal(ordersFor('stop.test'), 2, 'the paused node did order (the CA cannot be fenced), but recorded nothing');
      const name = NODES[daemons.indexOf(holder)]!.name;
      const archive = join(dataDir(name), 'certs', 'stop.test', 'archive');
      const local = existsSync(archive) ? readdirSync(archive) : [];
      assert.ok(local.every((v) => v === '1'), `no orphan version in node ${name}'s archive: ${local.join(',')}`);
      assert.equal((await q("SELECT 1 FROM renewal_state WHERE lineage = 'stop.test' AND failures > 0")).length, 0, 'no failure recorded by the late node');
    } finally {
      await stopAll();
    }
  });

  it('PostgreSQL restarted mid-cycle: the daemons reconnect, the renewal in flight completes once, the next cycle completes everywhere', async () => {
    const files = NODES.map((_, i) => writeNodeConfig(i, blockingDomain('pg.test', 'release-pg'), 'pg'));
    startAll(files);
    try {
      const holder = await holderInHook('pg.test');
      // The holder is mid-cycle (in its hook, its pool's connections open); the others cycle on.
      await db.end();
      await cluster.pg.restart();
      db = await connectPg(parsePgUrl(dbUrl));
      const marks = daemons.map((d) => d.events.length);
      writeFileSync(join(env.dir, 'release-pg'), '');
      await holder.waitFor(issuedEvent('pg.test'), 60_000);
      // Every daemon completes a cycle that started after the restart.
      await Promise.all(daemons.map((d, i) => d.waitFor((e) => e['event'] === 'run.finished' && d.events.indexOf(e) > marks[i]! && d.events.slice(marks[i]!, d.events.indexOf(e)).some((x) => x['event'] === 'run.start'), 60_000)));
      assert.deepEqual(await q("SELECT version FROM issued WHERE lineage = 'pg.test'"), [{ version: 1 }]);
      // Whatever failed while the server was down was logged (a cycle's error, a reconnect), never a crash.
      for (const d of daemons) assert.equal(d.proc.exitCode, null, 'every daemon still runs');
    } finally {
      await stopAll();
    }
  });

  it('30,000 endpoints across three daemons: each scanned exactly once in a cycle, from the stored scans', async () => {
    const N = 30_000;
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(`  - { name: e${i}.fleet.test, managed: false, endpoints: [{ host: e${i}.fleet.test, port: ${expiring.port}, address: 127.0.0.1 }] }`);
    const files = NODES.map((_, i) => writeNodeConfig(i, lines.join('\n'), 'fleet', ''));
    // No notifications for this one (30,000 warnings), and batches of 500 domains.
    // One fire, 30 s ahead, for all three: a repeating schedule lets a daemon that loaded its
    // 30,000 domains a little later (a loaded CI machine) miss the first fire and run the next
    // one alone, while the others are busy with theirs. Local time, as node-cron reads it.
    const fire = new Date(Math.ceil((Date.now() + 30_000) / 1000) * 1000);
    const once = `"${fire.getSeconds()} ${fire.getMinutes()} ${fire.getHours()} ${fire.getDate()} ${fire.getMonth() + 1} *"`;
    for (const f of files) writeFileSync(f, readFileSync(f, 'utf8').replace(/^notify:\n {2}email: .*\n/m, '').replace('scanBatchSize: 1', 'scanBatchSize: 500').replace('leaseSeconds: 3', 'leaseSeconds: 30').replace('"*/6 * * * * *"', once));
    const since = Date.now();
    startAll(files);
    try {
      await Promise.all(daemons.map((d) => d.waitFor((e) => e['event'] === 'daemon.started', 25_000)));
      assert.ok(Date.now() < fire.getTime() - 1000, `the three daemons were scheduled before their one fire at ${fire.toISOString()}`);
      const cycles = await Promise.all(daemons.map((d) => d.waitFor((e) => e['event'] === 'scan.cycle' && (e['batches'] as number) === 60, 240_000)));
      const key = cycles[0]!['cycle'];
      assert.ok(cycles.every((c) => c['cycle'] === key && c['complete'] === true), `all three on one cycle: ${JSON.stringify(cycles)}`);
      assert.equal(cycles.filter((c) => c['created'] === true).length, 1);
      assert.ok(cycles.every((c) => (c['mine'] as number) > 0), `every daemon scanned some: ${cycles.map((c) => c['mine']).join(', ')}`);
      const batches = await q<{ n: string; done: string; scanned: string }>('SELECT COUNT(*) AS n, COUNT(done_at) AS done, SUM(scanned) AS scanned FROM scan_batches WHERE cycle = $1', [key]);
      assert.deepEqual(batches.map((b) => [Number(b.n), Number(b.done), Number(b.scanned)]), [[60, 60, N]]);
      const [end] = await q<{ t: string }>('SELECT MAX(done_at) AS t FROM scan_batches WHERE cycle = $1', [key]);
      const per = await q<{ n: string; c: string }>(`SELECT n, COUNT(*) AS c FROM (SELECT e.id, COUNT(s.id) AS n FROM endpoints e LEFT JOIN scans s ON s.endpoint_id = e.id AND s.scanned_at >= $1 AND s.scanned_at <= $2
        WHERE e.domain LIKE '%.fleet.test' GROUP BY e.id) x GROUP BY n`, [since, Number(end!.t)]);
      assert.deepEqual(per.map((r) => [Number(r.n), Number(r.c)]), [[1, N]], 'every endpoint exactly one scan in the cycle');
    } finally {
      await stopAll();
    }
  });
});
