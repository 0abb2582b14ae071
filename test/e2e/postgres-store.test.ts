/**
 * certs on the PostgreSQL store (issue 15), through the built CLI against real Pebble, nginx, an
 * SMTP server process and a private PostgreSQL 15 (test/helpers/pg-store.ts):
 * - `certs run` issues, deploys and verifies with nothing of the store on disk (no SQLite file
 *   anywhere in dataDir), and the private key is sealed in issued_files, not stored as a PEM;
 * - `certs status` / `certs certificates` answer from the database on a node with an empty dataDir;
 * - a second node (its own dataDir and nginx, the same database) materialises the version from
 *   the database on `certs nginx write`: files byte-equal to node 1's, the key 0600, nginx serving
 *   it; with a wrong key-encryption key it fails naming the key and writes no archive version;
 * - a notification reaches the SMTP server once, and the next run does not send it again.
 * `npm run build` first (runCli spawns dist/).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type pg from 'pg';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { describeRun, runCli, type CliResult } from '../helpers/cli.js';
import { postgresUnavailable, startStoreCluster, STORE_PG_PASSWORD, type StoreCluster } from '../helpers/pg-store.js';
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { parseKek } from '../../src/lib/kek.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';
const CLI_TIMEOUT_MS = 60_000;

interface RunJson {
  summary: { ok: number; warning: number; critical: number; unknown: number };
  endpoints: Array<{ domain: string; fingerprint256: string | null; problems: Array<{ code: string }> }>;
  run: { outcome: string; exitCode: number };
  renew: Array<{ domain: string; action: string }>;
  deploy: Array<{ domain: string; action: string }>;
}
interface StatusJson { endpoints: Array<{ domain: string; port: number; fingerprint256: string | null; problems: Array<{ code: string }> }> }
interface CertsJson { certificates: Array<{ domain: string; current: number | null; versions: Array<{ version: number; serial: string }> }> }

function parse<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(`not JSON on stdout: ${describeRun(r)}`, { cause: err });
  }
}

/** Every file under `dir` (recursively), symlinks not followed. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Files under `dir` that are SQLite databases or their journals (by name or by the header). */
function sqliteFilesUnder(dir: string): string[] {
  const magic = Buffer.from('SQLite format 3\u0000', 'latin1');
  return filesUnder(dir).filter((f) => /\.db(-wal|-shm|-journal)?$/.test(f) || readFileSync(f).subarray(0, magic.length).equals(magic));
}

