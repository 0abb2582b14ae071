/**
 * Applies the PostgreSQL schema's numbered migrations (pg/schema.ts), and reads the version a
 * database is at (the highest version in certs_schema_migrations; 0 when the table is missing).
 *
 * Each pending migration runs in a transaction of its own that first takes
 * pg_advisory_xact_lock(PG_MIGRATION_LOCK), then (re)reads the recorded version: two processes
 * starting at once against a new database never both apply a migration; the second waits for the
 * first's transaction to end and then finds the work done. The lock is a transaction-level one, so
 * it is released by COMMIT or ROLLBACK, and by the server when a migrating process dies. It is
 * released between migrations too, so two processes may share the steps of a long upgrade (one
 * applies 2, the other 3): each migration still runs once, in order, on the version before it.
 *
 * What to pass as `client`:
 * - a PgDb (pg/db.ts): each migration runs in `db.tx`, on one pooled client;
 * - one connection (a pg.Client from connectPg, a pg.PoolClient, or any PgQueryable bound to a
 *   single connection): BEGIN/COMMIT/ROLLBACK are sent on it. It must not be in a transaction
 *   already (PostgreSQL would only warn on BEGIN, and our COMMIT would end the caller's transaction);
 * - never a pg.Pool: BEGIN and the statements after it could land on different connections, so it
 *   is refused.
 *
 * Failures: a database recorded at a version above the last migration given -> StoreError
 * 'schema-too-new' (a newer certs wrote it; nothing is touched). A migration whose SQL fails ->
 * 'migration-failed' naming it; its transaction is rolled back, so nothing of it is left and the
 * recorded version is unchanged. A lost connection stays a 'connection' error: the migration did
 * not fail, it was cut off (and rolled back by the server all the same).
 */
import pg from 'pg';
import { StoreError, errorMessage } from '../../core/errors.js';
import { describeTarget, type PgTarget } from './connect.js';
import { pgError, type PgDb, type PgQueryable } from './db.js';
import { PG_MIGRATIONS, PG_MIGRATIONS_TABLE, PG_MIGRATIONS_TABLE_DDL, type PgMigration } from './schema.js';

/**
 * The pg_advisory_xact_lock key of schema migrations: ASCII "certmigr" read as a big-endian signed
 * 64-bit integer (0x636572746d696772). Advisory keys are shared by everything on the database, so
 * it is a fixed, recognisable constant, distinct from the scan writers' "certscan" (pg/scans.ts).
 */
export const PG_MIGRATION_LOCK = '7162256626780039026';

/** A PgDb, or something with `query` on ONE connection (pg.Client, pg.PoolClient, a tx client). */
export type PgMigrationClient = PgDb | PgQueryable | pg.ClientBase;

interface Runner {
  /** Where, for messages: "PostgreSQL at host:port, database … as user …". */
  readonly where: string;
  query<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs fn in one transaction on one connection; COMMIT when it resolves, ROLLBACK when it throws. */
  tx<T>(fn: (q: Runner) => Promise<T>): Promise<T>;
}

function isPgDb(c: PgMigrationClient): c is PgDb {
  return typeof (c as Partial<PgDb>).tx === 'function' && (c as Partial<PgDb>).target !== undefined;
}

/** The target a plain pg client connects to (host, port, database, user; the password only to scrub it from messages). */
function targetOf(c: PgMigrationClient): PgTarget | null {
  if (isPgDb(c)) return c.target;
  const t = c as Partial<Record<'host' | 'database' | 'user' | 'password', unknown>> & { port?: unknown };
  if (typeof t.host !== 'string' || typeof t.port !== 'number') return null;
  return {
    host: t.host,
    port: t.port,
    database: typeof t.database === 'string' ? t.database : '',
    user: typeof t.user === 'string' ? t.user : '',
    ...(typeof t.password === 'string' ? { password: t.password } : {}),
  } as PgTarget;
}

