/**
 * `certs store migrate` (issue 15 "Migrations and moving"): a SQLite store copied into an empty
 * PostgreSQL database (`--to`), and back into a fresh SQLite store (`--from`).
 *
 * Tables are copied as they are, column by column (both engines hold the same tables with the
 * same column names, pg/schema.ts), ids included; identity sequences are then set past the
 * highest id. Each issued version's files go into issued_files with the private key sealed under
 * the destination's key-encryption key (key-crypto.ts). Going back, issued_files becomes archive
 * versions again (archive.ts: atomic, keys 0600).
 *
 * Verification: every table's row count and checksum are computed on both sides, and so are the
 * files' (below: `canonical` and `tableChecksum`); any difference is an error and nothing is kept.
 *
 * Restartable, by being all or nothing rather than resumable:
 * - `--to`: the whole copy, the sequences and the verification run in ONE PostgreSQL transaction,
 *   committed only once the checksums agree. A crash (kill -9, a lost connection) leaves the
 *   server to roll it back: the destination is as empty as before and a rerun starts over. The
 *   schema itself is created before (its own transactions, pg/migrate.ts); an empty schema counts
 *   as empty. Two migrations at once are serialised by an advisory lock: the second finds the
 *   first one's finished copy and reports "already migrated".
 * - `--from`: the SQLite database is written under a temporary name and renamed to certs.db only
 *   after it is verified; the archive versions are written (each one atomically) before that
 *   rename, and a rerun finds the ones already there and checks they are byte-equal.
 *
 * While `--to` copies, the source's write lock is held (BEGIN IMMEDIATE): a certs run that tries
 * to write then fails ("locked") instead of writing something the copy would silently miss.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { StoreError } from '../core/errors.js';
import { fsyncDir } from '../lib/atomic-write.js';
import { currentVersion, readArchivePems, switchCurrent, writeArchiveVersion, type CertPems } from './archive.js';
import { openDatabase, wrapSqliteError, type Db } from './db.js';
import { databasePath, DATABASE_FILE } from './index.js';
import { openKey, sealKey, sealedWith, type Kek } from './key-crypto.js';
import { connectPg, describeTarget, parsePgUrl, type PgTarget } from './pg/connect.js';
import { pgError, type PgQueryable } from './pg/db.js';
import { applyPgMigrations } from './pg/migrate.js';

/**
 * The tables copied, in an order where every foreign key points at a table copied before, except
 * `deferred` columns (endpoints.last_scan_id -> scans, a cycle): written NULL, then set once
 * the rows they point at are there. `checkPlan` refuses a schema this list no longer covers.
 */
export const TRANSFER_TABLES: readonly string[] = [
  'certificates', 'endpoints', 'scan_results', 'scans', 'acme_accounts', 'issued', 'renewal_state', 'renewal_attempts',
  'locks', 'deployments', 'deploy_failures', 'notify_sent', 'notify_active', 'outbox', 'notify_meta', 'meta', 'runs',
  'nodes', 'notify_seen', 'scan_cycles', 'scan_batches', 'acme_challenges',
];
const DEFERRED: Readonly<Record<string, readonly string[]>> = { endpoints: ['last_scan_id'] };
/** Tables only PostgreSQL has. */
const PG_ONLY = ['issued_files', 'certs_schema_migrations'];
/** The checksum row of the files (issued_files), reported beside the tables. */
export const FILES_TABLE = 'issued_files';

/** An advisory lock key for migrations into one database ("certsmig" as a signed 64-bit integer). */
export const MIGRATE_LOCK_KEY = '7162254444858255719';

const BATCH_ROWS = 2000;

export interface TableReport {
  table: string;
  rows: number;
  /** SHA-256 (hex) of the rows in canonical form, ordered by primary key: equal on both sides. */
  checksum: string;
}

export interface TransferResult {
  direction: 'to-postgres' | 'from-postgres';
  /** The PostgreSQL side, named without its password. */
  postgres: string;
  dataDir: string;
  /** The destination already held exactly this copy: nothing was written. */
  alreadyMigrated: boolean;
  tables: TableReport[];
  /** Issued versions whose files were copied (issued_files), with their checksum. */
  files: TableReport;
  /** Issued versions without files in the archive (pruned): rows copied, no files. */
  versionsWithoutFiles: number;
}

/** How a column's values are compared and carried: by the PostgreSQL type of the column. */
type Kind = 'number' | 'bytes' | 'text';

