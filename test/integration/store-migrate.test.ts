/**
 * certs store migrate (--to, --from) and store rotate-key against a real PostgreSQL 15 (issue 15
 * "Migrations and moving"): every table and every issued version's files copied and verified,
 * back again byte for byte, restartable after kill -9, and keys re-sealed under a new KEK.
 *
 * The CLI runs in this process (runCli of src/cli/program.ts), so most cases need no build; --help
 * (which commander writes to the process's stdout for nested commands) runs dist/ (`npm run build`).
 * The kill -9 case runs the copier in a child process (tsx) that stops itself mid-copy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { runCli } from '../../src/cli/program.js';
import type { Io } from '../../src/cli/context.js';
import { switchCurrent, versionPaths, writeArchiveVersion } from '../../src/store/archive.js';
import { databasePath, openStore } from '../../src/store/index.js';
import { openKey, parseKek } from '../../src/store/key-crypto.js';
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { applyPgMigrations } from '../../src/store/pg/migrate.js';
import { TRANSFER_TABLES } from '../../src/store/transfer.js';
import { runCli as runBuiltCli } from '../helpers/cli.js';
import { fleet } from '../helpers/store-fixtures.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';

const KEK_A = randomBytes(32).toString('base64');
const KEK_B = randomBytes(32).toString('base64');
const kekA = parseKek(KEK_A, 'test');
const kekB = parseKek(KEK_B, 'test');
const TRANSFER_TS = fileURLToPath(new URL('../../src/store/transfer.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Versions with files in the archive: [lineage, version]. c.example.com 1 has none (pruned). */
const WITH_FILES: ReadonlyArray<readonly [string, number]> = [['a.example.com', 1], ['a.example.com', 2], ['b.example.com', 1], ['b.example.com', 2]];

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with `env` set for the call only. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => { stdout += s; return true; } },
    stderr: { write: (s: string) => { stderr += s; return true; } },
    now: () => new Date(),
  } as unknown as Io;
  try {
    const code = await runCli(['node', 'certs', ...args], io);
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function configFor(dir: string, dataDir: string, extra = ''): string {
  const file = join(dir, `certs-${randomBytes(4).toString('hex')}.yaml`);
  writeFileSync(file, `dataDir: ${dataDir}\n${extra}domains: []\n`);
  return file;
}

function pem(label: string, body: string): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`;
}

/** A SQLite store with something in every table, written through the repositories. */
function buildSource(dataDir: string): void {
  const store = openStore(dataDir);
  try {
    const t0 = Date.parse('2026-01-01T03:17:00.000Z');
    // History: three days of scans of 25 endpoints (results shared between days).
    for (let d = 0; d < 3; d++) store.scans.recordMany(fleet(25, { scannedAt: new Date(t0 + d * 86_400_000).toISOString() }));
    for (const [lineage, version] of WITH_FILES) {
      const privkey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const cert = pem('CERTIFICATE', `${lineage} v${version} leaf`);
      const chain = pem('CERTIFICATE', `${lineage} intermediate`);
      const written = writeArchiveVersion(dataDir, lineage, { cert, chain, fullchain: cert + chain, privkey });
      assert.equal(written.version, version);
      store.issued.record({
        lineage, version, fingerprint256: `FP:${lineage}:${version}`, serial: `0${version}AB`, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-04-01T00:00:00.000Z',
        issuer: 'CN=Test CA', names: [lineage, `www.${lineage}`], keyType: 'ec-p256', directoryUrl: 'https://acme.test/dir', profile: version === 2 ? 'shortlived' : null,
        ariCertId: `ari.${version}`, replacedId: version === 2 ? 'ari.1' : null, dir: written.paths.dir, issuedAt: `2026-01-0${version}T00:00:00.000Z`, reason: 'due', revokedAt: null, revokeReason: null,
      });
    }
    switchCurrent(dataDir, 'a.example.com', 2);
    switchCurrent(dataDir, 'b.example.com', 1);
    const pruned = store.issued.record({
      lineage: 'c.example.com', version: 1, fingerprint256: 'FP:c', serial: '01', notBefore: '2025-01-01T00:00:00.000Z', notAfter: '2025-04-01T00:00:00.000Z', issuer: 'CN=Test CA',
      names: ['c.example.com'], keyType: 'rsa-2048', directoryUrl: 'https://acme.test/dir', profile: null, ariCertId: null, replacedId: null, dir: join(dataDir, 'certs/c.example.com/archive/1'),
      issuedAt: '2025-01-01T00:00:00.000Z', reason: null, revokedAt: null, revokeReason: null,
    });
    store.issued.markRevoked(pruned, '2025-02-01T00:00:00.000Z', 4);
    store.accounts.save({ directoryUrl: 'https://acme.test/dir', accountUrl: 'https://acme.test/acct/1', keyFile: join(dataDir, 'accounts/acme.test.key'), email: 'ops@example.com', createdAt: '2025-12-01T00:00:00.000Z' });
    store.renewals.recordFailure('b.example.com', { at: '2026-01-03T00:00:00.000Z', error: 'rate limited "x"', code: 'acme-ca', nextAttemptAt: '2026-01-03T06:00:00.000Z' });
    store.renewals.setAri('a.example.com', { certId: 'ari.2', start: '2026-03-01T00:00:00.000Z', end: '2026-03-03T00:00:00.000Z', chosen: '2026-03-02T01:02:03.000Z', retryAfter: '2026-01-04T00:00:00.000Z', explanationUrl: null });
    const attempt = store.renewals.attemptStarted('a.example.com', '2026-01-02T00:00:00.000Z', 'ari window');
    store.renewals.attemptFinished(attempt, { at: '2026-01-02T00:01:00.000Z', outcome: 'issued', orderUrl: 'https://acme.test/order/9' });
    store.renewals.attemptStarted('b.example.com', '2026-01-03T00:00:00.000Z', 'due');
    store.deployments.save({ lineage: 'b.example.com', snippetPath: '/etc/nginx/certs/b.conf', snippetSha256: 'ab'.repeat(32), fingerprint256: 'FP:b.example.com:1', version: 1, deployedAt: '2026-01-01T00:00:00.000Z', verifiedAt: '2026-01-01T00:00:05.000Z', staleSince: null, staleDetail: null });
    store.deployments.recordFailure({ lineage: 'b.example.com', version: 2, fingerprint256: 'FP:b.example.com:2', code: 'nginx-test', detail: 'nginx: [emerg] bad\n\tline', at: '2026-01-02T00:00:00.000Z' });
    store.notifications.commitRun({
      at: '2026-01-03T03:17:00.000Z',
      markSent: ['expiry:host00001.example.com:443:FP:30', 'expiry:host00002.example.com:443:FP:14'],
      activate: [{ endpointKey: 'host00003.example.com:443', domain: 'host00003.example.com', endpoint: 'host00003.example.com:443', code: 'chain-incomplete', since: '2026-01-02T00:00:00.000Z', message: 'the chain is missing {an} "intermediate", \\ see' }],
      clear: [],
      messages: [
        { key: 'digest:email:ops@example.com:1', channel: 'email', to: ['ops@example.com', 'oncall@example.com'], subject: 'certs: 2 problems — Zertifikat läuft ab', text: 'line 1\nline "2", {3}\\4\tNULL', html: '<p>ok</p>', payload: null, createdAt: '2026-01-03T03:17:00.000Z', nextAttemptAt: '2026-01-03T03:17:00.000Z' },
        { key: 'webhook:1', channel: 'webhook', to: [], subject: 'certs digest', text: 'x', html: null, payload: { events: [{ n: 1.5, ok: true }] }, createdAt: '2026-01-03T03:17:00.000Z', nextAttemptAt: '2026-01-03T03:17:00.000Z' },
        { key: 'digest:ops-ntfy:1', channel: 'webhook', target: 'ops-ntfy', to: [], subject: 'certs digest', text: 'y', html: null, payload: { format: 'ntfy', body: { message: 'y' } }, createdAt: '2026-01-03T03:17:00.000Z', nextAttemptAt: '2026-01-03T03:17:00.000Z' },
      ],
      meta: { last_digest_at: '2026-01-03T03:17:00.000Z' },
      seen: [{ endpointKey: 'host00001.example.com:443', fingerprint256: 'FP:host00001' }],
    });
    const [first] = store.notifications.list({});
    store.notifications.markDelivered(first!.id, '2026-01-03T03:17:02.000Z', '250 2.0.0 OK');
    const run = store.runs.start('2026-01-03T03:17:00.000Z');
    store.runs.finish(run, { finishedAt: '2026-01-03T03:18:00.000Z', outcome: 'warning', exitCode: 1, summary: { renewed: ['a.example.com'], deployed: [], failed: ['b.example.com'], notified: 2 } });
    store.runs.start('2026-01-03T15:17:00.000Z');
    store.meta.set('daemon_minute', '17');
    assert.ok(store.locks.tryAcquire('run', 'host-a:4242', 60_000));
    // The cluster tables (issue 16), written as a node would.
    store.db.exec(`INSERT INTO nodes (name, version, started_at, last_seen_at, cycle_ms, last_run_started_at, last_run_finished_at, last_run_outcome)
        VALUES ('host-a', '0.1.0', '2026-01-03T00:00:00.000Z', '2026-01-03T03:18:00.000Z', 43200000, '2026-01-03T03:17:00.000Z', '2026-01-03T03:18:00.000Z', 'warning');
      INSERT INTO scan_cycles (cycle, created_at, created_by, batches, endpoints) VALUES ('2026-01-03T03:17:00.000Z', 1767410220000, 'host-a', 1, 25);
      INSERT INTO scan_batches (cycle, batch, domains_json, endpoints, claimed_by, token, lease_until, done_at, done_by, scanned)
        VALUES ('2026-01-03T03:17:00.000Z', 0, '["host00001.example.com"]', 25, 'host-a', 1, 1767410280000, 1767410230000, 'host-a', 25);
      INSERT INTO acme_challenges (token, key_authorization, domain, node, created_at, expires_at) VALUES ('tok-1', 'tok-1.thumb', 'a.example.com', 'host-a', 1767410220000, 1767410520000);`);
  } finally {
    store.close();
  }
}

function keyOf(db: Database.Database, table: string): string {
  const cols = (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string; pk: number }[]).filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  return cols.map((c) => `"${c.name}"`).join(', ');
}

/** Every row of every table of the SQLite store at `dataDir`, in key order. */
function sqliteContent(dataDir: string): Record<string, unknown[]> {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    return Object.fromEntries(TRANSFER_TABLES.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY ${keyOf(db, t)}`).all()]));
  } finally {
    db.close();
  }
}

