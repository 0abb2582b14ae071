/**
 * kill -9 during renew + deploy (issue #6): `certs renew --force` (which issues, switches
 * `current`, writes the snippet, runs nginx -t, reloads and verifies) is SIGKILLed at seeded
 * points, and after each one:
 *
 *   - `current` is a symlink to a complete archive/<n> whose cert and key match, and fullchain
 *     starts with the cert (temp dirs and half-made links never count as current);
 *   - every numbered archive directory is complete;
 *   - the configured nginx testCommand passes;
 *   - the SQLite database opens, and any lock the dead process held is its own and runs out
 *     within one lease;
 *   - the next `certs run --json` (not killed) finishes the work: nginx serves `current`'s
 *     certificate, which is the newest recorded version, deployed.
 *
 * Kill points: most are delays drawn from a seeded PRNG (mulberry32; the seed is in the test name,
 * CERTS_KILL_SEED overrides it), stratified over 0–110 % of one measured uninterrupted run; the rest
 * fire the moment stderr shows a step's log line. The delays are the experiment, not
 * synchronisation: the test waits on process exit and on the CLI's own output only.
 *
 * A killed process cannot release its leased locks; the next run would wait for the lease (one
 * minute) to run out. Instead of sleeping a minute per point, the test opens the store with a clock
 * one lease ahead and takes and releases each lock there, which succeeds only if the lease would
 * indeed have run out by then.
 *
 * Real Pebble (test/helpers/acme-env.ts), real nginx whose server block includes the snippet
 * (test/helpers/nginx.ts), the built CLI (test/helpers/cli.ts; npm run build first). Loopback only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { CLI_PATH, describeRun, runCli, type CliResult } from '../helpers/cli.js';
import { openStore } from '../../src/store/index.js';
import { LEASE_MS } from '../../src/service/lease.js';

const SEED = Number(process.env['CERTS_KILL_SEED'] ?? 0x5eed0006) >>> 0;
/** Points drawn from the PRNG over 0–110 % of one measured run. */
const TIMED_POINTS = 18;
/**
 * Points tied to the CLI's own log lines: killed the moment the line shows, or a seeded delay after
 * it within the measured gap to the next step (`gap`: from which line to which), which lands inside
 * steps no line marks (nginx -T, the snippet write, nginx -t, the reload; finalize and download).
 * `changeSnippet`: the run renders a different snippet than the one on disk, so the deploy writes
 * it and logs "wrote". Note that "wrote …" / "snippet unchanged" come after nginx -t, the reload
 * and the deployment row: the write itself, the test and the reload are reached by the delays.
 */
const EVENT_POINTS: Array<{ label: string; re: RegExp; gap?: [RegExp, RegExp]; changeSnippet?: boolean; optional?: boolean }> = [
  { label: 'ordered', re: /: ordered / },
  // Pebble may reuse a valid authorization, and then nothing is validated: the run finishes.
  { label: 'validated', re: /: validated /, optional: true },
  { label: 'issued version', re: /: issued version / },
  { label: 'snippet unchanged', re: /: snippet unchanged$/ },
  { label: 'wrote', re: /: wrote /, changeSnippet: true },
  { label: 'configuration tested and reloaded', re: /configuration tested and reloaded/ },
  { label: 'ordered + delay', re: /: ordered /, gap: [/: ordered /, /: issued version /] },
  { label: 'issued version + delay', re: /: issued version /, gap: [/: issued version /, /configuration tested and reloaded/] },
  { label: 'issued version + delay', re: /: issued version /, gap: [/: issued version /, /configuration tested and reloaded/], changeSnippet: true },
  { label: 'issued version + delay', re: /: issued version /, gap: [/: issued version /, /configuration tested and reloaded/], changeSnippet: true },
];
/**
 * CERTS_KILL_WAIT_LEASE=1: once, let the next run wait out the dead process's run lock for real
 * (about a minute) instead of freeing it with a clock one lease ahead.
 */