interface Column {
  name: string;
  /** format_type() of the PostgreSQL column, e.g. "bigint", for unnest casts. */
  pgType: string;
  kind: Kind;
}

interface TablePlan {
  table: string;
  columns: Column[];
  /** Primary key columns, in key order. */
  key: string[];
  deferred: string[];
  /** The identity column (ids kept, sequence set after), if any. */
  identity: string | null;
}

function kindOf(pgType: string): Kind {
  if (/^(smallint|integer|bigint|real|double precision|numeric)/.test(pgType)) return 'number';
  if (pgType === 'bytea') return 'bytes';
  return 'text';
}

/**
 * A value as the checksum sees it, the same whichever engine it came from: numbers as numbers
 * (PostgreSQL hands bigint over as a string), BLOB/bytea as hex, text as is, NULL as null.
 */
function canonical(v: unknown, kind: Kind): unknown {
  if (v === null || v === undefined) return null;
  if (kind === 'number') return Number(v);
  if (kind === 'bytes') return Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v)).toString('hex');
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** SHA-256 over the column names, then one JSON array per row (canonical values, key order). */
class Checksum {
  private readonly h = createHash('sha256');
  rows = 0;
  constructor(columns: readonly string[]) {
    this.h.update(`${JSON.stringify(columns)}\n`);
  }
  add(values: readonly unknown[]): void {
    this.h.update(`${JSON.stringify(values)}\n`);
    this.rows += 1;
  }
  digest(table: string): TableReport {
    return { table, rows: this.rows, checksum: this.h.digest('hex') };
  }
}

const FILE_COLUMNS = ['lineage', 'version', 'cert', 'chain', 'fullchain', 'privkey'];

/** A version's files as the checksum sees them (the key opened: equal keys, equal sums). */
function fileLine(lineage: string, version: number, p: CertPems): unknown[] {
  return [lineage, version, p.cert, p.chain, p.fullchain, p.privkey];
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL side

/** A plain client whose errors are StoreErrors naming the target (never the password). */
class Pg implements PgQueryable {
  constructor(readonly client: pg.Client, readonly target: PgTarget) {}
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(text, values as unknown[] | undefined);
    } catch (err) {
      throw pgError(err, this.target, `${/^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'a query'} during store migrate`);
    }
  }
  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

async function connect(url: string): Promise<Pg> {
  const target = parsePgUrl(url);
  return new Pg(await connectPg(target), target);
}

/** Tables of the schema the connection writes to (search_path's first). */
async function pgTables(q: PgQueryable): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1`);
  return rows.map((r) => r.name);
}

async function pgColumns(q: PgQueryable, table: string): Promise<{ name: string; type: string; identity: boolean }[]> {
  const { rows } = await q.query<{ name: string; type: string; identity: string }>(`SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attidentity AS identity
    FROM pg_attribute a WHERE a.attrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, [table]);
  return rows.map((r) => ({ name: r.name, type: r.type, identity: r.identity !== '' }));
}