/** The leaf certificate 127.0.0.1:port serves for SNI r.test. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'r.test', rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256;
      s.end();
      if (fp) resolve(fp);
      else reject(new Error('no peer certificate'));
    });
    s.once('error', reject);
  });
}

describe('certs on the PostgreSQL store: run, status, a second node, notifications', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let dbUrl: string;
  let db: pg.Client;
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let ngx2: NginxInstance;
  let smtp: SmtpServerHandle;
  let snippets: string;
  let snippets2: string;
  let configFile: string;
  const kek = randomBytes(32).toString('base64');
  const wrongKek = randomBytes(32).toString('base64');
  const pgEnv = (k = kek) => ({ CERTS_DATABASE_URL: dbUrl, CERTS_KEK: k });
  const cli = (args: string[], k = kek) => runCli(args, { env: pgEnv(k), timeoutMs: CLI_TIMEOUT_MS });

  /** Node 1 (dataDir = env.dataDir, nginx ngx) or node 2 (its own dataDir, nginx ngx2, snippetDir). */
  const yaml = (node: 1 | 2, opts: { dataDir?: string } = {}): string => {
    const n = node === 1 ? ngx : ngx2;
    const dir = node === 1 ? snippets : snippets2;
    let text = `${env.acmeYaml()}
store: { engine: postgres, url: "\${env:CERTS_DATABASE_URL}", keyEncryptionKey: "\${env:CERTS_KEK}" }
trust: { caFile: ${join(env.dir, 'pebble-root.pem')} }
nginx:
  snippetDir: ${dir}
  testCommand: [${NGINX_BIN}, ${n.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${n.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: r.test, endpoints: [{ host: r.test, port: ${n.port}, address: 127.0.0.1 }] }
`;
    const dataDir = opts.dataDir ?? (node === 1 ? env.dataDir : join(env.dir, 'data2'));
    text = text.replace(/^dataDir: .*$/m, `dataDir: ${dataDir}`);
    return text;
  };

  /** Written as is: env.writeConfig would load it, and the ${env:…} secrets are only in the CLI's environment. */
  const writeConfig = (text: string, name = 'certs.yaml'): { file: string } => {
    const file = join(env.dir, name);
    writeFileSync(file, text);
    return { file };
  };

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    cluster = await startStoreCluster();
    dbUrl = await cluster.newDatabase('e2e');
    db = await connectPg(parsePgUrl(dbUrl));
    env = await startAcmeEnv();
    smtp = await startSmtpServer();
    writeFileSync(join(env.dir, 'pebble-root.pem'), await env.pebble.rootPem());
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: ['r.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    const placeholder = `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`;
    snippets = join(env.dir, 'snippets');
    snippets2 = join(env.dir, 'snippets2');
    for (const d of [snippets, snippets2]) {
      mkdirSync(d);
      writeFileSync(join(d, 'r.test.conf'), placeholder);
    }
    [ngx, ngx2] = await Promise.all([
      startNginx({ sites: [{ serverNames: ['r.test'], extra: `include ${snippets}/r.test.conf;` }] }),
      startNginx({ sites: [{ serverNames: ['r.test'], extra: `include ${snippets2}/r.test.conf;` }] }),
    ]);
    ({ file: configFile } = writeConfig(yaml(1)));
  });
  after(async () => {
    await db?.end().catch(() => undefined);
    await Promise.allSettled([env?.stop(), ngx?.stop(), ngx2?.stop(), smtp?.dispose()]);
    await cluster?.stop();
  });

  it('certs run issues, deploys and verifies on postgres; the key is sealed in the database and no SQLite file exists', async () => {
    const r = await cli(['run', '--config', configFile, '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = parse<RunJson>(r);
    assert.deepEqual(doc.renew.map((o) => [o.domain, o.action]), [['r.test', 'issued']]);
    assert.deepEqual(doc.deploy.map((o) => [o.domain, o.action]), [['r.test', 'deployed']]);
    const current = join(env.dataDir, 'certs', 'r.test', 'current');
    const issued = new X509Certificate(readFileSync(join(current, 'cert.pem')));
    assert.equal(doc.endpoints[0]?.fingerprint256, issued.fingerprint256, 'judged on what clients see after the deploy');
    assert.equal(await servedFingerprint(ngx.port), issued.fingerprint256);
    assert.deepEqual(doc.endpoints[0]?.problems, []);
    assert.equal(doc.run.outcome, 'ok');
    assert.equal((await smtp.messages()).length, 0, 'nothing to warn about');

    // The store is the database: the rows are there, and nothing SQLite was created locally.
    assert.deepEqual(sqliteFilesUnder(env.dataDir), []);
    const rows = await db.query<{ lineage: string; version: number; fingerprint256: string }>('SELECT lineage, version, fingerprint256 FROM issued ORDER BY id');
    assert.deepEqual(rows.rows.map((x) => [x.lineage, x.version, x.fingerprint256]), [['r.test', 1, issued.fingerprint256]]);
    const files = await db.query<{ cert: string; fullchain: string; privkey_sealed: Buffer; kek_id: string }>('SELECT cert, fullchain, privkey_sealed, kek_id FROM issued_files WHERE lineage = $1 AND version = 1', ['r.test']);
    assert.equal(files.rowCount, 1);
    const f = files.rows[0]!;
    assert.equal(f.cert, readFileSync(join(current, 'cert.pem'), 'utf8'));
    assert.equal(f.fullchain, readFileSync(join(current, 'fullchain.pem'), 'utf8'));
    assert.equal(f.kek_id, parseKek(kek, 'test').id);
    // The key is sealed: neither its PEM, nor its base64 body, nor the DER appears in the column.
    const keyPem = readFileSync(join(current, 'privkey.pem'), 'utf8');
    assert.match(keyPem, /^-----BEGIN (EC |RSA )?PRIVATE KEY-----/);
    const body = keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const der = Buffer.from(body, 'base64');
    const sealed = f.privkey_sealed;
    assert.ok(Buffer.isBuffer(sealed) && sealed.length > der.length, 'a sealed blob, longer than the key');
    assert.equal(sealed.includes(Buffer.from('PRIVATE KEY')), false);
    assert.equal(sealed.includes(Buffer.from(body.slice(0, 40))), false);
    assert.equal(sealed.includes(der.subarray(0, 32)), false);
    const dump = (await db.query<{ t: string }>("SELECT string_agg(t::text, '') AS t FROM issued_files t")).rows[0]!.t;
    assert.equal(dump.includes('PRIVATE KEY'), false, 'no private key PEM anywhere in issued_files');

    const again = await cli(['run', '--config', configFile, '--json']);
    assert.equal(again.code, 0, describeRun(again));
    const doc2 = parse<RunJson>(again);
    assert.deepEqual(doc2.renew.map((o) => o.action), ['not-due']);
    assert.deepEqual(doc2.deploy, []);
    assert.deepEqual(sqliteFilesUnder(env.dataDir), []);
  });

  it('certs status and certs certificates answer from the database on a node with an empty dataDir', async () => {
    const fresh = join(env.dir, 'data-reader');
    const { file } = writeConfig(yaml(1, { dataDir: fresh }), 'reader.yaml');
    const issued = new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'r.test', 'current', 'cert.pem')));
    const s = await cli(['status', '--config', file, '--json']);
    assert.equal(s.code, 0, describeRun(s));
    const status = parse<StatusJson>(s);
    assert.deepEqual(status.endpoints.map((e) => [e.domain, e.port, e.fingerprint256]), [['r.test', ngx.port, issued.fingerprint256]]);
    const c = await cli(['certificates', '--config', file, '--json']);
    assert.equal(c.code, 0, describeRun(c));
    const certs = parse<CertsJson>(c);
    assert.deepEqual(certs.certificates.map((x) => [x.domain, x.current, x.versions.map((v) => v.version)]), [['r.test', null, [1]]]);
    assert.equal(certs.certificates[0]?.versions[0]?.serial.replace(/:/g, '').toLowerCase().replace(/^0+/, ''), issued.serialNumber.toLowerCase().replace(/^0+/, ''));
    assert.deepEqual(sqliteFilesUnder(fresh), [], 'a read creates no SQLite store');
  });

  it('a second node with a wrong key-encryption key fails naming the key and writes no archive version', async () => {
    const data2 = join(env.dir, 'data2');
    const { file } = writeConfig(yaml(2), 'node2.yaml');
    const before2 = await servedFingerprint(ngx2.port);
    const r = await cli(['nginx', 'write', '--config', file, '--json'], wrongKek);
    assert.notEqual(r.code, 0, describeRun(r));
    const out = r.stdout + r.stderr;
    assert.match(out, /r\.test version 1 was sealed with key-encryption key [0-9a-f]{16}, but the configured key is [0-9a-f]{16}/);
    assert.ok(out.includes(parseKek(kek, 'test').id), `names the key that sealed it: ${describeRun(r)}`);
    assert.ok(out.includes(parseKek(wrongKek, 'test').id), `names the configured key: ${describeRun(r)}`);
    assert.ok(!out.includes(kek) && !out.includes(wrongKek) && !out.includes(STORE_PG_PASSWORD), 'no secret printed');
    const archive = join(data2, 'certs', 'r.test', 'archive');
    assert.deepEqual(existsSync(archive) ? readdirSync(archive) : [], [], 'no version directory, no temporary one');
    assert.deepEqual(filesUnder(join(data2, 'certs')).filter((p) => /privkey|cert|chain/.test(p)), [], 'no half files');
    assert.equal(await servedFingerprint(ngx2.port), before2, 'nginx still serves what it served');
  });

  it('a second node materialises the version from the database: byte-equal files, the key 0600, nginx serving it', async () => {
    const data2 = join(env.dir, 'data2');
    const { file } = writeConfig(yaml(2), 'node2.yaml');
    const r = await cli(['nginx', 'write', '--config', file, '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const v1 = join(env.dataDir, 'certs', 'r.test', 'archive', '1');
    const v2 = join(data2, 'certs', 'r.test', 'archive', '1');
    const names = readdirSync(v1).sort();
    assert.deepEqual(readdirSync(v2).sort(), names);
    assert.ok(names.includes('privkey.pem') && names.includes('fullchain.pem'), names.join(' '));
    for (const n of names) assert.ok(readFileSync(join(v2, n)).equals(readFileSync(join(v1, n))), `${n} byte-equal to node 1's`);
    assert.equal(statSync(join(v2, 'privkey.pem')).mode & 0o777, 0o600);
    const issued = new X509Certificate(readFileSync(join(v1, 'cert.pem')));
    assert.equal(await servedFingerprint(ngx2.port), issued.fingerprint256, 'node 2 nginx serves the version node 1 issued');
    assert.ok(readFileSync(join(snippets2, 'r.test.conf'), 'utf8').includes(data2), 'the snippet points at node 2\'s own copy');
    assert.deepEqual(sqliteFilesUnder(data2), []);
  });

  it('a failing renewal sends renewal-failing once; the next run does not send it again', async () => {
    // A key type change makes r.test due; nothing listens where Pebble validates.
    const { file: changed } = writeConfig(yaml(1).replace(/challenge: .*\n/, 'challenge: { type: http-01, standalone: { address: 127.0.0.1, port: 1 } }\n').replace(/preflight: .*\n/, 'preflight: false\n').replace('r.test, endpoints', 'r.test, keyType: rsa2048, endpoints'), 'failing.yaml');
    const f = await cli(['run', '--config', changed, '--json']);
    assert.equal(f.code, 1, describeRun(f));
    const fdoc = parse<RunJson>(f);
    assert.equal(fdoc.renew[0]?.action, 'failed');
    assert.deepEqual(fdoc.endpoints[0]?.problems.map((p) => p.code), ['renewal-failing']);
    const mails = await smtp.messages();
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject, /renewal-failing/);
    const outbox1 = await db.query<{ key: string; delivered_at: string | null }>('SELECT key, delivered_at FROM outbox ORDER BY id');
    assert.equal(outbox1.rowCount, 1);
    assert.ok(outbox1.rows[0]!.delivered_at, 'delivered, as recorded in the database');

    const again = await cli(['run', '--config', changed, '--json']);
    assert.equal(again.code, 1, describeRun(again));
    const adoc = parse<RunJson>(again);
    assert.equal(adoc.renew[0]?.action, 'backoff');
    assert.deepEqual(adoc.endpoints[0]?.problems.map((p) => p.code), ['renewal-failing']);
    assert.equal((await smtp.messages()).length, 1, 'not sent again');
    assert.equal((await db.query('SELECT 1 FROM outbox')).rowCount, 1);
  });
});