const WAIT_LEASE_ONCE = process.env['CERTS_KILL_WAIT_LEASE'] === '1';
/** The whole test, setup included, stays under this. */
const BUDGET_MS = WAIT_LEASE_ONCE ? 175_000 : 150_000;
/** A child that was never killed and never finished is killed here and fails the test. */
const CHILD_TIMEOUT_MS = 30_000;
const LINEAGE = 'k.test';

/** Phases in the order a forced renew + deploy passes them, each recognised by its first log line. */
const PHASES: Array<[string, RegExp]> = [
  ['renewing', /: renewing: /],
  ['ordered', /: ordered /],
  ['validated', /: validated /],
  ['issued (current switched)', /: issued version /],
  ['deploy done (snippet, nginx -t, reload, row)', /: (wrote |snippet unchanged$)/],
  ['verifying', /configuration tested and reloaded/],
];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Kill after a delay from the start, or `afterMs` after the first stderr line matching `re`, or never. */
type Trigger = { kind: 'timed'; delayMs: number } | { kind: 'event'; label: string; re: RegExp; afterMs?: number } | { kind: 'none' };

interface Line {
  atMs: number;
  text: string;
}

interface KilledRun {
  pid: number;
  lines: Line[];
  /** Lines the test had read when it sent SIGKILL (null: never sent). */
  seenAtKill: number | null;
  killedAtMs: number | null;
  elapsedMs: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** The environment helpers/cli.ts gives the CLI (the test's own, minus what changes its behaviour). */
function cliEnv(cacheDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['NO_COLOR', 'FORCE_COLOR', 'CERTS_CONFIG', 'CERTS_NO_CACHE', 'CERTS_CACHE_DIR', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[key];
  env['CERTS_CACHE_DIR'] = cacheDir;
  return env;
}

const live = new Set<ChildProcess>();

/**
 * Runs the built CLI directly (so it can be SIGKILLed) and kills it per `trigger`. Resolves when
 * the process is gone and its output read.
 */
function runKillable(args: string[], env: NodeJS.ProcessEnv, trigger: Trigger): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const lines: Line[] = [];
    const out: Buffer[] = [];
    let partial = '';
    let seenAtKill: number | null = null;
    let killedAtMs: number | null = null;
    let timedOut = false;
    const kill = (): void => {
      if (killedAtMs !== null || child.exitCode !== null || child.signalCode !== null) return;
      seenAtKill = lines.length;
      killedAtMs = performance.now() - t0;
      child.kill('SIGKILL');
    };
    let timer = trigger.kind === 'timed' ? setTimeout(kill, trigger.delayMs) : undefined;
    const guard = setTimeout(() => {
      timedOut = true;
      kill();
    }, CHILD_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) {
        lines.push({ atMs: performance.now() - t0, text });
        if (trigger.kind === 'event' && timer === undefined && trigger.re.test(text)) {
          if (trigger.afterMs === undefined) kill();
          else timer = setTimeout(kill, trigger.afterMs);
        }
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      clearTimeout(guard);
      live.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      live.delete(child);
      if (partial) lines.push({ atMs: performance.now() - t0, text: partial });
      const run: KilledRun = { pid: child.pid ?? -1, lines, seenAtKill, killedAtMs, elapsedMs: performance.now() - t0, code, signal, stdout: Buffer.concat(out).toString('utf8') };
      if (timedOut) reject(new Error(`certs ${args.join(' ')} ran for ${CHILD_TIMEOUT_MS} ms without being killed or finishing:\n${lines.map((l) => l.text).join('\n')}`));
      else resolve(run);
    });
  });
}

/** The furthest phase the lines show. */
function phaseOf(lines: readonly Line[]): string {
  let phase = 'started (no step logged)';
  for (const [name, re] of PHASES) if (lines.some((l) => re.test(l.text))) phase = name;
  return phase;
}

/** The leaf nginx serves for `name` over a fresh TLS connection (no verification: just which cert). */
function servedFingerprint(port: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: name, rejectUnauthorized: false, timeout: 5000 }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.on('timeout', () => socket.destroy(new Error(`TLS to 127.0.0.1:${port} timed out`)));
    socket.on('error', reject);
  });
}