/** The ORDER BY of a key: text compared bytewise (COLLATE "C"), as SQLite's BINARY does. */
function pgOrder(plan: TablePlan): string {
  return plan.key.map((k) => (plan.columns.find((c) => c.name === k)!.kind === 'text' ? `${q(k)} COLLATE "C"` : q(k))).join(', ');
}

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Reads a table in key order through a cursor (inside the caller's transaction), batch by batch. */
async function* pgRows(db: PgQueryable, plan: TablePlan, columns: readonly string[] = plan.columns.map((c) => c.name)): AsyncGenerator<unknown[][]> {
  const cursor = `certs_migrate_${plan.table}`;
  await db.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${columns.map(q).join(', ')} FROM ${q(plan.table)} ORDER BY ${pgOrder(plan)}`);
  try {
    for (;;) {
      const { rows } = await db.query<Record<string, unknown>>(`FETCH ${BATCH_ROWS} FROM ${cursor}`);
      if (rows.length === 0) return;
      yield rows.map((r) => columns.map((c) => r[c]));
    }
  } finally {
    await db.query(`CLOSE ${cursor}`);
  }
}

async function pgChecksum(db: PgQueryable, plan: TablePlan): Promise<TableReport> {
  const sum = new Checksum(plan.columns.map((c) => c.name));
  for await (const batch of pgRows(db, plan)) for (const row of batch) sum.add(row.map((v, i) => canonical(v, plan.columns[i]!.kind)));
  return sum.digest(plan.table);
}

const FILES_PLAN: TablePlan = {
  table: 'issued_files',
  columns: [
    { name: 'lineage', pgType: 'text', kind: 'text' },
    { name: 'version', pgType: 'integer', kind: 'number' },
  ],
  key: ['lineage', 'version'],
  deferred: [],
  identity: null,
};

/** issued_files opened with `kek` and summed as `fileLine`s. */
async function pgFilesChecksum(db: PgQueryable, kek: Kek): Promise<TableReport> {
  const sum = new Checksum(FILE_COLUMNS);
  for await (const batch of pgRows(db, FILES_PLAN, ['lineage', 'version', 'cert', 'chain', 'fullchain', 'privkey_sealed'])) {
    for (const [lineage, v, cert, chain, fullchain, sealed] of batch) {
      const version = Number(v);
      const privkey = openKey([kek], sealed as Buffer, { lineage: lineage as string, version });
      sum.add(fileLine(lineage as string, version, { cert: cert as string, chain: chain as string, fullchain: fullchain as string, privkey }));
    }
  }
  return sum.digest(FILES_TABLE);
}

// ---------------------------------------------------------------------------------------------
// SQLite side

function sqliteColumns(db: Db, table: string): { name: string; pk: number }[] {
  return (db.prepare(`PRAGMA table_info(${q(table)})`).all() as { name: string; pk: number }[]).map((r) => ({ name: r.name, pk: r.pk }));
}

function sqliteTables(db: Db): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
}

/**
 * The copy plan from both schemas: the same tables and the same column names on both sides,
 * every foreign key pointing backwards (or deferred). Anything else is a schema this build of
 * `store migrate` does not know, refused before a row moves.
 */
async function planTables(sqlite: Db, pgq: PgQueryable): Promise<TablePlan[]> {
  const lite = sqliteTables(sqlite);
  const known = new Set(TRANSFER_TABLES);
  const extra = lite.filter((t) => !known.has(t));
  const missing = TRANSFER_TABLES.filter((t) => !lite.includes(t));
  if (extra.length > 0 || missing.length > 0) {
    throw new StoreError('invalid-argument', `store migrate does not know this SQLite schema (${[...extra.map((t) => `unknown table ${t}`), ...missing.map((t) => `no table ${t}`)].join(', ')})`);
  }
  const pgHas = new Set(await pgTables(pgq));
  const plans: TablePlan[] = [];
  for (const [i, table] of TRANSFER_TABLES.entries()) {
    if (!pgHas.has(table)) throw new StoreError('invalid-argument', `the PostgreSQL schema has no table ${table}`);
    const lc = sqliteColumns(sqlite, table);
    const pc = await pgColumns(pgq, table);
    const liteNames = lc.map((c) => c.name).sort();
    const pgNames = pc.map((c) => c.name).sort();
    if (JSON.stringify(liteNames) !== JSON.stringify(pgNames)) {
      throw new StoreError('invalid-argument', `table ${table}: SQLite has columns ${liteNames.join(', ')}, PostgreSQL ${pgNames.join(', ')}`);
    }
    for (const fk of sqlite.prepare(`PRAGMA foreign_key_list(${q(table)})`).all() as { table: string; from: string }[]) {
      if (TRANSFER_TABLES.indexOf(fk.table) >= i && !(DEFERRED[table] ?? []).includes(fk.from)) {
        throw new StoreError('invalid-argument', `store migrate: ${table}.${fk.from} refers to ${fk.table}, copied later (TRANSFER_TABLES needs its order or DEFERRED)`);
      }
    }
    const key = lc.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    if (key.length === 0) throw new StoreError('invalid-argument', `table ${table} has no primary key to order its rows by`);
    plans.push({
      table,
      // SQLite's column order; the types PostgreSQL's.
      columns: lc.map((c) => {
        const p = pc.find((x) => x.name === c.name)!;
        return { name: c.name, pgType: p.type, kind: kindOf(p.type) };
      }),
      key,
      deferred: [...(DEFERRED[table] ?? [])],
      identity: pc.find((c) => c.identity)?.name ?? null,
    });
  }
  return plans;
}

function* sqliteRows(db: Db, plan: TablePlan): Generator<unknown[][]> {
  const stmt = db.prepare(`SELECT ${plan.columns.map((c) => q(c.name)).join(', ')} FROM ${q(plan.table)} ORDER BY ${plan.key.map(q).join(', ')}`).raw(true);
  let batch: unknown[][] = [];
  for (const row of stmt.iterate() as Iterable<unknown[]>) {
    batch.push(row);
    if (batch.length >= BATCH_ROWS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function sqliteChecksum(db: Db, plan: TablePlan): TableReport {
  const sum = new Checksum(plan.columns.map((c) => c.name));
  for (const batch of sqliteRows(db, plan)) for (const row of batch) sum.add(row.map((v, i) => canonical(v, plan.columns[i]!.kind)));
  return sum.digest(plan.table);
}

interface IssuedVersion {
  lineage: string;
  version: number;
}

/** Issued versions in key order (lineage bytewise, then version), as issued_files is ordered. */
function issuedVersions(db: Db): IssuedVersion[] {
  return db.prepare('SELECT lineage, version FROM issued ORDER BY lineage, version').all() as IssuedVersion[];
}

/** The archive's files of every issued version that has them, summed as `fileLine`s. */
function archiveFilesChecksum(db: Db, dataDir: string): { report: TableReport; without: number } {
  const sum = new Checksum(FILE_COLUMNS);
  let without = 0;
  for (const v of issuedVersions(db)) {
    const pems = readArchivePems(dataDir, v.lineage, v.version);
    if (pems === null) without += 1;
    else sum.add(fileLine(v.lineage, v.version, pems));
  }
  return { report: sum.digest(FILES_TABLE), without };
}

function compare(side: string, a: readonly TableReport[], b: readonly TableReport[]): string[] {
  const out: string[] = [];
  for (const x of a) {
    const y = b.find((r) => r.table === x.table);
    if (!y || y.rows !== x.rows || y.checksum !== x.checksum) out.push(`${x.table} (${x.rows} rows here, ${y?.rows ?? 0} in ${side}${y && y.rows === x.rows ? ', checksums differ' : ''})`);
  }
  return out;
}

function openSource(dataDir: string): Db {
  const path = databasePath(dataDir);
  if (!existsSync(path)) throw new StoreError('invalid-argument', `there is no SQLite store at ${path} to migrate (dataDir ${dataDir})`);
  // Read-write: an older store is brought to the current schema first, as any certs command would.
  return openDatabase(path);
}

// ---------------------------------------------------------------------------------------------
// --to

export interface MigrateOptions {
  /** Called after each table is copied (progress; tests use it to stop mid-copy). */
  onTable?: (table: string, rows: number) => void | Promise<void>;
}

/** Copies the SQLite store of `dataDir` into the empty PostgreSQL database at `url` (see the top of this file). */
export async function migrateToPostgres(dataDir: string, url: string, kek: Kek, opts: MigrateOptions = {}): Promise<TransferResult> {
  const sqlite = openSource(dataDir);
  let pgc: Pg | null = null;
  try {
    pgc = await connect(url);
    const db = pgc;
    const present = await pgTables(db);
    const foreign = present.filter((t) => !TRANSFER_TABLES.includes(t) && !PG_ONLY.includes(t));
    if (foreign.length > 0) {
      throw new StoreError('invalid-argument', `${describeTarget(db.target)} is not empty: it holds ${foreign.length === 1 ? 'table' : 'tables'} ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''} that certs did not create`, {
        hint: 'migrate into a new, empty database (CREATE DATABASE certs OWNER certs)',
      });
    }
    await applyPgMigrations(db.client);

    // Holds off the source's writers until the copy is committed or abandoned.
    try {
      sqlite.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw wrapSqliteError(err, { path: databasePath(dataDir), busyTimeoutMs: 5000 }, 'taking the write lock for the copy (is certs running? stop the daemon first)');
    }
    let committed = false;
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK_KEY]);
      const plans = await planTables(sqlite, db);
      const result: TransferResult = {
        direction: 'to-postgres', postgres: describeTarget(db.target), dataDir, alreadyMigrated: false, tables: [], files: { table: FILES_TABLE, rows: 0, checksum: '' }, versionsWithoutFiles: 0,
      };
      const occupied = await occupiedTables(db, [...plans.map((p) => p.table), FILES_TABLE]);
      if (occupied.length > 0) {
        // Not empty: fine only if it is exactly this store's finished copy.
        const source = plans.map((p) => sqliteChecksum(sqlite, p));
        const files = archiveFilesChecksum(sqlite, dataDir);
        const dest: TableReport[] = [];
        for (const p of plans) dest.push(await pgChecksum(db, p));
        const destFiles = await pgFilesChecksum(db, kek);
        const differ = compare('the destination', [...source, files.report], [...dest, destFiles]);
        if (differ.length > 0) {
          throw new StoreError('invalid-argument', `${describeTarget(db.target)} is not empty and is not a copy of ${databasePath(dataDir)}: ${differ.slice(0, 5).join('; ')}${differ.length > 5 ? '; …' : ''}`, {
            hint: 'migrate into a new, empty database; nothing was written',
          });
        }
        await db.query('ROLLBACK');
        committed = true;
        return { ...result, alreadyMigrated: true, tables: source, files: files.report, versionsWithoutFiles: files.without };
      }

      const sourceSums: TableReport[] = [];
      const deferred: Array<() => Promise<void>> = [];
      for (const plan of plans) {
        sourceSums.push(await copyTableToPg(sqlite, db, plan, deferred));
        await opts.onTable?.(plan.table, sourceSums.at(-1)!.rows);
      }
      // Deferred columns once every row they may point at is there.
      for (const set of deferred) await set();
      const files = await copyFilesToPg(sqlite, db, dataDir, kek);
      await opts.onTable?.(FILES_TABLE, files.report.rows);
      for (const plan of plans) {
        if (plan.identity === null) continue;
        await db.query(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(${q(plan.identity)}) FROM ${q(plan.table)}), 0) + 1, false)`, [`${q(plan.table)}`, plan.identity]);
      }

      // Verify what the destination now holds, read back, against what was read from the source.
      const dest: TableReport[] = [];
      for (const p of plans) dest.push(await pgChecksum(db, p));
      const destFiles = await pgFilesChecksum(db, kek);
      const differ = compare('PostgreSQL', [...sourceSums, files.report], [...dest, destFiles]);
      if (differ.length > 0) throw new StoreError('corrupt', `the copy does not match the source, nothing was kept: ${differ.join('; ')}`);
      await db.query('COMMIT');
      committed = true;
      return { ...result, tables: sourceSums, files: files.report, versionsWithoutFiles: files.without };
    } finally {
      if (!committed) await db.client.query('ROLLBACK').catch(() => undefined);
      if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    }
  } finally {
    await pgc?.end();
    sqlite.close();
  }
}

