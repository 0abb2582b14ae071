// End-to-end tests of the BUILT `certs` binary (dist/cli/main.js: run `npm run build` first).
// Each test gets its own temp workspace (config, certificate files, data dir), removed in an
// after hook. Certificates come from test/helpers/pki.ts with dates relative to the real clock,
// so results never depend on the calendar date. Network: 127.0.0.1 only. No sleeps: every wait
// is on a child process or a socket event.
import { before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCA, createLeaf, daysFrom, generateKey, pemBundle, type Issued } from '../helpers/pki.js';
import { startGarbagePeer } from '../helpers/peers.js';
import { describeRun, runCli, type CliResult } from '../helpers/cli.js';
import { holdWriteLock } from '../unit/store/lock-holder.js';
import { startTlsServer } from '../helpers/scan-fixture.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------------------------
// The §3 JSON contract, as scripts see it.

interface ProblemJson {
  code: string;
  severity: string;
  message: string;
  hint?: string;
}

interface EndpointJson {
  domain: string;
  host: string;
  port: number;
  source?: string;
  file?: string;
  status: 'ok' | 'warning' | 'critical' | 'unknown';
  daysLeft: number | null;
  notAfter: string | null;
  fingerprint256: string | null;
  problems: ProblemJson[];
  scannedAt: string | null;
  error?: string;
  crossCheck?: { openssl: string | null; agrees: boolean; note?: string } | null;
}

interface ReportJson {
  generatedAt: string;
  summary: { ok: number; warning: number; critical: number; unknown: number };
  endpoints: EndpointJson[];
}

function parseReport(r: CliResult): ReportJson {
  let doc: unknown;
  try {
    // The whole of stdout must be the JSON document: logs and progress belong on stderr.
    doc = JSON.parse(r.stdout);
  } catch (err) {
    assert.fail(`stdout is not one JSON document (${(err as Error).message})\n${describeRun(r)}`);
  }
  assertReportShape(doc);
  return doc;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

function assertReportShape(doc: unknown): asserts doc is ReportJson {
  assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), 'the document is an object');
  const d = doc as Record<string, unknown>;
  assert.match(String(d['generatedAt']), ISO, 'generatedAt is an ISO 8601 UTC timestamp');
  const summary = d['summary'] as Record<string, unknown>;
  assert.deepEqual(Object.keys(summary).sort(), ['critical', 'ok', 'unknown', 'warning']);
  for (const k of ['ok', 'warning', 'critical', 'unknown']) assert.equal(typeof summary[k], 'number', `summary.${k} is a number`);
  assert.ok(Array.isArray(d['endpoints']), 'endpoints is an array');
  const endpoints = d['endpoints'] as Record<string, unknown>[];
  for (const e of endpoints) {
    for (const key of ['domain', 'host', 'port', 'status', 'daysLeft', 'notAfter', 'fingerprint256', 'problems', 'scannedAt']) {
      assert.ok(key in e, `endpoint ${JSON.stringify(e['domain'])} has "${key}"`);
    }
    assert.equal(typeof e['domain'], 'string');
    assert.equal(typeof e['host'], 'string');
    assert.equal(typeof e['port'], 'number');
    assert.ok(['ok', 'warning', 'critical', 'unknown'].includes(e['status'] as string), `status ${String(e['status'])}`);
    assert.ok(e['daysLeft'] === null || typeof e['daysLeft'] === 'number');
    assert.ok(e['notAfter'] === null || ISO.test(e['notAfter'] as string), `notAfter ${String(e['notAfter'])}`);
    assert.ok(e['fingerprint256'] === null || FINGERPRINT.test(e['fingerprint256'] as string), `fingerprint256 ${String(e['fingerprint256'])}`);
    assert.ok(e['scannedAt'] === null || ISO.test(e['scannedAt'] as string), `scannedAt ${String(e['scannedAt'])}`);
    assert.ok(Array.isArray(e['problems']));
    for (const p of e['problems'] as Record<string, unknown>[]) {
      assert.equal(typeof p['code'], 'string');
      assert.ok(p['severity'] === 'warning' || p['severity'] === 'critical', `severity ${String(p['severity'])}`);
      assert.equal(typeof p['message'], 'string');
    }
  }
  const counted = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  for (const e of endpoints) counted[e['status'] as keyof typeof counted]++;
  assert.deepEqual(summary, counted, 'summary counts the endpoints by status');
}

function endpointOf(report: ReportJson, domain: string): EndpointJson {
  const found = report.endpoints.find((e) => e.domain === domain);
  assert.ok(found, `no endpoint for ${domain} in ${JSON.stringify(report.endpoints.map((e) => e.domain))}`);
  return found;
}

const codes = (e: EndpointJson): string[] => e.problems.map((p) => p.code);

// ---------------------------------------------------------------------------------------------
// Assertions on failures: one clear message, no stack unless --debug.

const STACK_LINE = /^\s+at /m;

function assertNoStack(r: CliResult): void {
  assert.doesNotMatch(r.stderr, STACK_LINE, `no stack trace without --debug\n${describeRun(r)}`);
}

/** Exit code, one "certs: …" message matching every pattern, nothing on stdout, no stack. */
function assertFailure(r: CliResult, code: number, ...patterns: RegExp[]): void {
  assert.equal(r.code, code, describeRun(r));
  for (const p of patterns) assert.match(r.stderr, p, describeRun(r));
  const messages = r.stderr.split('\n').filter((l) => l.startsWith('certs: '));
  assert.equal(messages.length, 1, `exactly one "certs: " message\n${describeRun(r)}`);
  assert.equal(r.stdout, '', `nothing on stdout\n${describeRun(r)}`);
  assertNoStack(r);
}

// ---------------------------------------------------------------------------------------------
// Workspaces.

