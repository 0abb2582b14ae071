/**
 * The PostgreSQL schema (store/pg/schema.ts) and its migrator (store/pg/migrate.ts) against a real
 * PostgreSQL 15 (issue 15): version 1 is SQLite's schema at version 9 table for table and column for
 * column (read from a SQLite store opened here, so a column added on one side only fails), plus
 * issued_files; migrating twice applies nothing; concurrent migrators, in one process and in two,
 * apply each migration once; a newer database is refused; a failing migration leaves nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { StoreError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { openPgDb, type PgDb } from '../../src/store/pg/db.js';
import { PG_MIGRATION_LOCK, applyPgMigrations, pgSchemaVersion } from '../../src/store/pg/migrate.js';
import { PG_MIGRATIONS, PG_MIGRATIONS_TABLE, type PgMigration } from '../../src/store/pg/schema.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';
const MIGRATE_TS = fileURLToPath(new URL('../../src/store/pg/migrate.ts', import.meta.url));
const SCHEMA_TS = fileURLToPath(new URL('../../src/store/pg/schema.ts', import.meta.url));

/** Tables only the PostgreSQL engine has. */
const PG_ONLY = ['certs_schema_migrations', 'issued_files'];

/**
 * The real migrations followed by two test ones, the second an INSERT: a migrator applying it twice
 * would leave two rows (a second CREATE TABLE would fail loudly, an INSERT would not).
 */
const WITH_COUNTER: readonly PgMigration[] = [
  ...PG_MIGRATIONS,
  { version: PG_MIGRATIONS.length + 1, name: 'test: a counter table', sql: 'CREATE TABLE test_counter (n integer NOT NULL)' },
  { version: PG_MIGRATIONS.length + 2, name: 'test: one row', sql: 'INSERT INTO test_counter VALUES (1)' },
];
const LAST = WITH_COUNTER.length;

interface SqliteColumn {
  cid: number;
  name: string;
  type: string;
  notnull: number;
  pk: number;
}
interface SqliteTable {
  name: string;
  sql: string;
  columns: SqliteColumn[];
  /** "from->table.to ON DELETE action" */
  foreignKeys: string[];
  /** Column lists of UNIQUE constraints (not the primary key). */
  uniques: string[];
  /** Explicit indexes: "name(col, col)". */
  indexes: string[];
}

/** SQLite's schema at its latest version, as a store opened today creates it. */
function sqliteSchema(dir: string): Map<string, SqliteTable> {
  const store = openStore(dir);
  try {
    const db = store.db;
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    const out = new Map<string, SqliteTable>();
    const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string; sql: string }[];
    for (const t of tables) {
      const fks = db.prepare(`SELECT * FROM pragma_foreign_key_list(?)`).all(t.name) as { from: string; table: string; to: string; on_delete: string }[];
      const indexList = db.prepare('SELECT * FROM pragma_index_list(?)').all(t.name) as { name: string; unique: number; origin: string }[];
      const cols = (index: string): string => (db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(index) as { name: string }[]).map((c) => c.name).join(', ');
      out.set(t.name, {
        name: t.name,
        sql: t.sql,
        columns: db.prepare('SELECT * FROM pragma_table_info(?) ORDER BY cid').all(t.name) as SqliteColumn[],
        foreignKeys: fks.map((f) => `${f.from}->${f.table}.${f.to} ON DELETE ${f.on_delete}`).sort(),
        uniques: indexList.filter((i) => i.origin === 'u').map((i) => cols(i.name)).sort(),
        indexes: indexList.filter((i) => i.origin === 'c').map((i) => `${i.name}(${cols(i.name)})`).sort(),
      });
    }
    return out;
  } finally {
    store.close();
  }
}