function execOk(argv: readonly string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 10_000 }, (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}`.trim() }));
  });
}

interface RunJson {
  endpoints: Array<{ domain: string; fingerprint256: string | null; status: string; problems: Array<{ code: string; message: string }> }>;
  run: { outcome: string; exitCode: number };
  renew: Array<{ domain: string; action: string; reason: string }>;
  deploy: Array<{ domain: string; action: string; detail: string }>;
  errors: string[];
}

describe(`kill -9 during renew + deploy at ${TIMED_POINTS + EVENT_POINTS.length} seeded points (mulberry32 seed ${SEED})`, () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let snippets: string;
  let cacheDir: string;
  let configs: { plain: string; hsts: string };
  let testCommand: string[];

  const yaml = (hsts: boolean): string => `${env.acmeYaml()}
trust: { caFile: ${join(env.dir, 'pebble-root.pem')} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${testCommand.join(', ')}]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
${hsts ? '  hsts: true\n' : ''}domains:
  - { name: ${LINEAGE}, endpoints: [{ host: ${LINEAGE}, port: ${ngx.port}, address: 127.0.0.1 }] }
`;

  const lineageDir = (): string => join(env.dataDir, 'certs', LINEAGE);

  before(async () => {
    env = await startAcmeEnv();
    writeFileSync(join(env.dir, 'pebble-root.pem'), await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    cacheDir = join(env.dir, 'cli-cache');
    mkdirSync(cacheDir);
    // nginx needs the included file to exist before certs writes it: a placeholder pair.
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: [LINEAGE], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, `${LINEAGE}.conf`), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: [LINEAGE], extra: `include ${snippets}/${LINEAGE}.conf;` }] });
    testCommand = [NGINX_BIN, ...ngx.nginxArgs, '-t'];
    configs = { plain: env.writeConfig(yaml(false)).file, hsts: env.writeConfig(yaml(true), 'hsts.yaml').file };
  });
  after(async () => {
    for (const c of live) c.kill('SIGKILL');
    await Promise.allSettled([env?.stop(), ngx?.stop()]);
  });

  /** Everything that must hold right after a kill, whatever the point. Returns what it saw. */
  async function assertConsistent(label: string, killed: KilledRun, freeRunLock: boolean): Promise<{ version: number; behind: number; locks: string[]; leftovers: string[] }> {
    // current: a symlink (not a temp entry) to a complete numbered archive version.
    const link = join(lineageDir(), 'current');
    assert.ok(lstatSync(link).isSymbolicLink(), `${label}: current is a symlink`);
    const target = readlinkSync(link);
    const m = /^archive\/(\d+)$/.exec(target);
    assert.ok(m, `${label}: current points at archive/<n>, not ${target}`);
    const version = Number(m[1]);
    const cur = join(lineageDir(), 'current');
    for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']) assert.ok(existsSync(join(cur, f)), `${label}: current/${f} exists`);
    const certPem = readFileSync(join(cur, 'cert.pem'), 'utf8');
    const cert = new X509Certificate(certPem);
    assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(cur, 'privkey.pem')))), `${label}: current cert.pem and privkey.pem match`);
    assert.ok(readFileSync(join(cur, 'fullchain.pem'), 'utf8').startsWith(certPem), `${label}: current fullchain.pem starts with cert.pem`);
    assert.equal(statSync(join(cur, 'privkey.pem')).mode & 0o777, 0o600, `${label}: the key is 0600`);
    // Every numbered version is complete; only hidden temp entries may be left over.
    const archive = join(lineageDir(), 'archive');
    const leftovers: string[] = [];
    for (const name of readdirSync(archive)) {
      if (/^\d+$/.test(name)) {
        const files = readdirSync(join(archive, name)).sort();
        assert.deepEqual(files, ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'], `${label}: archive/${name} is complete`);
        const v = readFileSync(join(archive, name, 'cert.pem'), 'utf8');
        assert.ok(new X509Certificate(v).checkPrivateKey(createPrivateKey(readFileSync(join(archive, name, 'privkey.pem')))), `${label}: archive/${name} cert and key match`);
      } else {
        assert.match(name, /^\.tmp-\d+-[0-9a-f]+$/, `${label}: archive holds numbered versions and hidden temp dirs only`);
        leftovers.push(`archive/${name}`);
      }
    }
    for (const name of readdirSync(lineageDir())) {
      if (name === 'current' || name === 'archive') continue;
      assert.match(name, /^\.current-\d+-[0-9a-f]+$/, `${label}: the lineage dir holds current, archive and half-made links only`);
      leftovers.push(name);
    }
    // nginx accepts what is on disk.
    const t = await execOk(testCommand);
    assert.ok(t.ok, `${label}: ${testCommand.join(' ')} passes after the kill:\n${t.output}\nsnippet:\n${readFileSync(join(snippets, `${LINEAGE}.conf`), 'utf8')}`);
    // The database opens; any lock left is the dead process's and is free one lease from now.
    const ahead = openStore(env.dataDir, { clock: () => Date.now() + LEASE_MS + 1000 });
    const locks: string[] = [];
    let behind = 0;
    try {
      const rows = ahead.db.prepare('SELECT name, owner, expires_at FROM locks').all() as Array<{ name: string; owner: string; expires_at: number }>;
      for (const row of rows) {
        if (row.expires_at <= Date.now()) continue;
        assert.ok(row.owner.split(':').at(-2) === String(killed.pid), `${label}: lock ${row.name} is held by the killed process ${killed.pid}, not ${row.owner}`);
        assert.ok(row.expires_at <= Date.now() + LEASE_MS, `${label}: lock ${row.name} runs out within one lease`);
        locks.push(row.name);
        if (row.name === 'run' && !freeRunLock) continue;
        assert.ok(ahead.locks.tryAcquire(row.name, 'faults-kill-test', 1), `${label}: lock ${row.name} is free one lease after the kill`);
        ahead.locks.release(row.name, 'faults-kill-test');
      }
      const latest = ahead.issued.latest(LINEAGE);
      assert.ok(latest, `${label}: the database still knows ${LINEAGE}`);
      // current is the newest recorded version, or behind it (a switch the next run's reconcileCurrent finishes).
      assert.ok(version <= latest.version, `${label}: current (v${version}) is not newer than the newest recorded version (v${latest.version})`);
      behind = latest.version - version;
    } finally {
      ahead.close();
    }
    return { version, behind, locks, leftovers };
  }

  /** The next run, not killed, finishes the work: nginx serves current's certificate, the newest recorded one, deployed. */
  async function assertNextRunFinishes(label: string, config: string, timeoutMs = 60_000): Promise<{ result: CliResult; doc: RunJson; note: string }> {
    const result = await runCli(['run', '--config', config, '--json'], { timeoutMs, env: { CERTS_CACHE_DIR: cacheDir } });
    let doc: RunJson;
    try {
      doc = JSON.parse(result.stdout) as RunJson;
    } catch (err) {
      assert.fail(`${label}: certs run --json printed JSON: ${(err as Error).message}\n${describeRun(result)}`);
    }
    const cur = new X509Certificate(readFileSync(join(lineageDir(), 'current', 'cert.pem'))).fingerprint256;
    assert.equal(doc.endpoints.find((e) => e.domain === LINEAGE)?.fingerprint256, cur, `${label}: certs run reports the endpoint serving current's certificate\n${describeRun(result)}`);
    assert.equal(await servedFingerprint(ngx.port, LINEAGE), cur, `${label}: nginx serves current's certificate`);
    let note = '';
    if (result.code !== 0) {
      // 1 is acceptable only when the run says why (a failed step, or a problem it judged on the endpoint).
      const why = [...doc.errors, ...doc.renew.filter((o) => o.action === 'failed').map((o) => o.reason), ...doc.deploy.filter((o) => o.action !== 'deployed' && o.action !== 'unchanged').map((o) => `${o.action}: ${o.detail}`), ...doc.endpoints.flatMap((e) => e.problems.map((x) => `${e.domain}: ${x.code}: ${x.message}`))];
      assert.equal(result.code, 1, `${label}: the next run exits 0 or 1\n${describeRun(result)}`);
      assert.ok(why.length > 0, `${label}: exit 1 comes with an explanation\n${describeRun(result)}`);
      note = why.join('; ');
    }
    const store = openStore(env.dataDir);
    try {
      const latest = store.issued.latest(LINEAGE)!;
      assert.equal(latest.fingerprint256, cur, `${label}: current is the newest recorded version (v${latest.version})`);
      assert.equal(store.deployments.get(LINEAGE)?.fingerprint256, cur, `${label}: the newest version is recorded as deployed`);
      assert.equal(store.locks.holder('run'), null, `${label}: the run lock was released`);
    } finally {
      store.close();
    }
    return { result, doc, note };
  }

  it('after every kill the live pair matches, nginx -t passes, the database opens, and the next run finishes the work', { timeout: BUDGET_MS }, async (t) => {
    const started = performance.now();
    const rand = mulberry32(SEED);
    const env0 = cliEnv(cacheDir);

    // v1 with certs run, as a user starts.
    const first = await assertNextRunFinishes('first run', configs.plain);
    assert.equal(first.result.code, 0, describeRun(first.result));
    assert.deepEqual(first.doc.renew.map((o) => o.action), ['issued']);
    assert.deepEqual(first.doc.deploy.map((o) => o.action), ['deployed']);

    // One uninterrupted forced renew + deploy: the span the timed points are spread over.
    const measured = await runKillable(['renew', '--force', '--config', configs.plain], env0, { kind: 'none' });
    assert.equal(measured.code, 0, measured.lines.map((l) => l.text).join('\n'));
    assert.equal(phaseOf(measured.lines), PHASES.at(-1)![0], 'the measured run went through every step');
    const spanMs = measured.elapsedMs;
    t.diagnostic(`uninterrupted renew --force + deploy: ${spanMs.toFixed(0)} ms; timeline: ${measured.lines.map((l) => `${l.atMs.toFixed(0)} ms ${l.text.replace(/^certs: /, '').slice(0, 60)}`).join(' | ')}`);
    await assertNextRunFinishes('after the measured run', configs.plain);

    // Timed points: one per equal slice of 0–110 % of the span (stratified, so the span is covered).
    const upper = spanMs * 1.1;
    const at = (re: RegExp): number => measured.lines.find((l) => re.test(l.text))?.atMs ?? Number.NaN;
    const points: Array<{ trigger: Trigger; changeSnippet: boolean; optional: boolean }> = [];
    for (let i = 0; i < TIMED_POINTS; i++) points.push({ trigger: { kind: 'timed', delayMs: ((i + rand()) / TIMED_POINTS) * upper }, changeSnippet: rand() < 0.25, optional: false });
    for (const e of EVENT_POINTS) {
      const gapMs = e.gap ? at(e.gap[1]) - at(e.gap[0]) : undefined;
      assert.ok(gapMs === undefined || gapMs >= 0, `measured gap for ${e.label}`);
      const afterMs = gapMs === undefined ? undefined : rand() * gapMs;
      points.push({ trigger: { kind: 'event', label: afterMs === undefined ? e.label : `${e.label} ${afterMs.toFixed(0)} ms`, re: e.re, ...(afterMs === undefined ? {} : { afterMs }) }, changeSnippet: e.changeSnippet === true, optional: e.optional === true });
    }
    for (let i = points.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [points[i], points[j]] = [points[j]!, points[i]!];
    }

    const phases = new Map<string, number>();
    const killedBy = { signal: 0, finished: 0 };
    let lockPoints = 0;
    let leftoverPoints = 0;
    let exit1 = 0;
    let leaseWaited: number | null = null;
    const snippetFile = join(snippets, `${LINEAGE}.conf`);
    try {
      for (const [i, p] of points.entries()) {
        assert.ok(performance.now() - started < BUDGET_MS - 15_000, `point ${i}: still inside the time budget`);
        // The hsts variant renders a different snippet: choose against what is on disk when the
        // point wants the deploy to write it, else keep rendering what is there.
        const diskHsts = readFileSync(snippetFile, 'utf8').includes('Strict-Transport-Security');
        const config = p.changeSnippet !== diskHsts ? configs.hsts : configs.plain;
        const what = p.trigger.kind === 'timed' ? `at ${p.trigger.delayMs.toFixed(0)} ms` : p.trigger.kind === 'event' ? `on "${p.trigger.label}"` : '';
        const label = `point ${i} (kill ${what}${p.changeSnippet ? ', snippet changes' : ''})`;
        const killed = await runKillable(['renew', '--force', '--config', config], env0, p.trigger);
        const phase = killed.signal === 'SIGKILL' ? phaseOf(killed.lines) : 'finished before the kill';
        if (killed.signal === 'SIGKILL') killedBy.signal++;
        else {
          killedBy.finished++;
          assert.equal(killed.code, 0, `${label}: a run that was not killed succeeds:\n${killed.lines.map((l) => l.text).join('\n')}`);
          if (p.trigger.kind === 'event') assert.ok(p.optional || p.trigger.afterMs !== undefined, `${label}: its line was logged and the run killed:\n${killed.lines.map((l) => l.text).join('\n')}`);
        }
        phases.set(phase, (phases.get(phase) ?? 0) + 1);
        // nginx still completes a handshake with whatever it had loaded.
        const servedAfterKill = await servedFingerprint(ngx.port, LINEAGE);
        const waitLease = WAIT_LEASE_ONCE && leaseWaited === null && killed.signal === 'SIGKILL';
        const seen = await assertConsistent(label, killed, !waitLease);
        if (seen.locks.length > 0) lockPoints++;
        if (seen.leftovers.length > 0) leftoverPoints++;
        const nextStart = performance.now();
        const next = await assertNextRunFinishes(label, config, waitLease ? LEASE_MS + 30_000 : 60_000);
        if (waitLease && seen.locks.includes('run')) leaseWaited = performance.now() - nextStart;
        if (next.result.code !== 0) exit1++;
        const cur = new X509Certificate(readFileSync(join(lineageDir(), 'current', 'cert.pem'))).fingerprint256;
        t.diagnostic(`${label}: ${killed.killedAtMs === null ? `exited ${killed.code} after ${killed.elapsedMs.toFixed(0)} ms` : `SIGKILL at ${killed.killedAtMs.toFixed(0)} ms`}, stderr lines seen before the kill ${killed.seenAtKill ?? '-'} (written ${killed.lines.length}), phase "${phase}", current v${seen.version}${seen.behind ? ` (${seen.behind} behind the newest recorded)` : ''}, right after the kill nginx served ${servedAfterKill === cur ? 'the final' : 'an older'} cert${seen.locks.length ? `, locks left: ${seen.locks.join(',')}` : ''}${seen.leftovers.length ? `, leftovers: ${seen.leftovers.join(',')}` : ''}; next run ${(performance.now() - nextStart).toFixed(0)} ms exit ${next.result.code} renew=${next.doc.renew.map((o) => o.action).join(',')} deploy=${next.doc.deploy.map((o) => o.action).join(',') || '-'}${next.note ? ` (${next.note})` : ''}`);
      }
    } finally {
      // A failed assertion must not leave a CLI process behind.
      for (const c of live) c.kill('SIGKILL');
    }
    t.diagnostic(`phases hit: ${[...phases].map(([k, v]) => `${k}: ${v}`).join('; ')}`);
    t.diagnostic(`${points.length} points: ${killedBy.signal} killed, ${killedBy.finished} finished before the kill; ${lockPoints} left locks (each would have delayed the next run by up to ${LEASE_MS / 1000} s${leaseWaited === null ? '' : `; the one waited out for real took ${(leaseWaited / 1000).toFixed(1)} s`}); ${leftoverPoints} left temp entries; ${exit1} next runs exited 1; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(points.length >= 20);
    assert.ok(killedBy.signal >= 15, `most points really killed the run (${killedBy.signal})`);
    assert.ok(phases.size >= 5, `the kills landed in at least five different phases: ${[...phases.keys()].join(', ')}`);
  });
});