async function workspace(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certs-e2e-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file and directory under `dir` with its size and content hash ({} when absent). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = async (sub: string): Promise<void> => {
    for (const entry of (await readdir(join(dir, sub), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = join(sub, entry.name);
      if (entry.isDirectory()) {
        out[`${rel}/`] = 'dir';
        await walk(rel);
      } else {
        const bytes = await readFile(join(dir, rel));
        out[rel] = `${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`;
      }
    }
  };
  await walk('');
  return out;
}

let root: Issued;
let inter: Issued;
let okLeaf: Issued;
let soonLeaf: Issued;
let expiredLeaf: Issued;
let knownLeaf: Issued;
let tlsLeaf: Issued;

before(async () => {
  const now = new Date();
  root = await createCA({ cn: 'certs e2e root', notBefore: daysFrom(now, -400), notAfter: daysFrom(now, 3650) });
  inter = await createCA({ cn: 'certs e2e intermediate', issuer: root, notBefore: daysFrom(now, -400), notAfter: daysFrom(now, 1800) });
  const leaf = (name: string, from: number, to: number) =>
    createLeaf({ dns: [name], issuer: inter, notBefore: daysFrom(now, from), notAfter: daysFrom(now, to) });
  okLeaf = await leaf('ok.certs.test', -10, 80);
  soonLeaf = await leaf('soon.certs.test', -70, 20);
  // 98 days long: a lifetime of 90 days or more keeps the unscaled 30/7 windows the --nagios test expects.
  expiredLeaf = await leaf('expired.certs.test', -100, -2);
  knownLeaf = await leaf('known.example', -10, 80);
  tlsLeaf = await createLeaf({ dns: ['tls.certs.test'], issuer: inter, notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 80) });
});

interface FileEntry {
  name: string;
  /** The certificate file's text (default: leaf + intermediate). */
  certText?: string;
  leaf?: Issued;
  /** The key file's text (default: the leaf's key); null: no key file. */
  keyPem?: string | null;
}

const TRUST_ROOT = 'trust: { caFile: ./root.pem, bundled: false, system: false }';

function fileDomainsYaml(entries: readonly FileEntry[]): string {
  return entries
    .map((e) => {
      const key = e.keyPem === null ? '' : `, key: ./${e.name}.key`;
      return `  - name: ${e.name}\n    managed: false\n    endpoints: []\n    files: { cert: ./${e.name}.pem${key} }\n`;
    })
    .join('');
}

interface Workspace {
  dir: string;
  config: string;
  dataDir: string;
  db: string;
}

/** A workspace whose domains are certificate files (monitor-only, no endpoints). */
async function fileWorkspace(t: TestContext, entries: readonly FileEntry[]): Promise<Workspace> {
  const dir = await workspace(t);
  await writeFile(join(dir, 'root.pem'), root.pem);
  for (const e of entries) {
    const certText = e.certText ?? pemBundle(e.leaf ?? assert.fail(`entry ${e.name} needs a leaf or certText`), inter);
    await writeFile(join(dir, `${e.name}.pem`), certText);
    const keyPem = e.keyPem === undefined ? e.leaf?.keyPem : e.keyPem;
    if (keyPem !== null && keyPem !== undefined) await writeFile(join(dir, `${e.name}.key`), keyPem, { mode: 0o600 });
  }
  const config = join(dir, 'certs.yaml');
  await writeFile(config, `dataDir: ./data\n${TRUST_ROOT}\ndomains:\n${fileDomainsYaml(entries)}`);
  return { dir, config, dataDir: join(dir, 'data'), db: join(dir, 'data', 'certs.db') };
}

async function configWorkspace(t: TestContext, yaml: string): Promise<Workspace> {
  const dir = await workspace(t);
  const config = join(dir, 'certs.yaml');
  await writeFile(config, yaml);
  return { dir, config, dataDir: join(dir, 'data'), db: join(dir, 'data', 'certs.db') };
}

const certs = (ws: Workspace, ...args: string[]) => runCli([...args, '--config', ws.config], { cwd: ws.dir });

// ---------------------------------------------------------------------------------------------
// Loopback peers.

/**
 * A peer that answers the ClientHello with a handshake record announcing a Certificate message
 * as large as TLS can express (2^24 − 1 bytes: the length field has 24 bits, so "100 MB" cannot be
 * announced literally) and then keeps streaming handshake records, up to `totalBytes` in all,
 * for as long as the client keeps reading. A client that buffers what was announced (or what
 * arrives) instead of refusing at the header would show it in its memory use.
 */
async function startFloodPeer(t: TestContext, totalBytes: number): Promise<{ port: number; sent: () => number }> {
  const sockets = new Set<net.Socket>();
  let sent = 0;
  const header = Buffer.from([22, 3, 3, 0, 4, 11, 0xff, 0xff, 0xff]);
  const record = Buffer.concat([Buffer.from([22, 3, 3, 0x40, 0x00]), Buffer.alloc(0x4000, 0x41)]);
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.resume(); // read (and drop) the ClientHello so the client's close is seen
    const pump = (): void => {
      while (!sock.destroyed && !sock.writableEnded && sent < totalBytes) {
        sent += record.length;
        if (!sock.write(record)) {
          sock.once('drain', pump);
          return;
        }
      }
      if (!sock.destroyed && !sock.writableEnded) sock.end();
    };
    sock.write(header);
    sent += header.length;
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, sent: () => sent };
}

function tlsEndpointYaml(name: string, port: number): string {
  return `dataDir: ./data\n${TRUST_ROOT}\nscan: { timeoutMs: 10000 }\ndomains:\n` +
    `  - name: ${name}\n    managed: false\n    endpoints: [{ host: ${name}, port: ${port}, address: 127.0.0.1 }]\n`;
}

// =============================================================================================