function runnerOf(c: PgMigrationClient): Runner {
  if (c instanceof pg.Pool) {
    throw new StoreError('invalid-argument', 'applyPgMigrations needs a PgDb or one connection, not a pg.Pool: a transaction must stay on one connection');
  }
  const target = targetOf(c);
  const where = target ? describeTarget(target) : 'the PostgreSQL store';
  // Errors of a plain pg client become StoreErrors naming the target (PgDb's already are).
  const wrap = (err: unknown, text: string): unknown =>
    err instanceof StoreError || target === null ? err : pgError(err, target, `${/^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'a query'} while migrating the schema`);
  const on = (q: PgQueryable | pg.ClientBase, tx: Runner['tx']): Runner => ({
    where,
    async query<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]) {
      try {
        return await (q as PgQueryable).query<R>(text, values);
      } catch (err) {
        throw wrap(err, text);
      }
    },
    tx,
  });
  if (isPgDb(c)) {
    const self: Runner = on(c, (fn) => c.tx((q) => fn(on(q, self.tx))));
    return self;
  }
  const self: Runner = on(c, async (fn) => {
    await self.query('BEGIN');
    try {
      const out = await fn(self);
      await self.query('COMMIT');
      return out;
    } catch (err) {
      // After a lost connection there is nothing to roll back (the server did); ignore that failure.
      await (c as PgQueryable).query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
  return self;
}

function assertMigrationList(migrations: readonly PgMigration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError('migration-failed', `PostgreSQL migration list is broken: entry ${i} has version ${m.version}, expected ${i + 1}`);
    }
  });
}

async function recordedVersion(q: Runner): Promise<number> {
  // Looked up in pg_class with the statement's snapshot, not with to_regclass: to_regclass answers
  // from the session's catalog cache, which keeps "no such table" from before the lock was granted
  // (an advisory lock processes no invalidations), so a migrator that waited for another would
  // still see no table and apply migration 1 again. The schemas are the search_path's, where the
  // unqualified CREATE TABLE put it.
  const present = await q.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relname = $1 AND n.nspname = ANY (current_schemas(false))) AS present`,
    [PG_MIGRATIONS_TABLE],
  );
  if (present.rows[0]?.present !== true) return 0;
  // Naming the table here locks it, which does process invalidations: the SELECT finds it.
  const r = await q.query<{ v: number }>(`SELECT coalesce(max(version), 0)::integer AS v FROM ${PG_MIGRATIONS_TABLE}`);
  return Number(r.rows[0]?.v ?? 0);
}

/** What the server said, with its SQLSTATE, without the target the StoreError wrapper put in front. */
function serverMessage(err: unknown): string {
  const e = err instanceof StoreError && err.code === 'postgres' && err.cause !== undefined ? err.cause : err;
  const code = (e as { code?: unknown } | null)?.code;
  return `${errorMessage(e)}${typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : ''}`;
}

function assertNotTooNew(where: string, version: number, last: number): void {
  if (version > last) {
    throw new StoreError('schema-too-new', `${where} has schema version ${version}, newer than this certs knows (${last}); upgrade certs`, {
      hint: 'a newer certs wrote this database; it is left untouched',
    });
  }
}

/** The schema version recorded in the database: 0 for a database certs never migrated. */
export async function pgSchemaVersion(client: PgMigrationClient): Promise<number> {
  return recordedVersion(runnerOf(client));
}

/**
 * Applies the migrations the database has not recorded yet, each in its own transaction under the
 * migration lock. Returns the version found (`from`, read under the lock when anything was pending)
 * and the version left (`to`, the last migration's). Applying to an up-to-date database takes no lock.
 */
export async function applyPgMigrations(client: PgMigrationClient, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<{ from: number; to: number }> {
  assertMigrationList(migrations);
  const last = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const run = runnerOf(client);
  const seen = await recordedVersion(run);
  assertNotTooNew(run.where, seen, last);
  if (seen === last) return { from: seen, to: seen };

  let from: number | null = null;
  let to = seen;
  for (;;) {
    const applied = await run.tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`);
      const v = await recordedVersion(q);
      assertNotTooNew(q.where, v, last);
      from ??= v;
      to = v;
      const next = migrations[v]; // versions are 1..n without gaps: the one after v is at index v
      if (next === undefined) return false;
      if (v === 0) await q.query(PG_MIGRATIONS_TABLE_DDL);
      try {
        // Several statements, no parameters: sent as one simple query, inside this transaction.
        await q.query(next.sql);
      } catch (err) {
        if (err instanceof StoreError && (err.code === 'connection' || err.code === 'auth')) throw err;
        throw new StoreError('migration-failed', `${q.where}: migration ${next.version} (${next.name}) failed: ${serverMessage(err)}`, {
          cause: err,
          hint: 'the database was left at the previous version; report this with the message above',
        });
      }
      await q.query(`INSERT INTO ${PG_MIGRATIONS_TABLE} (version, name, applied_at) VALUES ($1, $2, $3)`, [next.version, next.name, new Date().toISOString()]);
      to = next.version;
      return true;
    });
    if (!applied) break;
  }
  return { from: from ?? seen, to };
}