async function withPg<T>(url: string, fn: (c: Awaited<ReturnType<typeof connectPg>>) => Promise<T>): Promise<T> {
  const c = await connectPg(parsePgUrl(url));
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function pgTableNames(url: string): Promise<string[]> {
  return withPg(url, async (c) => (await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")).rows.map((r) => r.t));
}

interface MigrateJson {
  direction: string;
  alreadyMigrated: boolean;
  tables: Record<string, { rows: number; checksum: string }>;
  versionsWithoutFiles: number;
}

describe('certs store migrate and rotate-key', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let dir: string;
  let source: string;
  let sourceConfig: string;
  let sourceContent: Record<string, unknown[]>;
  const env = { CERTS_KEY_ENCRYPTION_KEY: KEK_A };

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    dir = mkdtempSync(join(tmpdir(), 'certs-store-migrate-'));
    source = join(dir, 'source');
    buildSource(source);
    sourceConfig = configFor(dir, source);
    sourceContent = sqliteContent(source);
    cluster = await startStoreCluster();
  });
  after(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function migrateTo(url: string): Promise<MigrateJson> {
    const r = await cli(['store', 'migrate', '--config', sourceConfig, '--to', url, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as MigrateJson;
  }

  it('--to copies every table and the files, verified; --from gives the same store and archive back', async () => {
    for (const t of TRANSFER_TABLES) assert.ok(sourceContent[t]!.length > 0, `the source has rows in ${t}`);
    const url = await cluster.newDatabase();
    const to = await migrateTo(url);
    assert.equal(to.direction, 'to-postgres');
    assert.equal(to.alreadyMigrated, false);
    assert.equal(to.versionsWithoutFiles, 1);
    assert.deepEqual(Object.keys(to.tables).sort(), [...TRANSFER_TABLES, 'issued_files'].sort());
    await withPg(url, async (c) => {
      for (const t of TRANSFER_TABLES) {
        const n = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${t}"`)).rows[0]!.n);
        assert.equal(n, sourceContent[t]!.length, `${t}: rows in PostgreSQL`);
        assert.equal(to.tables[t]!.rows, n, `${t}: rows reported`);
      }
      // Every version with files, its key opening with the KEK to the archive's privkey.pem.
      const files = (await c.query<{ lineage: string; version: number; cert: string; fullchain: string; privkey_sealed: Buffer; kek_id: string }>(
        'SELECT lineage, version, cert, fullchain, privkey_sealed, kek_id FROM issued_files ORDER BY lineage, version')).rows;
      assert.deepEqual(files.map((f) => [f.lineage, f.version]), WITH_FILES);
      for (const f of files) {
        const p = versionPaths(source, f.lineage, f.version);
        assert.equal(f.kek_id, kekA.id);
        assert.equal(openKey([kekA], f.privkey_sealed, f), readFileSync(p.privkey, 'utf8'));
        assert.equal(f.cert, readFileSync(p.cert, 'utf8'));
        assert.equal(f.fullchain, readFileSync(p.fullchain, 'utf8'));
      }
    });

    const back = join(dir, 'back');
    const r = await cli(['store', 'migrate', '--config', configFor(dir, back), '--from', url, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const from = JSON.parse(r.stdout) as MigrateJson;
    assert.equal(from.direction, 'from-postgres');
    assert.deepEqual(from.tables, to.tables, 'the same counts and checksums both ways');
    assert.deepEqual(sqliteContent(back), sourceContent, 'every row back as it was');
    for (const [lineage, version] of WITH_FILES) {
      const a = versionPaths(source, lineage, version);
      const b = versionPaths(back, lineage, version);
      for (const f of ['cert', 'chain', 'fullchain', 'privkey'] as const) assert.ok(readFileSync(b[f]).equals(readFileSync(a[f])), `${lineage} ${version} ${f} byte-equal`);
      assert.equal(statSync(b.privkey).mode & 0o777, 0o600, 'private key 0600');
    }
    assert.equal(readlinkSync(join(back, 'certs/a.example.com/current')), 'archive/2', 'current: the newest version');
    assert.equal(readlinkSync(join(back, 'certs/b.example.com/current')), 'archive/1', 'current: the deployed version');
    assert.equal(existsSync(join(back, 'certs/c.example.com')), false, 'a pruned version stays without files');

    // Identity sequences continue after the copied ids.
    await withPg(url, async (c) => {
      const maxRun = Math.max(...(sourceContent['runs'] as { id: number }[]).map((x) => x.id));
      const { rows } = await c.query<{ id: string }>("INSERT INTO runs (started_at) VALUES ('2026-02-01T00:00:00.000Z') RETURNING id");
      assert.equal(Number(rows[0]!.id), maxRun + 1);
    });

    // --from never overwrites a store.
    const again = await cli(['store', 'migrate', '--config', configFor(dir, back), '--from', url], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  it('into its own finished copy: "already migrated"; a foreign or different database is refused and left as it was', async () => {
    const url = await cluster.newDatabase();
    const first = await migrateTo(url);
    const second = await migrateTo(url);
    assert.equal(second.alreadyMigrated, true);
    assert.deepEqual(second.tables, first.tables);
    const text = await cli(['store', 'migrate', '--config', sourceConfig, '--to', url], env);
    assert.match(text.stdout, /^already migrated: .*checksums equal/);

    await withPg(url, (c) => c.query("UPDATE meta SET value = '42' WHERE key = 'daemon_minute'"));
    const differs = await cli(['store', 'migrate', '--config', sourceConfig, '--to', url], env);
    assert.equal(differs.code, 1);
    assert.match(differs.stderr, /is not empty and is not a copy of .*meta \(\d+ rows here, \d+ in the destination, checksums differ\)/);
    assert.equal(await withPg(url, async (c) => (await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'daemon_minute'")).rows[0]!.value), '42');

    const foreign = await cluster.newDatabase();
    await withPg(foreign, (c) => c.query('CREATE TABLE customers (id int)'));
    const refused = await cli(['store', 'migrate', '--config', sourceConfig, '--to', foreign], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not empty: it holds table customers/);
    assert.deepEqual(await pgTableNames(foreign), ['customers']);
  });

  it('a copy that does not verify is an error and leaves the destination empty', async () => {
    const url = await cluster.newDatabase();
    // The schema first (an empty schema is an empty destination), with a trigger that changes
    // one value on its way in: the read-back checksum of meta must then differ.
    await withPg(url, async (c) => {
      await applyPgMigrations(c);
      await c.query(`CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.value := NEW.value || '!'; RETURN NEW; END $$;
        CREATE TRIGGER tamper BEFORE INSERT ON meta FOR EACH ROW EXECUTE FUNCTION tamper()`);
    });
    const r = await cli(['store', 'migrate', '--config', sourceConfig, '--to', url], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the copy does not match the source, nothing was kept: meta \(\d+ rows here, \d+ in PostgreSQL, checksums differ\)/);
    await withPg(url, async (c) => {
      for (const t of [...TRANSFER_TABLES, 'issued_files']) assert.equal(Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${t}"`)).rows[0]!.n), 0, t);
    });
  });

  it('a missing or malformed key-encryption key: a clear error and nothing written', async () => {
    const url = await cluster.newDatabase();
    const missing = await cli(['store', 'migrate', '--config', sourceConfig, '--to', url], { CERTS_KEY_ENCRYPTION_KEY: undefined });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /set CERTS_KEY_ENCRYPTION_KEY/);
    const bad = await cli(['store', 'migrate', '--config', sourceConfig, '--to', url], { CERTS_KEY_ENCRYPTION_KEY: 'c2hvcnQ=' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /CERTS_KEY_ENCRYPTION_KEY: the key-encryption key must be 32 bytes in base64.*decodes to 5 bytes/);
    assert.ok(!bad.stderr.includes('c2hvcnQ'), 'the value is not echoed');
    assert.deepEqual(await pgTableNames(url), [], 'nothing created');

    // Going back with another KEK than the one that sealed the keys: no store, no file.
    await migrateTo(url);
    const back = join(dir, 'wrong-kek');
    const wrong = await cli(['store', 'migrate', '--config', configFor(dir, back), '--from', url], { CERTS_KEY_ENCRYPTION_KEY: KEK_B });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`sealed with key-encryption key ${kekA.id}, but the configured key is ${kekB.id}`));
    assert.equal(existsSync(databasePath(back)), false);
    assert.equal(existsSync(join(back, 'certs')), false);
  });

  it('kill -9 in the middle of the copy, then the same command again: a complete copy with identical checksums', async () => {
    const reference = await migrateTo(await cluster.newDatabase());
    const url = await cluster.newDatabase();
    // The copier in a child that announces when `scans` is copied, then waits to be killed.
    const code = `
      const { migrateToPostgres } = await import(${JSON.stringify(pathToFileURL(TRANSFER_TS).href)});
      const { parseKek } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'src/store/key-crypto.ts')).href)});
      setInterval(() => {}, 1000);
      await migrateToPostgres(process.argv[1], process.argv[2], parseKek(process.env.CERTS_KEY_ENCRYPTION_KEY, 'env'), {
        onTable: async (t) => { if (t === 'scans') { process.stdout.write('PAUSED\\n'); await new Promise(() => {}); } },
      });
      process.stdout.write('FINISHED\\n');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, source, url], {
      cwd: REPO, env: { ...process.env, ...env, NODE_OPTIONS: undefined }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('PAUSED')) resolve();
      });
      child.on('exit', () => reject(new Error(`the child ended before pausing: ${out} ${err}`)));
    });
    // Mid-copy: the rows are inside the child's open transaction, invisible to anyone else.
    assert.equal(await withPg(url, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM scans')).rows[0]!.n)), 0);
    child.kill('SIGKILL');
    assert.equal(await exited, null, 'killed by the signal');
    assert.ok(!out.includes('FINISHED'));

    const rerun = await migrateTo(url);
    assert.equal(rerun.alreadyMigrated, false);
    assert.deepEqual(rerun.tables, reference.tables);
    await withPg(url, async (c) => {
      for (const t of TRANSFER_TABLES) assert.equal(Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${t}"`)).rows[0]!.n), sourceContent[t]!.length, t);
    });
  });

  it('rotate-key re-seals every key under the new KEK; the old one opens none; a rerun changes nothing', async () => {
    const url = await cluster.newDatabase();
    await migrateTo(url);
    const config = configFor(dir, join(dir, 'rotate'), `store:\n  engine: postgres\n  url: "${url}"\n  keyEncryptionKey: "${KEK_A}"\n`);
    const r = await cli(['store', 'rotate-key', '--config', config, '--json'], { CERTS_NEW_KEY_ENCRYPTION_KEY: KEK_B });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { oldKekId: kekA.id, newKekId: kekB.id, total: 4, resealed: 4, alreadyNew: 0 });
    await withPg(url, async (c) => {
      const rows = (await c.query<{ lineage: string; version: number; privkey_sealed: Buffer; kek_id: string }>('SELECT lineage, version, privkey_sealed, kek_id FROM issued_files')).rows;
      assert.equal(rows.length, 4);
      for (const row of rows) {
        assert.equal(row.kek_id, kekB.id);
        assert.equal(openKey([kekB], row.privkey_sealed, row), readFileSync(versionPaths(source, row.lineage, row.version).privkey, 'utf8'));
        assert.throws(() => openKey([kekA], row.privkey_sealed, row), /sealed with key-encryption key/);
      }
    });
    const again = await cli(['store', 'rotate-key', '--config', config, '--json'], { CERTS_NEW_KEY_ENCRYPTION_KEY: KEK_B });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { oldKekId: kekA.id, newKekId: kekB.id, total: 4, resealed: 0, alreadyNew: 4 });
    const noNew = await cli(['store', 'rotate-key', '--config', config], { CERTS_NEW_KEY_ENCRYPTION_KEY: undefined });
    assert.equal(noNew.code, 2);
    assert.match(noNew.stderr, /set CERTS_NEW_KEY_ENCRYPTION_KEY/);
  });

  it('--help names where the secrets come from (the built CLI)', async () => {
    const r = await runBuiltCli(['store', 'migrate', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--to <url>/);
    assert.match(r.stdout, /CERTS_KEY_ENCRYPTION_KEY/);
    assert.match(r.stdout, /PGPASSWORD/);
    const k = await runBuiltCli(['store', 'rotate-key', '--help']);
    assert.match(k.stdout, /CERTS_NEW_KEY_ENCRYPTION_KEY/);
  });
});