describe('the bundled offline example (config/demo.yaml: two certificate files)', () => {
  async function demoWorkspace(t: TestContext): Promise<{ dir: string; dataDir: string }> {
    const dir = await workspace(t);
    // Same layout as the repository (config/demo.yaml + config/demo/), so dataDir: ../data/demo
    // lands in the temp dir, never in the repository.
    await mkdir(join(dir, 'config'));
    await cp(join(REPO, 'config', 'demo.yaml'), join(dir, 'config', 'demo.yaml'));
    await cp(join(REPO, 'config', 'demo'), join(dir, 'config', 'demo'), { recursive: true });
    return { dir, dataDir: join(dir, 'data', 'demo') };
  }

  it('certs scan --config config/demo.yaml → both demo domains OK, exit 0', async (t) => {
    const { dir, dataDir } = await demoWorkspace(t);
    const r = await runCli(['scan', '--config', 'config/demo.yaml'], { cwd: dir });
    assert.equal(r.code, 0, describeRun(r));
    for (const domain of ['demo.certs.test', 'api.demo.certs.test']) {
      const row = r.stdout.split('\n').find((l) => l.startsWith(`${domain} `));
      assert.ok(row, `a table row for ${domain}\n${describeRun(r)}`);
      assert.match(row, /\bOK\b/, `row for ${domain}: ${row}`);
    }
    assert.match(r.stdout, /2 endpoints: 2 ok, 0 warning, 0 critical, 0 unknown/);
    assert.ok(!r.stdout.includes('\x1b['), 'no colour codes when stdout is a pipe');
    assert.ok(existsSync(join(dataDir, 'certs.db')), 'the scan was stored under the demo dataDir');
  });

  it('status --json → the §3 document, and stdout holds only the JSON', async (t) => {
    const { dir } = await demoWorkspace(t);
    const scan = await runCli(['scan', '--config', 'config/demo.yaml', '--json'], { cwd: dir });
    assert.equal(scan.code, 0, describeRun(scan));
    const scanned = parseReport(scan);

    const r = await runCli(['status', '--json', '--config', 'config/demo.yaml'], { cwd: dir });
    assert.equal(r.code, 0, describeRun(r));
    const doc = parseReport(r);
    assert.deepEqual(doc.summary, { ok: 2, warning: 0, critical: 0, unknown: 0 });
    assert.deepEqual(doc.endpoints.map((e) => e.domain).sort(), ['api.demo.certs.test', 'demo.certs.test']);
    for (const e of doc.endpoints) {
      assert.equal(e.status, 'ok');
      assert.deepEqual(e.problems, []);
      assert.ok(typeof e.daysLeft === 'number' && e.daysLeft > 30, `daysLeft ${e.daysLeft}`);
      assert.ok(e.notAfter !== null && Date.parse(e.notAfter) > Date.now());
      assert.match(e.fingerprint256 ?? '', FINGERPRINT);
      assert.ok(e.scannedAt !== null);
      // status reads back exactly what scan stored.
      const before = endpointOf(scanned, e.domain);
      assert.equal(e.fingerprint256, before.fingerprint256);
      assert.equal(e.scannedAt, before.scannedAt);
    }
  });
});

// =============================================================================================

describe('exit codes from certificate files (scan and status)', () => {
  it('a valid certificate → ok, exit 0', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    const scan = await certs(ws, 'scan', '--json');
    assert.equal(scan.code, 0, describeRun(scan));
    const e = endpointOf(parseReport(scan), 'ok.certs.test');
    assert.equal(e.status, 'ok');
    assert.deepEqual(e.problems, []);
    const status = await certs(ws, 'status');
    assert.equal(status.code, 0, describeRun(status));
    assert.match(status.stdout, /^ok\.certs\.test .*\bOK\b/m);
  });

  it('a leaf expiring in 20 days → warning expiring-soon, exit 1', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'soon.certs.test', leaf: soonLeaf }]);
    const scan = await certs(ws, 'scan', '--json');
    assert.equal(scan.code, 1, describeRun(scan));
    const e = endpointOf(parseReport(scan), 'soon.certs.test');
    assert.equal(e.status, 'warning');
    assert.deepEqual(codes(e), ['expiring-soon']);
    assert.equal(e.problems[0]?.severity, 'warning');
    assert.ok(e.daysLeft === 19 || e.daysLeft === 20, `daysLeft ${e.daysLeft}`);
    const status = await certs(ws, 'status');
    assert.equal(status.code, 1, describeRun(status));
    assert.match(status.stdout, /^soon\.certs\.test .*\bWARNING\b.*expiring-soon/m);
  });

  it('an expired leaf → critical expired, exit 2', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'expired.certs.test', leaf: expiredLeaf }]);
    const scan = await certs(ws, 'scan', '--json');
    assert.equal(scan.code, 2, describeRun(scan));
    const e = endpointOf(parseReport(scan), 'expired.certs.test');
    assert.equal(e.status, 'critical');
    assert.ok(codes(e).includes('expired'), `problems ${codes(e).join(', ')}`);
    assert.ok(e.daysLeft !== null && e.daysLeft < 0, `daysLeft ${e.daysLeft}`);
    const status = await certs(ws, 'status');
    assert.equal(status.code, 2, describeRun(status));
    assert.match(status.stdout, /^expired\.certs\.test .*\bCRITICAL\b.*expired/m);
  });

  it('a key that does not match the certificate → critical key-mismatch, exit 2', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf, keyPem: generateKey().keyPem }]);
    const scan = await certs(ws, 'scan', '--json');
    assert.equal(scan.code, 2, describeRun(scan));
    const e = endpointOf(parseReport(scan), 'ok.certs.test');
    assert.equal(e.status, 'critical');
    assert.deepEqual(codes(e), ['key-mismatch']);
    assert.equal(e.problems[0]?.severity, 'critical');
    const status = await certs(ws, 'status');
    assert.equal(status.code, 2, describeRun(status));
  });

  it('status of a configured domain that was never scanned → unknown, exit 3, and creates nothing', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    const before = await snapshot(ws.dir);

    const table = await certs(ws, 'status');
    assert.equal(table.code, 3, describeRun(table));
    assert.match(table.stdout, /^ok\.certs\.test .*\bUNKNOWN\b/m);

    const json = await certs(ws, 'status', '--json');
    assert.equal(json.code, 3, describeRun(json));
    const doc = parseReport(json);
    assert.deepEqual(doc.summary, { ok: 0, warning: 0, critical: 0, unknown: 1 });
    const e = endpointOf(doc, 'ok.certs.test');
    assert.equal(e.status, 'unknown');
    assert.equal(e.scannedAt, null);

    const nagios = await certs(ws, 'status', '--nagios');
    assert.equal(nagios.code, 3, describeRun(nagios));
    assert.match(nagios.stdout, /^CERTS UNKNOWN: /);

    assert.equal(existsSync(ws.dataDir), false, 'status created no data dir');
    assert.deepEqual(await snapshot(ws.dir), before, 'status changed nothing in the workspace');
  });
});

