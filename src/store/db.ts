import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, errorMessage } from '../core/errors.js';
import { APPLICATION_ID, MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /**
   * Open for reading only (`certs status`): creates nothing, changes no mode, runs no migration.
   * When there is no database yet, `openDatabase` returns null instead of throwing.
   */
  readonly?: boolean;
  /** How long to wait for another process's write lock before giving up. Default 5000. */
  busyTimeoutMs?: number;
  /** Milliseconds since the epoch, for lock leases (tests inject a clock). Default Date.now. */
  clock?: () => number;
  /** This node's name (issue 16): whose deployments the store reads and writes. Default: the host name. */
  node?: string;
}

/** Stable `StoreError.code` values (their list lives with the error family in core/errors.ts). */
export type { StoreErrorCode } from '../core/errors.js';

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Opens (creating and migrating when needed) the SQLite database at `path`.
 *
 * Read-write: the parent directory is created with mode 0700, the file with 0600 (an existing
 * file, and its -wal/-shm, are chmod'ed to 0600), then WAL, busy_timeout, foreign_keys=ON and
 * synchronous=NORMAL are set and pending migrations run, each in its own transaction.
 *
 * Read-only (`readonly: true`): returns **null** when there is nothing to read yet (no file, an
 * empty file, or a SQLite file without any schema) — "no scans yet" is a normal state for
 * `status`, not an error. A database that still needs a migration is refused with
 * `schema-outdated` since a read-only connection may not run one.
 *
 * Every failure is a StoreError with a code from StoreErrorCode. A file that is not a certs
 * database, or was written by a newer certs, is refused without changing a single byte of it.
 */
export function openDatabase(path: string, opts: OpenDatabaseOptions & { readonly: true }): Db | null;
export function openDatabase(path: string, opts?: OpenDatabaseOptions & { readonly?: false }): Db;
export function openDatabase(path: string, opts?: OpenDatabaseOptions): Db | null;
export function openDatabase(path: string, opts: OpenDatabaseOptions = {}): Db | null {
  const readonly = opts.readonly === true;
  const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const ctx: ErrorContext = { path, busyTimeoutMs };

  const size = fileSize(path);
  if (size !== null && size > 0) assertSqliteHeader(path);
  if (readonly && (size === null || size === 0)) return null;
  if (!readonly) prepareFile(path, size !== null);

  let db: Db;
  try {
    db = new Database(path, { readonly, fileMustExist: true, timeout: busyTimeoutMs });
  } catch (err) {
    throw wrapSqliteError(err, ctx, 'opening it');
  }

  try {
    db.pragma('foreign_keys = ON');
    const state = readSchemaState(db, ctx);
    if (readonly) {
      if (state.version === 0) {
        db.close();
        return null;
      }
      const latest = lastVersion(MIGRATIONS);
      if (state.version < latest) {
        throw new StoreError(
          'schema-outdated',
          `${path} has schema version ${state.version} but this certs needs ${latest}; ` +
            'run a command that writes (certs scan or certs run) once to upgrade it',
        );
      }
      return db;
    }
    secureModes(path);
    // Before the first migration: changing the journal mode cannot happen inside a transaction.
    // SQLite answers BUSY at once, without its busy handler, where waiting could deadlock (the
    // switch to WAL while another process holds the file, a read lock meeting a writer's): so
    // when several processes open a new store together, the losers wait here and try again.
    untilNotBusy(busyTimeoutMs, () => {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      applyMigrations(db, MIGRATIONS, path);
    });
    return db;
  } catch (err) {
    db.close();
    throw wrapSqliteError(err, ctx, readonly ? 'reading it' : 'preparing it');
  }
}

/**
 * Applies every migration above the database's user_version, each with its version bump in one
 * IMMEDIATE transaction. The version is re-read under the lock so that two processes starting
 * together do not both apply the same migration. Exported for tests; `openDatabase` calls it.
 */
export function applyMigrations(db: Db, migrations: readonly Migration[], path = db.name): number {
  assertMigrationList(migrations);
  let applied = 0;
  for (const m of migrations) {
    if (currentVersion(db) >= m.version) continue;
    const step = db.transaction(() => {
      const now = currentVersion(db);
      if (now >= m.version) return false;
      db.exec(m.sql);
      // user_version takes no bound parameters; the value is a validated integer.
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    try {
      if (step.immediate()) applied++;
    } catch (err) {
      if (err instanceof StoreError || isBusy(err)) throw err;
      throw new StoreError('migration-failed', `${path}: migration ${m.version} (${m.name}) failed: ${sqliteMessage(err)}`, {
        cause: err,
        hint: 'the database was left at the previous version; report this with the message above',
      });
    }
  }
  return applied;
}

export interface ErrorContext {
  path: string;
  /** Named in the "locked" message: how long we waited. */
  busyTimeoutMs: number;
}

/**
 * Turns a better-sqlite3 or file-system error into a StoreError whose message names the file and
 * what we were doing, never a stack. StoreErrors pass through unchanged.
 */
export function wrapSqliteError(err: unknown, ctx: ErrorContext, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const { path } = ctx;
  const code = sqliteCode(err);
  const msg = sqliteMessage(err);
  if (isBusy(err)) {
    return new StoreError(
      'locked',
      `database is locked by another process (${path}, waited ${ctx.busyTimeoutMs} ms while ${doing}); try again when it finishes`,
      { cause: err, hint: 'another certs run or a sqlite3 shell holds a write transaction on it' },
    );
  }
  if (code === 'SQLITE_NOTADB') return notADatabase(path, msg, err);
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError('corrupt', `${path} is damaged (${msg}); restore it from a backup or move it aside to start afresh`, { cause: err });
  }
  if (code === 'SQLITE_READONLY_DIRECTORY') {
    // Even a read-only reader of a WAL database needs to create <db>-shm beside it.
    return new StoreError(
      'read-only',
      `${path} cannot be read: SQLite needs to create ${path}-shm but its directory is not writable; run certs as the user that owns the data directory`,
      { cause: err },
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new StoreError('read-only', `${path} cannot be written (${msg}); check the owner and mode of the file and its directory`, { cause: err });
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StoreError('io', `cannot open ${path} (${msg}); check that its directory exists and is writable`, { cause: err });
  }
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new StoreError('invalid-argument', `${path}: ${msg} while ${doing}`, { cause: err });
  }
  if (code === 'SQLITE_FULL') {
    return new StoreError('io', `${path}: disk full while ${doing}`, { cause: err });
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new StoreError('io', `${path}: I/O error while ${doing} (${msg})`, { cause: err });
  }
  const fsCode = (err as NodeJS.ErrnoException | null)?.code;
  if (fsCode === 'EACCES' || fsCode === 'EPERM' || fsCode === 'EROFS') {
    const what = fsCode === 'EROFS' ? 'read-only file system' : 'permission denied';
    return new StoreError('read-only', `${path}: ${what} while ${doing} (${fsCode}); check the owner and mode of the file and its directory`, { cause: err });
  }
  if (typeof fsCode === 'string' && fsCode.startsWith('E')) {
    // Node's text is "ENOTDIR: not a directory, stat 'path'": keep the description, drop the
    // syscall and the path we are already naming.
    const what = msg.startsWith(`${fsCode}: `) ? msg.slice(fsCode.length + 2).split(',', 1)[0] : fsCode;
    return new StoreError('io', `${path}: ${what} while ${doing} (${fsCode})`, { cause: err });
  }
  return new StoreError('sqlite', `${path}: ${msg} while ${doing}`, { cause: err });
}

function fileSize(path: string): number | null {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new StoreError('io', `${path} is not a regular file; dataDir must hold certs.db as a file`);
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw wrapSqliteError(err, { path, busyTimeoutMs: 0 }, 'looking at it');
  }
}

/** Reads only the 16-byte header: SQLite must not see (let alone "recover") a foreign file. */
function assertSqliteHeader(path: string): void {
  const header = Buffer.alloc(SQLITE_HEADER.length);
  let read = 0;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    read = readSync(fd, header, 0, header.length, 0);
  } catch (err) {
    throw wrapSqliteError(err, { path, busyTimeoutMs: 0 }, 'reading its header');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (read < header.length || !header.equals(SQLITE_HEADER)) throw notADatabase(path, 'file is not a database');
}

/** Creates the directory (0700) and an empty file (0600) so SQLite never creates it with the umask's mode. */
function prepareFile(path: string, exists: boolean): void {
  const ctx = { path, busyTimeoutMs: 0 };
  const dir = dirname(path);
  if (!exists) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'wx', 0o600));
    } catch (err) {
      // Another process created it between our stat and open: theirs is as good as ours.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw wrapSqliteError(err, ctx, 'creating it');
    }
  }
  // SQLite silently opens a write-protected file read-only and fails on the first write; say so now.
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw wrapSqliteError(err, ctx, 'checking it is writable');
  }
}