async function occupiedTables(db: PgQueryable, tables: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    const { rows } = await db.query(`SELECT 1 FROM ${q(t)} LIMIT 1`);
    if (rows.length > 0) out.push(t);
  }
  return out;
}

/** Inserts a table's rows in batches (unnest of one typed array per column); returns the source's checksum. */
async function copyTableToPg(sqlite: Db, db: PgQueryable, plan: TablePlan, deferred: Array<() => Promise<void>>): Promise<TableReport> {
  const names = plan.columns.map((c) => c.name);
  const sum = new Checksum(names);
  const insert = `INSERT INTO ${q(plan.table)} (${names.map(q).join(', ')}) SELECT * FROM unnest(${plan.columns.map((c, i) => `$${i + 1}::${c.pgType}[]`).join(', ')})`;
  const deferredIdx = plan.deferred.map((d) => names.indexOf(d));
  const keyIdx = plan.key.map((k) => names.indexOf(k));
  const later: unknown[][] = [];
  for (const batch of sqliteRows(sqlite, plan)) {
    const arrays: unknown[][] = plan.columns.map(() => []);
    for (const row of batch) {
      sum.add(row.map((v, i) => canonical(v, plan.columns[i]!.kind)));
      for (const [i, c] of plan.columns.entries()) {
        const v = row[i];
        if (deferredIdx.includes(i)) {
          if (v !== null && v !== undefined) later.push([...keyIdx.map((k) => row[k]), i, v]);
          arrays[i]!.push(null);
        } else {
          arrays[i]!.push(toPg(v, c.kind));
        }
      }
    }
    await db.query(insert, arrays);
  }
  // The deferred columns, set by the caller once every table is copied (single-column keys only: endpoints.id).
  if (deferredIdx.length > 0 && keyIdx.length !== 1) throw new StoreError('invalid-argument', `store migrate: ${plan.table} has deferred columns but a composite key`);
  for (const d of deferredIdx) {
    const pairs = later.filter((l) => l[1] === d);
    const keyCol = plan.columns[keyIdx[0]!]!;
    const col = plan.columns[d]!;
    deferred.push(async () => {
      for (let i = 0; i < pairs.length; i += BATCH_ROWS) {
        const slice = pairs.slice(i, i + BATCH_ROWS);
        await db.query(`UPDATE ${q(plan.table)} t SET ${q(col.name)} = u.v FROM unnest($1::${keyCol.pgType}[], $2::${col.pgType}[]) AS u(k, v) WHERE t.${q(keyCol.name)} = u.k`, [
          slice.map((p) => p[0]), slice.map((p) => p[2]),
        ]);
      }
    });
  }
  return sum.digest(plan.table);
}