async function pgColumns(q: pg.ClientBase, table: string): Promise<{ column_name: string; data_type: string; is_nullable: string; collation_name: string | null }[]> {
  const r = await q.query(
    `SELECT column_name, data_type, is_nullable, collation_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return r.rows;
}

/** Constraint columns of one kind ('p' primary key, 'u' unique, 'f' foreign key, 'c' check) per constraint, in key order. */
async function pgConstraints(q: pg.ClientBase, table: string, kind: 'p' | 'u' | 'f' | 'c'): Promise<{ cols: string; ref: string | null; refcols: string | null; ondelete: string }[]> {
  const r = await q.query(
    `SELECT (SELECT string_agg(a.attname, ', ' ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS cols,
            CASE WHEN c.confrelid = 0 THEN NULL ELSE c.confrelid::regclass::text END AS ref,
            (SELECT string_agg(a.attname, ', ' ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS refcols,
            c.confdeltype AS ondelete
       FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = $2`,
    [table, kind],
  );
  return r.rows;
}

/** Indexes that back no constraint, as "name(col, col)". */
async function pgPlainIndexes(q: pg.ClientBase, table: string): Promise<string[]> {
  const r = await q.query<{ name: string; cols: string }>(
    `SELECT i.relname AS name,
            (SELECT string_agg(a.attname, ', ' ORDER BY k.i) FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n) AS cols
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
    [table],
  );
  return r.rows.map((row) => `${row.name}(${row.cols})`).sort();
}

const ON_DELETE: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** What a SQLite declared type must become (the convention in pg/schema.ts). */
function expectedTypes(sqliteType: string): string[] {
  switch (sqliteType.toUpperCase()) {
    case 'INTEGER': return ['bigint', 'integer'];
    case 'REAL': return ['double precision'];
    case 'BLOB': return ['bytea'];
    case 'TEXT': return ['text'];
    default: return [`(unexpected SQLite type ${sqliteType})`];
  }
}

async function migrationRows(q: pg.ClientBase): Promise<{ version: number; name: string; applied_at: string }[]> {
  return (await q.query(`SELECT version, name, applied_at FROM ${PG_MIGRATIONS_TABLE} ORDER BY version`)).rows;
}

async function relationExists(q: pg.ClientBase, name: string): Promise<boolean> {
  const r = await q.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [name]);
  return r.rows[0]?.present === true;
}

/** Resolves once `n` sessions of this database wait for the migration lock (polls pg_locks: no fixed sleep). */
async function waitForLockWaiters(q: pg.ClientBase, n: number, timeoutMs = 30_000): Promise<void> {
  const key = BigInt(PG_MIGRATION_LOCK);
  // An advisory lock on a bigint key shows classid = high 32 bits, objid = low 32 bits, objsubid = 1.
  const hi = Number(key >> 32n);
  const lo = Number(key & 0xffffffffn);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await q.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2 AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [hi, lo],
    );
    if ((r.rows[0]?.n ?? 0) >= n) return;
    if (Date.now() > deadline) assert.fail(`only ${r.rows[0]?.n ?? 0} of ${n} migrators came to wait for the migration lock within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Holds the migration lock on its own connection until release() (so migrators started meanwhile all queue up). */
async function holdMigrationLock(url: string): Promise<{ client: pg.Client; release(): Promise<void> }> {
  const client = await connectPg(parsePgUrl(url));
  await client.query('BEGIN');
  await client.query(`SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`);
  return {
    client,
    async release() {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** A child process that applies WITH_COUNTER to `url` and prints its {from, to} as JSON. */
function migrateInChild(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    import pg from 'pg';
    import { applyPgMigrations } from ${JSON.stringify(MIGRATE_TS)};
    import { connectPg, parsePgUrl } from ${JSON.stringify(fileURLToPath(new URL('../../src/store/pg/connect.ts', import.meta.url)))};
    import { PG_MIGRATIONS } from ${JSON.stringify(SCHEMA_TS)};
    const list = [...PG_MIGRATIONS, ...JSON.parse(process.env.CERTS_TEST_EXTRA)];
    const client = await connectPg(parsePgUrl(process.env.CERTS_TEST_PG_URL));
    try {
      process.stdout.write(JSON.stringify(await applyPgMigrations(client, list)));
    } finally {
      await client.end();
    }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, CERTS_TEST_PG_URL: url, CERTS_TEST_EXTRA: JSON.stringify(WITH_COUNTER.slice(PG_MIGRATIONS.length)) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Two migrators' results: the one granted the lock first found version 0; the other found at least
 * the first migration done (the lock is released between migrations, so it may have applied some of
 * the later ones itself); both left the database at the last version.
 */
function assertSharedWork(results: { from: number; to: number }[]): void {
  const [first, second] = [...results].sort((x, y) => x.from - y.from);
  assert.deepEqual(first, { from: 0, to: LAST });
  assert.equal(second?.to, LAST);
  assert.ok(second.from >= 1 && second.from <= LAST, `the second migrator found version ${second.from}`);
}

async function assertAppliedOnce(q: pg.ClientBase): Promise<void> {
  assert.deepEqual((await migrationRows(q)).map((r) => [r.version, r.name]), WITH_COUNTER.map((m) => [m.version, m.name]));
  assert.deepEqual((await q.query('SELECT n FROM test_counter')).rows, [{ n: 1 }], 'the INSERT migration ran exactly once');
}

describe('PostgreSQL schema and migrations', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let dir: string;
  let sqlite: Map<string, SqliteTable>;
  const open: { end(): Promise<void> }[] = [];

  async function client(url: string): Promise<pg.Client> {
    const c = await connectPg(parsePgUrl(url));
    open.push(c);
    return c;
  }
  async function pgDb(url: string): Promise<PgDb> {
    const db = await openPgDb(parsePgUrl(url));
    open.push({ end: () => db.close() });
    return db;
  }

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    dir = mkdtempSync(join(tmpdir(), 'certs-pg-schema-'));
    sqlite = sqliteSchema(dir);
    cluster = await startStoreCluster();
  });
  after(async () => {
    for (const c of open) await c.end().catch(() => undefined);
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a fresh database gets SQLite's tables at its latest version, column for column, plus issued_files", async () => {
    const q = await client(await cluster.newDatabase());
    assert.equal(await pgSchemaVersion(q), 0);
    assert.deepEqual(await applyPgMigrations(q), { from: 0, to: PG_MIGRATIONS.length });
    assert.equal(await pgSchemaVersion(q), PG_MIGRATIONS.length);

    const tables = (await q.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    )).rows.map((r) => r.table_name);
    assert.deepEqual(tables, [...sqlite.keys(), ...PG_ONLY].sort());

    for (const t of sqlite.values()) {
      const cols = await pgColumns(q, t.name);
      // Same names in the same order: SELECT * and positional copies agree between engines.
      assert.deepEqual(cols.map((c) => c.column_name), t.columns.map((c) => c.name), `${t.name}: columns`);
      for (const [i, sc] of t.columns.entries()) {
        const pc = cols[i]!;
        const where = `${t.name}.${sc.name}`;
        assert.ok(expectedTypes(sc.type).includes(pc.data_type), `${where}: SQLite ${sc.type} became ${pc.data_type}`);
        // SQLite lets NULL into a non-INTEGER primary key column; nothing of certs relies on that.
        assert.equal(pc.is_nullable === 'NO', sc.notnull === 1 || sc.pk > 0, `${where}: NOT NULL`);
        if (pc.data_type === 'text') assert.equal(pc.collation_name, 'C', `${where}: collation (SQLite compares TEXT bytewise)`);
      }
      const pk = t.columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name).join(', ');
      assert.deepEqual((await pgConstraints(q, t.name, 'p')).map((c) => c.cols), pk ? [pk] : [], `${t.name}: primary key`);
      assert.deepEqual((await pgConstraints(q, t.name, 'u')).map((c) => c.cols).sort(), t.uniques, `${t.name}: UNIQUE constraints`);
      const fks = (await pgConstraints(q, t.name, 'f')).map((c) => `${c.cols}->${c.ref}.${c.refcols} ON DELETE ${ON_DELETE[c.ondelete]}`).sort();
      assert.deepEqual(fks, t.foreignKeys, `${t.name}: foreign keys`);
      const sqliteChecks = (t.sql.match(/\bCHECK\s*\(/gi) ?? []).length;
      assert.equal((await pgConstraints(q, t.name, 'c')).length, sqliteChecks, `${t.name}: CHECK constraints`);
      assert.deepEqual(await pgPlainIndexes(q, t.name), t.indexes, `${t.name}: indexes`);
    }

    const files = await pgColumns(q, 'issued_files');
    assert.deepEqual(files.map((c) => [c.column_name, c.data_type, c.is_nullable]), [
      ['lineage', 'text', 'NO'], ['version', 'integer', 'NO'], ['cert', 'text', 'NO'], ['chain', 'text', 'NO'],
      ['fullchain', 'text', 'NO'], ['privkey_sealed', 'bytea', 'NO'], ['kek_id', 'text', 'NO'],
    ]);
    assert.deepEqual((await pgConstraints(q, 'issued_files', 'p')).map((c) => c.cols), ['lineage, version']);
  });

  it('the constraints hold as in SQLite: CHECKs refuse, ON DELETE cascades and sets NULL, identities count from 1', async () => {
    const q = await client(await cluster.newDatabase());
    await applyPgMigrations(q);
    const ep = await q.query<{ id: string }>("INSERT INTO endpoints (domain, host, port, source) VALUES ('a.test', 'a.test', 443, 'tls') RETURNING id");
    assert.equal(Number(ep.rows[0]!.id), 1);
    await assert.rejects(q.query("INSERT INTO endpoints (domain, host, port, source) VALUES ('b.test', 'b.test', 443, 'ftp')"), /check constraint/);
    await assert.rejects(q.query("INSERT INTO endpoints (domain, host, port, source) VALUES ('a.test', 'a.test', 443, 'tls')"), /unique constraint/);
    await assert.rejects(q.query("INSERT INTO certificates (fingerprint256) VALUES ('ab')"), /check constraint/);
    const scan = await q.query<{ id: string }>('INSERT INTO scans (endpoint_id, scanned_at, result_id) VALUES (1, 1700000000000, 1) RETURNING id');
    await q.query('UPDATE endpoints SET last_scan_id = $1', [scan.rows[0]!.id]);
    await q.query('DELETE FROM scans');
    assert.deepEqual((await q.query('SELECT last_scan_id FROM endpoints')).rows, [{ last_scan_id: null }]);
    await q.query('INSERT INTO scans (endpoint_id, scanned_at, result_id) VALUES (1, 1700000000001, 1)');
    await q.query('DELETE FROM endpoints');
    assert.deepEqual((await q.query('SELECT count(*)::int AS n FROM scans')).rows, [{ n: 0 }]);
    // Bytewise order, whatever the database's locale: 'B' (0x42) before 'a' (0x61), as SQLite sorts.
    await q.query("INSERT INTO meta (key, value) VALUES ('a', '1'), ('B', '2'), ('_', '3')");
    assert.deepEqual((await q.query('SELECT key FROM meta ORDER BY key')).rows.map((r: { key: string }) => r.key), ['B', '_', 'a']);
  });

  it('a second run applies nothing and takes no lock', async () => {
    const url = await cluster.newDatabase();
    const q = await client(url);
    await applyPgMigrations(q);
    const before = await migrationRows(q);
    assert.equal(before.length, PG_MIGRATIONS.length);
    const again = await client(url);
    // Were it to take the migration lock, it would fail on lock_timeout behind the held one.
    await again.query("SET lock_timeout = '3s'");
    const holder = await holdMigrationLock(url);
    try {
      assert.deepEqual(await applyPgMigrations(again), { from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length });
    } finally {
      await holder.release();
    }
    assert.deepEqual(await migrationRows(q), before);
  });

  it('two connections migrating at once (a pg.Client and a PgDb): each migration applied once', async () => {
    const url = await cluster.newDatabase();
    const holder = await holdMigrationLock(url);
    const results = Promise.all([applyPgMigrations(await client(url), WITH_COUNTER), applyPgMigrations(await pgDb(url), WITH_COUNTER)]);
    results.catch(() => undefined);
    await waitForLockWaiters(holder.client, 2);
    await holder.release();
    assertSharedWork(await results);
    await assertAppliedOnce(await client(url));
  });

  it('two processes migrating at once: each migration applied once', async () => {
    const url = await cluster.newDatabase();
    const holder = await holdMigrationLock(url);
    const children = Promise.all([migrateInChild(url), migrateInChild(url)]);
    await waitForLockWaiters(holder.client, 2);
    await holder.release();
    const outs = await children;
    for (const o of outs) assert.equal(o.code, 0, o.stderr);
    assertSharedWork(outs.map((o) => JSON.parse(o.stdout) as { from: number; to: number }));
    await assertAppliedOnce(await client(url));
  });

  it('a database at a version newer than the list: schema-too-new, nothing touched', async () => {
    const url = await cluster.newDatabase();
    const q = await client(url);
    await applyPgMigrations(q);
    await q.query(`INSERT INTO ${PG_MIGRATIONS_TABLE} (version, name, applied_at) VALUES ($1, 'from a newer certs', '2030-01-01T00:00:00.000Z')`, [PG_MIGRATIONS.length + 1]);
    const rows = await migrationRows(q);
    for (const target of [q, await pgDb(url)]) {
      await assert.rejects(applyPgMigrations(target), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'schema-too-new');
        assert.match(err.message, new RegExp(`schema version ${PG_MIGRATIONS.length + 1}, newer than this certs knows \\(${PG_MIGRATIONS.length}\\)`));
        assert.match(err.message, /database "certs_/);
        return true;
      });
    }
    assert.equal(await pgSchemaVersion(q), PG_MIGRATIONS.length + 1);
    assert.deepEqual(await migrationRows(q), rows);
  });

  it('a migration whose second statement fails: migration-failed naming it, nothing of it left, version unchanged', async () => {
    const bad: PgMigration = {
      version: PG_MIGRATIONS.length + 1,
      name: 'test: bad second statement',
      sql: 'CREATE TABLE left_behind (x integer); INSERT INTO no_such_table VALUES (1);',
    };
    for (const kind of ['pg.Client', 'PgDb'] as const) {
      const url = await cluster.newDatabase();
      const q = await client(url);
      const target = kind === 'PgDb' ? await pgDb(url) : q;
      await assert.rejects(applyPgMigrations(target, [...PG_MIGRATIONS, bad]), (err: unknown) => {
        assert.ok(err instanceof StoreError, `${kind}: ${String(err)}`);
        assert.equal(err.code, 'migration-failed', kind);
        assert.match(err.message, new RegExp(`migration ${bad.version} \\(test: bad second statement\\) failed: .*no_such_table`), kind);
        return true;
      });
      // Migration 1 went through in its own transaction; the bad one left nothing.
      assert.equal(await pgSchemaVersion(q), PG_MIGRATIONS.length, kind);
      assert.equal(await relationExists(q, 'left_behind'), false, `${kind}: left_behind was rolled back`);
      assert.equal(await relationExists(q, 'endpoints'), true, kind);
      // The connection is usable again (not stuck in an aborted transaction).
      assert.deepEqual(await applyPgMigrations(target), { from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length }, kind);
    }
  });

  it('a first migration that fails leaves the database as it was, bookkeeping table included', async () => {
    const q = await client(await cluster.newDatabase());
    await assert.rejects(applyPgMigrations(q, [{ version: 1, name: 'test: broken', sql: 'CREATE TABLE t1 (x integer); SELECT 1/0;' }]), (err: unknown) => {
      assert.ok(err instanceof StoreError && err.code === 'migration-failed', String(err));
      assert.match(err.message, /migration 1 \(test: broken\) failed: division by zero/);
      return true;
    });
    assert.equal(await relationExists(q, PG_MIGRATIONS_TABLE), false);
    assert.equal(await relationExists(q, 't1'), false);
    assert.equal(await pgSchemaVersion(q), 0);
  });

  it('refuses a pg.Pool and a list with a gap', async () => {
    const url = await cluster.newDatabase();
    const t = parsePgUrl(url);
    const pool = new pg.Pool({ host: t.host, port: t.port, database: t.database, user: t.user, password: t.password ?? '', ssl: { rejectUnauthorized: false } });
    open.push(pool);
    await assert.rejects(applyPgMigrations(pool as unknown as pg.ClientBase), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument' && /not a pg\.Pool/.test(err.message));
    const q = await client(url);
    await assert.rejects(applyPgMigrations(q, [PG_MIGRATIONS[0]!, { version: 3, name: 'gap', sql: 'SELECT 1' }]), (err: unknown) => err instanceof StoreError && err.code === 'migration-failed' && /expected 2/.test(err.message));
    assert.equal(await pgSchemaVersion(q), 0, 'a broken list is refused before anything is applied');
  });
});