/** Keys and account details live next to this file: no one but the owner may read it. */
function secureModes(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(p).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (mode !== 0o600) chmodSync(p, 0o600);
  }
}

interface SchemaState {
  version: number;
}

function readSchemaState(db: Db, ctx: ErrorContext): SchemaState {
  // One statement, so one snapshot: read apart, another process could commit its first
  // migration between the version read (0) and the table read (tables), and this one would
  // call a fresh certs database someone else's.
  const row = db
    .prepare(
      `SELECT a.application_id AS appId, v.user_version AS version,
              (SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 3)) AS tables
         FROM pragma_application_id AS a, pragma_user_version AS v`,
    )
    .get() as { appId: number; version: number; tables: string | null };
  const { appId, version } = row;
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw notADatabase(ctx.path, `it belongs to another program (application_id ${appId})`);
  }
  const latest = lastVersion(MIGRATIONS);
  if (version > latest) throw tooNew(ctx.path, version, latest);
  // An un-versioned SQLite file with tables is someone else's; migrating it would alter it.
  if (version === 0 && row.tables) throw notADatabase(ctx.path, `it already holds other tables: ${row.tables}`);
  return { version };
}

function currentVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function lastVersion(migrations: readonly Migration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

function assertMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError('migration-failed', `migration list is broken: entry ${i} has version ${m.version}, expected ${i + 1}`);
    }
  });
}

function tooNew(path: string, version: number, latest: number): StoreError {
  return new StoreError(
    'schema-too-new',
    `${path} was written by a newer certs (schema version ${version}; this certs knows up to ${latest}); refusing to open it`,
    { hint: 'upgrade certs, or point dataDir at another directory' },
  );
}

function notADatabase(path: string, why: string, cause?: unknown): StoreError {
  return new StoreError('not-a-database', `${path} is not a certs database (${why})`, {
    hint: 'move the file aside or point dataDir at another directory; it was left untouched',
    cause,
  });
}

function sqliteCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function sqliteMessage(err: unknown): string {
  // First line only: some drivers append context lines, and stacks never belong in a message.
  return errorMessage(err).split('\n', 1)[0] ?? '';
}

/** Runs `fn` again while it fails with BUSY, for up to `budgetMs`; then throws the last failure. */
function untilNotBusy(budgetMs: number, fn: () => void): void {
  const deadline = Date.now() + budgetMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      fn();
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() + wait > deadline) throw err;
      // openDatabase is synchronous (better-sqlite3 is); a short blocking pause, not a spin.
      Atomics.wait(pause, 0, 0, wait);
    }
  }
}

function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}