function toPg(v: unknown, kind: Kind): unknown {
  if (v === null || v === undefined) return null;
  if (kind === 'bytes' && !Buffer.isBuffer(v)) return Buffer.from(String(v));
  if (kind === 'text' && typeof v !== 'string') return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return v;
}

async function copyFilesToPg(sqlite: Db, db: PgQueryable, dataDir: string, kek: Kek): Promise<{ report: TableReport; without: number }> {
  const sum = new Checksum(FILE_COLUMNS);
  let without = 0;
  const versions = issuedVersions(sqlite);
  for (let i = 0; i < versions.length; i += 200) {
    const cols: unknown[][] = [[], [], [], [], [], [], []];
    for (const v of versions.slice(i, i + 200)) {
      const pems = readArchivePems(dataDir, v.lineage, v.version);
      if (pems === null) {
        without += 1;
        continue;
      }
      sum.add(fileLine(v.lineage, v.version, pems));
      const sealed = sealKey(kek, pems.privkey, v);
      for (const [j, x] of [v.lineage, v.version, pems.cert, pems.chain, pems.fullchain, sealed, sealedWith(sealed)].entries()) cols[j]!.push(x);
    }
    if (cols[0]!.length === 0) continue;
    await db.query(`INSERT INTO issued_files (lineage, version, cert, chain, fullchain, privkey_sealed, kek_id)
      SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[])`, cols);
  }
  return { report: sum.digest(FILES_TABLE), without };
}