// =============================================================================================

describe('status', () => {
  it('status <name> shows the chain (subject, issuer, validity, key, signature) and each problem\'s fix', async (t) => {
    // Two problems: expiring in 20 days (warning) and a key that is not the certificate's (critical).
    const ws = await fileWorkspace(t, [
      { name: 'soon.certs.test', leaf: soonLeaf, keyPem: generateKey().keyPem },
      { name: 'ok.certs.test', leaf: okLeaf },
    ]);
    const scan = await certs(ws, 'scan');
    assert.equal(scan.code, 2, describeRun(scan));

    const r = await certs(ws, 'status', 'soon.certs.test');
    assert.equal(r.code, 2, describeRun(r));
    const out = r.stdout;
    assert.doesNotMatch(out, /ok\.certs\.test/, 'only the named domain is shown');
    assert.match(out, /CN=soon\.certs\.test/, 'leaf subject');
    assert.match(out, /issuer\s+CN=certs e2e intermediate/, 'leaf issuer');
    assert.match(out, /CN=certs e2e intermediate/, 'intermediate subject');
    assert.match(out, /issuer\s+CN=certs e2e root/, 'intermediate issuer');
    assert.match(out, /valid\s+\d{4}-\d{2}-\d{2}T\S+ → \d{4}-\d{2}-\d{2}T\S+ \((19|20) days left\)/, 'leaf validity');
    assert.match(out, /key\s+EC\b/, 'key type');
    assert.match(out, /signature ecdsa-with-SHA256/, 'signature algorithm');
    const problems = out.split('\n').filter((l) => /^\s+(WARNING|CRITICAL) [a-z-]+: /.test(l));
    assert.equal(problems.length, 2, `two problems listed\n${out}`);
    assert.match(out, /WARNING expiring-soon: .*expires in (19|20) days/);
    assert.match(out, /CRITICAL key-mismatch: .*soon\.certs\.test\.key/);
    // Each problem line is followed by its fix.
    const lines = out.split('\n');
    for (const p of problems) {
      const next = lines[lines.indexOf(p) + 1] ?? '';
      assert.match(next, /^\s+fix: \S/, `a fix after "${p.trim()}"\n${out}`);
    }
  });

  it('status <name not in the inventory> → exit 3, "not in the inventory" with a did-you-mean', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'known.example', leaf: knownLeaf }]);
    const r = await certs(ws, 'status', 'unknown.example');
    assertFailure(r, 3, /"unknown\.example" is not in the inventory/, /did you mean "known\.example"\?/);
  });

  it('--nagios prints one line: CERTS CRITICAL: … | \'days_left\'=N;30:;7:', async (t) => {
    const ws = await fileWorkspace(t, [
      { name: 'ok.certs.test', leaf: okLeaf },
      { name: 'expired.certs.test', leaf: expiredLeaf },
    ]);
    const scan = await certs(ws, 'scan', '--nagios');
    assert.equal(scan.code, 2, describeRun(scan));
    const status = await certs(ws, 'status', '--nagios');
    assert.equal(status.code, 2, describeRun(status));
    for (const r of [scan, status]) {
      const lines = r.stdout.split('\n');
      assert.equal(lines.length, 2, `one line and its newline\n${describeRun(r)}`);
      assert.equal(lines[1], '');
      assert.match(lines[0] ?? '', /^CERTS CRITICAL: .*expired\.certs\.test.*expired.* \| 'days_left'=-\d+;30:;7:$/);
    }
  });
});

// =============================================================================================

describe('a TLS endpoint on 127.0.0.1', () => {
  it('a served chain from a private CA in trust.caFile → ok, exit 0, with OpenSSL\'s cross-check in the JSON', async (t) => {
    const server = await startTlsServer(pemBundle(tlsLeaf, inter), tlsLeaf.keyPem);
    t.after(() => server.close());
    const { port } = server;
    const ws = await configWorkspace(t, tlsEndpointYaml('tls.certs.test', port));
    await writeFile(join(ws.dir, 'root.pem'), root.pem);

    const table = await certs(ws, 'scan');
    assert.equal(table.code, 0, describeRun(table));
    assert.match(table.stdout, new RegExp(`^tls\\.certs\\.test\\s+tls\\.certs\\.test:${port} @127\\.0\\.0\\.1 .*\\bOK\\b`, 'm'));

    const scan = await certs(ws, 'scan', '--json');
    assert.equal(scan.code, 0, describeRun(scan));
    const e = endpointOf(parseReport(scan), 'tls.certs.test');
    assert.equal(e.status, 'ok');
    assert.equal(e.host, 'tls.certs.test');
    assert.equal(e.port, port);
    assert.deepEqual(e.problems, []);
    assert.equal(e.fingerprint256, tlsLeaf.cert.fingerprint256);
    assert.deepEqual(e.crossCheck, { openssl: null, agrees: true });

    const status = await certs(ws, 'status', '--json');
    assert.equal(status.code, 0, describeRun(status));
    assert.deepEqual(endpointOf(parseReport(status), 'tls.certs.test').crossCheck, { openssl: null, agrees: true });
  });

  it('a target that sends garbage → critical handshake-failed, exit 2', async (t) => {
    const peer = await startGarbagePeer(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), { end: false });
    t.after(() => peer.close());
    const ws = await configWorkspace(t, tlsEndpointYaml('garbage.certs.test', peer.port));
    await writeFile(join(ws.dir, 'root.pem'), root.pem);
    const r = await certs(ws, 'scan', '--json');
    assert.equal(r.code, 2, describeRun(r));
    const e = endpointOf(parseReport(r), 'garbage.certs.test');
    assert.equal(e.status, 'critical');
    assert.deepEqual(codes(e), ['handshake-failed']);
  });

  it('a target that announces a huge certificate message and floods → handshake-failed, small memory', async (t) => {
    const flood = await startFloodPeer(t, 100 * 1024 * 1024);
    const ws = await configWorkspace(t, tlsEndpointYaml('flood.certs.test', flood.port));
    await writeFile(join(ws.dir, 'root.pem'), root.pem);
    // Report the CLI's peak RSS from inside the child (KiB, as process.resourceUsage gives it).
    const reporter = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nCERTS_E2E_MAXRSS_KB="+process.resourceUsage().maxRSS+"\\n"))';
    const r = await runCli(['scan', '--json', '--config', ws.config], { cwd: ws.dir, nodeArgs: ['--import', reporter] });
    assert.equal(r.code, 2, describeRun(r));
    const e = endpointOf(parseReport(r), 'flood.certs.test');
    assert.equal(e.status, 'critical');
    assert.deepEqual(codes(e), ['handshake-failed']);
    const rss = /CERTS_E2E_MAXRSS_KB=(\d+)/.exec(r.stderr);
    assert.ok(rss, `peak RSS reported\n${describeRun(r)}`);
    const mb = Number(rss[1]) / 1024;
    assert.ok(mb < 200, `peak RSS ${mb.toFixed(0)} MB (sent ${flood.sent()} bytes)`);
  });
});

