import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../../../src/core/errors.js';
import { applyMigrations, openDatabase, openStore, MIGRATIONS, SCHEMA_VERSION, type Migration } from '../../../src/store/index.js';
import { APPLICATION_ID } from '../../../src/store/migrations.js';
import { holdWriteLock } from './lock-holder.js';

const root = mkdtempSync(join(tmpdir(), 'certs-store-db-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
function freshDir(): string {
  const d = join(root, `t${++seq}`);
  mkdirSync(d);
  return d;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function schemaOf(db: Database.Database): string[] {
  return (db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY name').all() as { type: string; name: string; sql: string | null }[]).map(
    (r) => `${r.type} ${r.name} ${r.sql ?? ''}`,
  );
}

function storeError(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace in the message');
    return true;
  };
}

describe('openDatabase', () => {
  it('creates the directory 0700 and the file 0600, with WAL, foreign keys and the schema', () => {
    const dir = join(freshDir(), 'nested', 'data');
    const path = join(dir, 'certs.db');
    const db = openDatabase(path);
    try {
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(path), 0o600);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
      assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('application_id', { simple: true }), APPLICATION_ID);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['acme_accounts', 'acme_challenges', 'certificates', 'deploy_failures', 'deployments', 'endpoints', 'issued', 'locks', 'meta', 'nodes', 'notify_active', 'notify_meta', 'notify_seen', 'notify_sent', 'outbox', 'renewal_attempts', 'renewal_state', 'runs', 'scan_batches', 'scan_cycles', 'scan_results', 'scans']);
      db.exec("INSERT INTO endpoints (domain, host, port, source) VALUES ('a', 'a', 443, 'tls')");
      // SQLite gives -wal/-shm the main file's mode; both exist while the connection is open.
      assert.equal(mode(`${path}-wal`), 0o600);
      assert.equal(mode(`${path}-shm`), 0o600);
    } finally {
      db.close();
    }
  });

  it('tightens the mode of an existing database to 0600', () => {
    const path = join(freshDir(), 'certs.db');
    openDatabase(path).close();
    chmodSync(path, 0o644);
    openDatabase(path).close();
    assert.equal(mode(path), 0o600);
  });

  it('applies migrations once: reopening changes nothing', () => {
    const path = join(freshDir(), 'certs.db');
    const first = openDatabase(path);
    const schema = schemaOf(first);
    first.close();
    const second = openDatabase(path, { busyTimeoutMs: 250 });
    try {
      assert.equal(second.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.deepEqual(schemaOf(second), schema);
      assert.equal(second.pragma('busy_timeout', { simple: true }), 250);
      assert.equal(applyMigrations(second, MIGRATIONS), 0);
    } finally {
      second.close();
    }
  });

  it('applies only the migrations above user_version, and rolls back a failing one entirely', () => {
    const path = join(freshDir(), 'certs.db');
    const db = openDatabase(path);
    try {
      const next: Migration = { version: SCHEMA_VERSION + 1, name: 'test table', sql: 'CREATE TABLE t (x INTEGER);' };
      assert.equal(applyMigrations(db, [...MIGRATIONS, next]), 1);
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);

      const broken: Migration = { version: SCHEMA_VERSION + 2, name: 'broken', sql: 'CREATE TABLE u (x INTEGER); SELECT * FROM no_such_table;' };
      assert.throws(() => applyMigrations(db, [...MIGRATIONS, next, broken]), storeError('migration-failed', /migration \d+ \(broken\) failed: no such table/));
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'u'").pluck().get(), 0, 'no half-applied migration');
    } finally {
      db.close();
    }
  });

  it('refuses a migration list with gaps', () => {
    const db = new Database(':memory:');
    try {
      assert.throws(() => applyMigrations(db, [{ version: 2, name: 'x', sql: '' }]), storeError('migration-failed', /expected 1/));
    } finally {
      db.close();
    }
  });

  it('refuses a file that is not SQLite without changing it', () => {
    const dir = freshDir();
    for (const content of ['hello, this is a text file that happens to be called certs.db\n', 'short']) {
      const path = join(dir, 'certs.db');
      writeFileSync(path, content, { mode: 0o644 });
      chmodSync(path, 0o644);
      const before = statSync(path);
      for (const readonly of [false, true]) {
        assert.throws(
          () => openDatabase(path, { readonly }),
          storeError('not-a-database', new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a certs database \\(file is not a database\\)$`)),
        );
      }
      assert.equal(readFileSync(path, 'utf8'), content);
      assert.equal(mode(path), 0o644, 'mode untouched');
      assert.equal(statSync(path).mtimeMs, before.mtimeMs);
      assert.deepEqual(readdirSync(dir), ['certs.db'], 'no -wal/-shm/-journal created');
    }
  });

  it("refuses another program's SQLite database without changing it", () => {
    const dir = freshDir();
    const path = join(dir, 'certs.db');
    const other = new Database(path);
    other.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');");
    other.close();
    const bytes = readFileSync(path);
    assert.throws(() => openDatabase(path), storeError('not-a-database', /is not a certs database \(it already holds other tables: notes\)/));
    assert.throws(() => openDatabase(path, { readonly: true }), storeError('not-a-database'));
    assert.deepEqual(readFileSync(path), bytes);

    const tagged = join(dir, 'tagged.db');
    const app = new Database(tagged);
    app.pragma('application_id = 42');
    app.close();
    assert.throws(() => openDatabase(tagged), storeError('not-a-database', /application_id 42/));
  });

  it('refuses a database written by a newer version, leaving it as it was', () => {
    const path = join(freshDir(), 'certs.db');
    openDatabase(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    const bytes = readFileSync(path);
    for (const readonly of [false, true]) {
      assert.throws(
        () => openDatabase(path, { readonly }),
        storeError('schema-too-new', new RegExp(`schema version ${SCHEMA_VERSION + 5}; this certs knows up to ${SCHEMA_VERSION}`)),
      );
    }
    assert.deepEqual(readFileSync(path), bytes);
  });

  it('reports a database locked by another process beyond the busy timeout', async () => {
    const path = join(freshDir(), 'certs.db');
    // An un-migrated SQLite file: opening it must take the write lock to migrate.
    new Database(path).close();
    const lock = await holdWriteLock(path, 'EXCLUSIVE');
    try {
      const started = Date.now();
      assert.throws(
        () => openDatabase(path, { busyTimeoutMs: 150 }),
        storeError('locked', /^database is locked by another process \(.*certs\.db, waited 150 ms while .*\); try again when it finishes$/),
      );
      assert.ok(Date.now() - started >= 100, 'waited for the busy timeout first');
    } finally {
      await lock.release();
    }
    openDatabase(path).close();
  });
});

describe('openDatabase readonly', () => {
  it('returns null and creates nothing when there is no database yet', () => {
    const dir = join(freshDir(), 'data');
    assert.equal(openDatabase(join(dir, 'certs.db'), { readonly: true }), null);
    assert.equal(existsSync(dir), false);
    assert.equal(openStore(dir, { readonly: true }), null);
    assert.equal(existsSync(dir), false);
  });

  it('returns null for an empty file or an empty SQLite database, without migrating it', () => {
    const dir = freshDir();
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    assert.equal(openDatabase(empty, { readonly: true }), null);
    assert.equal(statSync(empty).size, 0);

    const bare = join(dir, 'bare.db');
    const raw = new Database(bare);
    raw.pragma('page_size = 4096');
    raw.exec('VACUUM');
    raw.close();
    const bytes = readFileSync(bare);
    assert.equal(openDatabase(bare, { readonly: true }), null);
    assert.deepEqual(readFileSync(bare), bytes);
  });

  it('opens a migrated database read-only', () => {
    const path = join(freshDir(), 'certs.db');
    openDatabase(path).close();
    const db = openDatabase(path, { readonly: true });
    assert.ok(db);
    try {
      assert.equal(db.readonly, true);
      assert.throws(() => db.exec("INSERT INTO endpoints (domain, host, port, source) VALUES ('a', 'a', 1, 'tls')"), /readonly/);
    } finally {
      db.close();
    }
  });

  it('refuses a database that still needs a migration', () => {
    const path = join(freshDir(), 'certs.db');
    const raw = new Database(path);
    applyMigrations(raw, MIGRATIONS.slice(0, SCHEMA_VERSION - 1));
    raw.close();
    if (SCHEMA_VERSION === 1) {
      // With a single migration "outdated" is version 0 with no schema: that is "no scans yet".
      assert.equal(openDatabase(path, { readonly: true }), null);
    } else {
      assert.throws(() => openDatabase(path, { readonly: true }), storeError('schema-outdated'));
    }
  });
});

describe('openDatabase on a path it may not write', () => {
  // Root ignores file modes, so as root the attempt runs as "nobody" in a child process.
  const isRoot = process.getuid?.() === 0;

  function openAll(paths: string[]): string[] {
    if (!isRoot) {
      return paths.map((p) => {
        try {
          openDatabase(p).close();
          return 'opened';
        } catch (err) {
          return err instanceof StoreError ? `${err.code}: ${err.message}` : `not a StoreError: ${String(err)}`;
        }
      });
    }
    const script = `
      import { openDatabase } from ${JSON.stringify(new URL('../../../src/store/db.ts', import.meta.url).href)};
      const out = [];
      for (const p of process.argv.slice(1)) {
        try { openDatabase(p).close(); out.push('opened'); }
        catch (e) { out.push(e.name === 'StoreError' ? e.code + ': ' + e.message : 'not a StoreError: ' + e); }
      }
      console.log(JSON.stringify(out));
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...paths], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      env: { ...process.env, HOME: tmpdir() },
    });
    assert.equal(res.status, 0, res.stderr);
    return JSON.parse(res.stdout.trim().split('\n').pop()!) as string[];
  }

  it('reports an unwritable file or directory as read-only, never a stack', () => {
    const dir = freshDir();
    const path = join(dir, 'certs.db');
    openDatabase(path).close();
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    chmodSync(root, 0o755);
    if (isRoot) {
      // Owned by root: "nobody" may read but not write.
      chmodSync(dir, 0o755);
      chmodSync(path, 0o644);
      chmodSync(sub, 0o755);
    } else {
      chmodSync(path, 0o444);
      chmodSync(sub, 0o555);
    }
    const bytes = readFileSync(path);
    try {
      const results = openAll([path, join(sub, 'certs.db'), join(sub, 'new', 'certs.db')]);
      assert.equal(results.length, 3);
      for (const r of results) {
        assert.match(r, /^read-only: .*certs\.db.*permission denied/i);
        assert.doesNotMatch(r, /\n|\bat .*:\d+:\d+/);
      }
      assert.deepEqual(readFileSync(path), bytes);
    } finally {
      chmodSync(sub, 0o700);
      chmodSync(path, 0o600);
    }
  });
});