// ---------------------------------------------------------------------------------------------
// --from

const TEMP_PREFIX = `.${DATABASE_FILE}.from-postgres-`;

/**
 * Copies the PostgreSQL store at `url` into a new SQLite store at `dataDir` (there must be none
 * yet), and its issued_files into the archive, keys opened with `kek` (see the top of this file).
 */
export async function migrateFromPostgres(dataDir: string, url: string, kek: Kek, opts: MigrateOptions = {}): Promise<TransferResult> {
  const finalPath = databasePath(dataDir);
  if (existsSync(finalPath)) {
    throw new StoreError('invalid-argument', `${finalPath} already exists: --from writes a new SQLite store and never overwrites one`, { hint: 'give the config a new, empty dataDir (or move the old store away)' });
  }
  const pgc = await connect(url);
  let tmpPath: string | null = null;
  let sqlite: Db | null = null;
  try {
    const db = pgc;
    const present = new Set(await pgTables(db));
    if (!present.has('certs_schema_migrations')) throw new StoreError('invalid-argument', `${describeTarget(db.target)} holds no certs store (no certs_schema_migrations table)`);
    // Brings the database to this build's schema, as opening the store would; refuses a newer one.
    await applyPgMigrations(db.client);

    // Stale temporaries of a crashed earlier attempt: never renamed, so never a store.
    removeStaleTemps(dataDir);
    tmpPath = join(dataDir, `${TEMP_PREFIX}${process.pid}`);
    sqlite = openDatabase(tmpPath);
    const lite = sqlite;

    // One snapshot of the source for the whole copy.
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const plans = await planTables(lite, db);
      const sourceSums: TableReport[] = [];
      lite.exec('BEGIN');
      // endpoints.last_scan_id points at scans copied after it: checked at COMMIT instead.
      lite.pragma('defer_foreign_keys = ON');
      for (const plan of plans) {
        sourceSums.push(await copyTableToSqlite(db, lite, plan));
        await opts.onTable?.(plan.table, sourceSums.at(-1)!.rows);
      }
      lite.exec('COMMIT');
      const files = await materialiseFiles(db, lite, dataDir, kek);
      await opts.onTable?.(FILES_TABLE, files.report.rows);
      const dest = plans.map((p) => sqliteChecksum(lite, p));
      const destFiles = archiveFilesChecksum(lite, dataDir);
      const differ = compare('SQLite', [...sourceSums, files.report], [...dest, destFiles.report]);
      if (differ.length > 0) throw new StoreError('corrupt', `the copy does not match PostgreSQL, nothing was kept: ${differ.join('; ')}`);
      await db.query('COMMIT');
      lite.pragma('wal_checkpoint(TRUNCATE)');
      lite.close();
      sqlite = null;
      for (const suffix of ['-wal', '-shm']) rmSync(`${tmpPath}${suffix}`, { force: true });
      // The store appears only now, complete and verified.
      if (existsSync(finalPath)) throw new StoreError('invalid-argument', `${finalPath} appeared while the copy ran; it was left alone`);
      renameSync(tmpPath, finalPath);
      tmpPath = null;
      fsyncDir(dataDir);
      return {
        direction: 'from-postgres', postgres: describeTarget(db.target), dataDir, alreadyMigrated: false, tables: sourceSums, files: files.report, versionsWithoutFiles: files.without,
      };
    } finally {
      await db.client.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    if (sqlite?.open) sqlite.close();
    if (tmpPath !== null) for (const suffix of ['', '-wal', '-shm']) rmSync(`${tmpPath}${suffix}`, { force: true });
    await pgc.end();
  }
}