// =============================================================================================

describe('init, add, remove, list', () => {
  it('init writes a starter config and refuses to overwrite it without --force', async (t) => {
    const dir = await workspace(t);
    const config = join(dir, 'etc', 'certs.yaml');
    const init = await runCli(['init', '--config', config], { cwd: dir });
    assert.equal(init.code, 0, describeRun(init));
    const starter = await readFile(config, 'utf8');
    assert.match(starter, /^domains: \[\]$/m);
    assert.equal((await stat(config)).mode & 0o777, 0o600, 'the config may hold secrets: 0600');

    const list = await runCli(['list', '--config', config], { cwd: dir });
    assert.equal(list.code, 0, describeRun(list));
    assert.match(list.stdout, /No domains/);

    const edited = `${starter}# my own notes\n`;
    await writeFile(config, edited);
    const again = await runCli(['init', '--config', config], { cwd: dir });
    assert.notEqual(again.code, 0, describeRun(again));
    assert.match(again.stderr, /already exists/);
    assert.match(again.stderr, /--force/);
    assertNoStack(again);
    assert.equal(await readFile(config, 'utf8'), edited, 'the file is unchanged');

    const forced = await runCli(['init', '--force', '--config', config], { cwd: dir });
    assert.equal(forced.code, 0, describeRun(forced));
    assert.equal(await readFile(config, 'utf8'), starter, '--force writes the starter again');
  });

  it('add keeps the comments; list and list --json show the domain; remove removes it', async (t) => {
    const dir = await workspace(t);
    const config = join(dir, 'certs.yaml');
    const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir });
    assert.equal((await cli('init')).code, 0);
    const original = await readFile(config, 'utf8');
    const comments = original.split('\n').filter((l) => l.trimStart().startsWith('#'));
    assert.ok(comments.length > 5, 'the starter has comments');

    const add = await cli('add', 'example.org', '--endpoint', 'example.org:8443@127.0.0.1', '--monitor-only');
    assert.equal(add.code, 0, describeRun(add));
    assert.match(add.stdout, /Added example\.org/);
    const added = await readFile(config, 'utf8');
    const addedLines = added.split('\n');
    for (const c of comments) assert.ok(addedLines.includes(c), `comment kept: ${c}`);
    assert.match(added, /example\.org/);

    const list = await cli('list');
    assert.equal(list.code, 0, describeRun(list));
    const row = list.stdout.split('\n').find((l) => l.startsWith('example.org '));
    assert.ok(row, describeRun(list));
    assert.match(row, /monitor-only/);
    assert.match(row, /example\.org:8443 @127\.0\.0\.1/);

    const json = await cli('list', '--json');
    assert.equal(json.code, 0, describeRun(json));
    const doc = JSON.parse(json.stdout) as { domains: Array<Record<string, unknown>> };
    assert.equal(doc.domains.length, 1);
    assert.equal(doc.domains[0]?.['name'], 'example.org');
    assert.equal(doc.domains[0]?.['managed'], false);
    assert.deepEqual(doc.domains[0]?.['endpoints'], [{ host: 'example.org', port: 8443, address: '127.0.0.1' }]);

    const remove = await cli('remove', 'example.org');
    assert.equal(remove.code, 0, describeRun(remove));
    const removed = await readFile(config, 'utf8');
    assert.doesNotMatch(removed, /example\.org/);
    assert.equal(removed, original, 'add then remove gives back the file byte for byte');
    const after = await cli('list', '--json');
    assert.equal(after.code, 0, describeRun(after));
    assert.deepEqual((JSON.parse(after.stdout) as { domains: unknown[] }).domains, []);
    assert.match((await cli('list')).stdout, /No domains/);
  });

  it('add of a duplicate or an invalid name → exit 2, a clear message, the file byte-identical', async (t) => {
    const dir = await workspace(t);
    const config = join(dir, 'certs.yaml');
    const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir });
    assert.equal((await cli('init')).code, 0);
    assert.equal((await cli('add', 'example.org', '--monitor-only')).code, 0);
    const bytes = await readFile(config);

    const cases: Array<[string[], RegExp]> = [
      [['add', 'example.org'], /domain "example\.org" is already in the config/],
      [['add', 'EXAMPLE.org.'], /domain "example\.org" is already in the config/],
      [['add', 'exa mple.com'], /"exa mple\.com": invalid name: spaces are not allowed/],
      [['add', 'a_b.example.com'], /"a_b\.example\.com": invalid name: underscores are not allowed/],
      [['add', '*.*.example.com'], /"\*\.\*\.example\.com": invalid name: only one wildcard/],
      [['add', 'other.example.org', '--endpoint', 'other.example.org:99999'], /port "99999": expected an integer from 1 to 65535/],
    ];
    for (const [args, pattern] of cases) {
      const r = await cli(...args);
      assertFailure(r, 2, pattern);
      assert.deepEqual(await readFile(config), bytes, `${args.join(' ')}: file unchanged`);
    }
  });

  it('remove of a domain that is not there → exit 2 with a did-you-mean, file unchanged', async (t) => {
    const dir = await workspace(t);
    const config = join(dir, 'certs.yaml');
    const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir });
    assert.equal((await cli('init')).code, 0);
    assert.equal((await cli('add', 'example.org', '--monitor-only')).code, 0);
    const bytes = await readFile(config);
    const r = await cli('remove', 'exmple.org');
    assertFailure(r, 2, /no domain "exmple\.org" to remove; did you mean "example\.org"\?/);
    assert.deepEqual(await readFile(config), bytes);
  });
});

// =============================================================================================

describe('bad config: one clear message, no stack unless --debug; scan/status exit 3, list exit 2', () => {
  const ep = (name: string, port = 9) => `{ host: ${name}, port: ${port}, address: 127.0.0.1 }`;
  const head = 'dataDir: ./data\ntrust: { bundled: false, system: false, caFile: ./root.pem }\ndomains:\n';
  const cases: Array<{ name: string; yaml: string; patterns: RegExp[] }> = [
    {
      name: 'malformed YAML',
      yaml: `${head}  - name: a.certs.test\n    managed: false\n    endpoints: [${ep('a.certs.test')}\n  - name: b.certs.test\n`,
      patterns: [/certs\.yaml/, /invalid YAML at line \d+, column \d+/],
    },
    {
      name: 'a wrong type (port: "abc")',
      yaml: `${head}  - name: a.certs.test\n    managed: false\n    endpoints: [{ host: a.certs.test, port: "abc", address: 127.0.0.1 }]\n`,
      patterns: [/domains\[0\]\.endpoints\[0\]\.port/, /expected an integer from 1 to 65535, got "abc"/, /line \d+/],
    },
    {
      name: 'an unknown key (altnames)',
      yaml: `${head}  - name: a.certs.test\n    altnames: [www.a.certs.test]\n    managed: false\n    endpoints: [${ep('a.certs.test')}]\n`,
      patterns: [/domains\[0\]\.altnames/, /unknown key; did you mean "altNames"\?/],
    },
    {
      name: 'an invalid domain name',
      yaml: `${head}  - name: exa mple.com\n    managed: false\n    endpoints: [${ep('a.certs.test')}]\n`,
      patterns: [/domains\[0\]\.name/, /"exa mple\.com": invalid name: spaces are not allowed/],
    },
    {
      name: 'duplicate domains',
      yaml: `${head}  - name: a.certs.test\n    managed: false\n    endpoints: [${ep('a.certs.test', 9)}]\n` +
        `  - name: a.certs.test\n    managed: false\n    endpoints: [${ep('a.certs.test', 10)}]\n`,
      patterns: [/domains\[1\]\.name/, /domain "a\.certs\.test" is already defined at domains\[0\]\.name/],
    },
    {
      name: 'duplicate endpoints',
      yaml: `${head}  - name: a.certs.test\n    managed: false\n    endpoints: [${ep('a.certs.test')}]\n` +
        `  - name: b.certs.test\n    managed: false\n    endpoints: [${ep('a.certs.test')}]\n`,
      patterns: [/domains\[1\]\.endpoints\[0\]/, /endpoint a\.certs\.test:9@127\.0\.0\.1 is already listed at domains\[0\]\.endpoints\[0\]/],
    },
    {
      name: 'trust.caFile missing',
      yaml: `dataDir: ./data\ntrust: { bundled: false, system: false, caFile: ./nope.pem }\ndomains:\n` +
        `  - name: a.certs.test\n    managed: false\n    endpoints: [${ep('a.certs.test')}]\n`,
      patterns: [/trust\.caFile/, /nope\.pem not found/],
    },
  ];

  for (const c of cases) {
    it(c.name, async (t) => {
      const ws = await configWorkspace(t, c.yaml);
      await writeFile(join(ws.dir, 'root.pem'), root.pem);
      const before = await snapshot(ws.dir);
      assertFailure(await certs(ws, 'scan'), 3, ...c.patterns);
      assertFailure(await certs(ws, 'status', '--json'), 3, ...c.patterns);
      assertFailure(await certs(ws, 'list'), 2, ...c.patterns);
      const debug = await certs(ws, 'scan', '--debug');
      assert.equal(debug.code, 3, describeRun(debug));
      for (const p of c.patterns) assert.match(debug.stderr, p, describeRun(debug));
      assert.match(debug.stderr, STACK_LINE, `--debug shows the stack\n${describeRun(debug)}`);
      assert.deepEqual(await snapshot(ws.dir), before, 'nothing was written');
    });
  }

  it('trust.caFile that is not PEM → scan exit 3 naming the CA file', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    await writeFile(join(ws.dir, 'root.pem'), 'this is not a certificate\n');
    const r = await certs(ws, 'scan');
    assertFailure(r, 3, /CA file ".*root\.pem"/, /no certificate found/);
    const debug = await certs(ws, 'scan', '--debug');
    assert.equal(debug.code, 3, describeRun(debug));
    assert.match(debug.stderr, STACK_LINE, `--debug shows the stack\n${describeRun(debug)}`);
    // (What this leaves in the data dir is checked under "nothing partial" below.)
  });
});

// =============================================================================================