function removeStaleTemps(dataDir: string): void {
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(TEMP_PREFIX)) rmSync(join(dataDir, n), { force: true });
}

async function copyTableToSqlite(db: PgQueryable, lite: Db, plan: TablePlan): Promise<TableReport> {
  const names = plan.columns.map((c) => c.name);
  const sum = new Checksum(names);
  const insert = lite.prepare(`INSERT INTO ${q(plan.table)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`);
  for await (const batch of pgRows(db, plan)) {
    for (const row of batch) {
      const values = row.map((v, i) => {
        const kind = plan.columns[i]!.kind;
        // int8 arrives as a string; everything else as SQLite stores it.
        return v === null || v === undefined ? null : kind === 'number' ? Number(v) : v;
      });
      sum.add(values.map((v, i) => canonical(v, plan.columns[i]!.kind)));
      insert.run(values);
    }
  }
  return sum.digest(plan.table);
}

/**
 * issued_files as archive versions: each written atomically (archive.ts, key 0600), or found
 * already there from an earlier attempt and checked byte-equal. `current` is set where a lineage
 * has none: on the deployed version, else the newest.
 */
async function materialiseFiles(db: PgQueryable, lite: Db, dataDir: string, kek: Kek): Promise<{ report: TableReport; without: number }> {
  const sum = new Checksum(FILE_COLUMNS);
  const written = new Map<string, number[]>();
  for await (const batch of pgRows(db, FILES_PLAN, ['lineage', 'version', 'cert', 'chain', 'fullchain', 'privkey_sealed'])) {
    for (const [l, v, cert, chain, fullchain, sealed] of batch) {
      const lineage = l as string;
      const version = Number(v);
      // Opened before anything of the version is written: a wrong KEK writes no file.
      const pems: CertPems = { cert: cert as string, chain: chain as string, fullchain: fullchain as string, privkey: openKey([kek], sealed as Buffer, { lineage, version }) };
      writeArchiveVersion(dataDir, lineage, pems, { minVersion: version, exact: true });
      const onDisk = readArchivePems(dataDir, lineage, version);
      if (onDisk === null || (['cert', 'chain', 'fullchain', 'privkey'] as const).some((k) => onDisk[k] !== pems[k])) {
        throw new StoreError('invalid-argument', `${lineage} version ${version} is already in the archive under ${dataDir} with other files; it was left alone`);
      }
      sum.add(fileLine(lineage, version, pems));
      written.set(lineage, [...(written.get(lineage) ?? []), version]);
    }
  }
  const deployed = new Map((lite.prepare('SELECT lineage, version FROM deployments WHERE version IS NOT NULL').all() as { lineage: string; version: number }[]).map((r) => [r.lineage, r.version]));
  for (const [lineage, versions] of written) {
    if (currentVersion(dataDir, lineage) !== null) continue;
    const d = deployed.get(lineage);
    switchCurrent(dataDir, lineage, d !== undefined && versions.includes(d) ? d : Math.max(...versions));
  }
  const without = (lite.prepare('SELECT count(*) AS n FROM issued').get() as { n: number }).n - sum.rows;
  return { report: sum.digest(FILES_TABLE), without };
}