describe('bad certificate files', () => {
  const corruptPem = () => `-----BEGIN CERTIFICATE-----\n${randomBytes(300).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  const truncatedPem = () => okLeaf.pem.slice(0, Math.floor(okLeaf.pem.length / 2));

  it('a corrupt and a truncated certificate file → those are unknown with an error, the others are scanned, exit 3', async (t) => {
    const ws = await fileWorkspace(t, [
      { name: 'corrupt.certs.test', certText: corruptPem(), keyPem: null },
      { name: 'ok.certs.test', leaf: okLeaf },
      { name: 'truncated.certs.test', certText: truncatedPem(), keyPem: null },
    ]);
    const r = await certs(ws, 'scan', '--json');
    assert.equal(r.code, 3, describeRun(r));
    assertNoStack(r);
    const doc = parseReport(r);
    assert.deepEqual(doc.summary, { ok: 1, warning: 0, critical: 0, unknown: 2 });
    assert.equal(endpointOf(doc, 'ok.certs.test').status, 'ok');
    const corrupt = endpointOf(doc, 'corrupt.certs.test');
    assert.equal(corrupt.status, 'unknown');
    assert.match(corrupt.error ?? '', /corrupt\.certs\.test\.pem/);
    const truncated = endpointOf(doc, 'truncated.certs.test');
    assert.equal(truncated.status, 'unknown');
    assert.match(truncated.error ?? '', /truncated\.certs\.test\.pem.*truncated/);

    // The table says the same, and status reads it back.
    const table = await certs(ws, 'status');
    assert.equal(table.code, 3, describeRun(table));
    assert.match(table.stdout, /^corrupt\.certs\.test .*\bUNKNOWN\b/m);
    assert.match(table.stdout, /^truncated\.certs\.test .*\bUNKNOWN\b.*truncated/m);
  });

  it('…unless another endpoint is critical: then exit 2', async (t) => {
    const ws = await fileWorkspace(t, [
      { name: 'truncated.certs.test', certText: truncatedPem(), keyPem: null },
      { name: 'expired.certs.test', leaf: expiredLeaf },
    ]);
    const r = await certs(ws, 'scan', '--json');
    assert.equal(r.code, 2, describeRun(r));
    const doc = parseReport(r);
    assert.deepEqual(doc.summary, { ok: 0, warning: 0, critical: 1, unknown: 1 });
  });
});

// =============================================================================================

describe('database problems', () => {
  it('data/certs.db that is a text file → exit 3 "not a database", the file untouched', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    await mkdir(ws.dataDir);
    const text = 'these are my notes, not a database\n'.repeat(20);
    await writeFile(ws.db, text);
    const before = await snapshot(ws.dataDir);
    for (const args of [['scan'], ['status'], ['status', '--json']]) {
      const r = await certs(ws, ...args);
      assertFailure(r, 3, /certs\.db is not a certs database/);
      assert.equal(await readFile(ws.db, 'utf8'), text);
      assert.deepEqual(await snapshot(ws.dataDir), before, `${args.join(' ')} left the data dir as it was`);
    }
    const debug = await certs(ws, 'scan', '--debug');
    assert.equal(debug.code, 3, describeRun(debug));
    assert.match(debug.stderr, STACK_LINE, `--debug shows the stack\n${describeRun(debug)}`);
    assert.deepEqual(await snapshot(ws.dataDir), before);
  });

  it('a database locked by another process → scan exit 3 "locked", the database unchanged', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    const first = await certs(ws, 'scan', '--json');
    assert.equal(first.code, 0, describeRun(first));
    const firstScan = endpointOf(parseReport(first), 'ok.certs.test').scannedAt;
    const bytes = await readFile(ws.db);

    // The CLI has no busy-timeout option: it waits its default 5 s, then gives up.
    const lock = await holdWriteLock(ws.db, 'EXCLUSIVE');
    let r: CliResult;
    try {
      r = await certs(ws, 'scan');
    } finally {
      await lock.release();
    }
    assertFailure(r, 3, /database is locked by another process/);
    assert.deepEqual(await readFile(ws.db), bytes, 'certs.db unchanged');
    const status = await certs(ws, 'status', '--json');
    assert.equal(endpointOf(parseReport(status), 'ok.certs.test').scannedAt, firstScan, 'no new scan was stored');
  });
});

// =============================================================================================

describe('nothing partial: a scan that fails leaves the data dir as it was', () => {
  it('after a successful scan, a config error or a bad caFile changes no file of the data dir', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    assert.equal((await certs(ws, 'scan')).code, 0);
    const before = await snapshot(ws.dataDir);
    const dbBytes = await readFile(ws.db);
    assert.ok(before['certs.db'], `the scan wrote certs.db: ${JSON.stringify(before)}`);

    const goodConfig = await readFile(ws.config, 'utf8');
    await writeFile(ws.config, `${goodConfig}  - name: [unclosed\n`);
    assertFailure(await certs(ws, 'scan'), 3, /invalid YAML/);
    assert.deepEqual(await snapshot(ws.dataDir), before, 'config error: data dir unchanged');
    assert.deepEqual(await readFile(ws.db), dbBytes);

    await writeFile(ws.config, goodConfig);
    await writeFile(join(ws.dir, 'root.pem'), 'not a certificate\n');
    assertFailure(await certs(ws, 'scan'), 3, /CA file/);
    assert.deepEqual(await snapshot(ws.dataDir), before, 'bad caFile: data dir unchanged');
    assert.deepEqual(await readFile(ws.db), dbBytes);
  });

  it('a first scan that fails on its config creates no data dir', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    await writeFile(ws.config, `${await readFile(ws.config, 'utf8')}    bogus: 1\n`);
    assertFailure(await certs(ws, 'scan'), 3, /unknown key/);
    assert.equal(existsSync(ws.dataDir), false, 'no data dir after a config error');
  });

  it('a first scan that fails on its trust anchors creates no data dir', async (t) => {
    const ws = await fileWorkspace(t, [{ name: 'ok.certs.test', leaf: okLeaf }]);
    await writeFile(join(ws.dir, 'root.pem'), 'not a certificate\n');
    assertFailure(await certs(ws, 'scan'), 3, /CA file/);
    assert.equal(existsSync(ws.dataDir), false, `no data dir after a failed scan: ${JSON.stringify(await snapshot(ws.dataDir))}`);
  });
});

// =============================================================================================

describe('the config cache (configs of 64 KiB and more)', () => {
  it('gives the same result as a fresh load, and sees edits and a changed caFile at once', async (t) => {
    const entries = Array.from({ length: 700 }, (_, i) =>
      `  - name: d${i}.certs.test\n    managed: false\n    endpoints: [{ host: d${i}.certs.test, port: 443, address: 127.0.0.1 }]\n`);
    const yaml = `dataDir: ./data\n${TRUST_ROOT}\ndomains:\n${entries.join('')}`;
    assert.ok(yaml.length >= 64 * 1024, `big enough to be cached: ${yaml.length} bytes`);
    const ws = await configWorkspace(t, yaml);
    await writeFile(join(ws.dir, 'root.pem'), root.pem);
    const cacheDir = join(ws.dir, 'cache');
    // One cache dir shared by every run of this test (runCli gives each run its own otherwise).
    const cached = (...args: string[]) => runCli([...args, '--config', ws.config], { cwd: ws.dir, env: { CERTS_CACHE_DIR: cacheDir } });

    const first = await cached('list', '--json');
    assert.equal(first.code, 0, describeRun(first));
    assert.equal((JSON.parse(first.stdout) as { domains: unknown[] }).domains.length, 700);
    assert.equal((await readdir(cacheDir)).length, 1, 'the first load wrote one cache file');
    const second = await cached('list', '--json');
    assert.equal(second.code, 0, describeRun(second));
    assert.equal(second.stdout, first.stdout, 'a cached load gives the same inventory');

    // An edit is seen at once.
    await writeFile(ws.config, `${yaml}  - name: d1.certs.test\n    managed: false\n    endpoints: [{ host: other.certs.test, address: 127.0.0.1 }]\n`);
    assertFailure(await cached('list'), 2, /domains\[700\]\.name/, /domain "d1\.certs\.test" is already defined at domains\[1\]\.name/);
    await writeFile(ws.config, yaml);
    assert.equal((await cached('list', '--json')).stdout, first.stdout);

    // A caFile that disappeared after it was cached.
    await rm(join(ws.dir, 'root.pem'));
    assertFailure(await cached('list'), 2, /trust\.caFile/, /root\.pem not found/);
    assertFailure(await cached('scan'), 3, /trust\.caFile/, /root\.pem not found/);

    // A caFile replaced by a directory: a fresh load refuses it...
    await mkdir(join(ws.dir, 'root.pem'));
    assertFailure(await certs(ws, 'list'), 2, /trust\.caFile/, /root\.pem is not a regular file/);
    // ...and so must a cached load.
    assert.equal((await readdir(cacheDir)).length, 1, 'the entry for this text is still cached');
    assertFailure(await cached('list'), 2, /trust\.caFile/, /root\.pem is not a regular file/);
  });
});

// =============================================================================================

describe('the command line itself', () => {
  // Run from an empty temp dir: were a command to run anyway, it must not find or write a config.
  it('unknown options: scan/status --bogus → 3, list --bogus → 2, with a clear message', async (t) => {
    const dir = await workspace(t);
    for (const [args, code] of [[['scan', '--bogus'], 3], [['status', '--bogus'], 3], [['list', '--bogus'], 2], [['add', 'x.example', '--bogus'], 2]] as const) {
      const r = await runCli([...args], { cwd: dir });
      assert.equal(r.code, code, describeRun(r));
      assert.match(r.stderr, /unknown option '--bogus'/, describeRun(r));
      assertNoStack(r);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(await readdir(dir), [], 'nothing created');
  });

  it('no command at all → usage on stderr, exit 2 (a usage error)', async (t) => {
    const r = await runCli([], { cwd: await workspace(t) });
    assert.match(r.stderr, /^Usage: certs /m, describeRun(r));
    assert.equal(r.stdout, '');
    assert.equal(r.code, 2, `\`certs\` without a command is a usage error (ARCHITECTURE §3: 2)\n${describeRun(r)}`);
  });

  it('an unknown command → exit 2', async (t) => {
    const r = await runCli(['scna'], { cwd: await workspace(t) });
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /unknown command 'scna'/);
    assertNoStack(r);
  });

  it('certs --help and certs scan --help → exit 0 with usage on stdout', async (t) => {
    const dir = await workspace(t);
    const top = await runCli(['--help'], { cwd: dir });
    assert.equal(top.code, 0, describeRun(top));
    assert.match(top.stdout, /^Usage: certs \[options\] \[command\]/m);
    for (const cmd of ['scan', 'status', 'init', 'add', 'remove', 'list']) assert.match(top.stdout, new RegExp(`^  ${cmd}\\b`, 'm'));

    const scan = await runCli(['scan', '--help'], { cwd: dir });
    assert.equal(scan.code, 0, describeRun(scan));
    assert.match(scan.stdout, /^Usage: certs scan \[options\] \[names\.\.\.\]/m);
    assert.match(scan.stdout, /--json/);
    assert.match(scan.stdout, /Exit codes \(Nagios\): 0 ok, 1 warning, 2 critical, 3 unknown/);
  });

  it('a missing config file → scan exit 3, list exit 2, pointing at certs init', async (t) => {
    const dir = await workspace(t);
    const missing = join(dir, 'nope.yaml');
    assertFailure(await runCli(['scan', '--config', missing], { cwd: dir }), 3, /nope\.yaml: config file not found/, /certs init/);
    assertFailure(await runCli(['list', '--config', missing], { cwd: dir }), 2, /nope\.yaml: config file not found/);
    assert.deepEqual(await readdir(dir), [], 'nothing created');
  });
});
