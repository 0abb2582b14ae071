/**
 * certs store migrate --to <url> | --from <url>, certs store rotate-key (issue 15).
 *
 * Secrets never come from argv, where every user of the machine can read them (ps, /proc):
 * the key-encryption keys come from the environment (CERTS_KEY_ENCRYPTION_KEY, and
 * CERTS_NEW_KEY_ENCRYPTION_KEY for rotate-key) and the database password from the URL only if
 * one puts it there: a URL without a password lets the pg driver take PGPASSWORD or ~/.pgpass.
 */
import { UsageError } from '../../core/errors.js';
import { parseKek, type Kek } from '../../store/key-crypto.js';
import type { TableReport, TransferResult } from '../../store/transfer.js';
import type { RotateResult } from '../../store/rotate-key.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';

export const KEK_ENV = 'CERTS_KEY_ENCRYPTION_KEY';
export const NEW_KEK_ENV = 'CERTS_NEW_KEY_ENCRYPTION_KEY';
export const DATABASE_URL_ENV = 'CERTS_DATABASE_URL';

export const MIGRATE_HELP = `
The SQLite store is the one of the config's dataDir. --to copies it into an EMPTY PostgreSQL
database (its schema is created first); --from copies a PostgreSQL store back into a new SQLite
store at dataDir (there must be no certs.db there yet) and writes every issued version's files
into <dataDir>/certs/<name>/archive/ (private keys 0600).

Every table's rows are counted and checksummed on both sides; any difference is an error and
nothing is kept. The copy is one transaction (--to) or a file renamed into place when verified
(--from): after a crash or kill, run the same command again. A destination that already holds
exactly this copy is reported as "already migrated". Stop certs (daemon, cron) first: while
--to runs, certs commands that write to the SQLite store fail with "locked".

Secrets (never on the command line):
  ${KEK_ENV}   the key-encryption key (32 bytes in base64, e.g. from
                             \`openssl rand -base64 32\`) that seals private keys in PostgreSQL
                             (--to), or opens them (--from). Set store.keyEncryptionKey to it.
  The database password: leave it out of the URL (postgres://certs@db.example:5432/certs) and
  set PGPASSWORD, or put it in ~/.pgpass; a password in the URL is visible to other users in ps.

Exit codes: 0 copied (or already migrated), 1 the copy failed or did not verify, 2 usage error.`;

export const ROTATE_HELP = `
Re-seals every private key in the PostgreSQL store from the current key-encryption key to a new
one. Keys already under the new key are skipped: after a crash, run it again to finish.

  store.url of the config (store.engine postgres), else ${DATABASE_URL_ENV}: the database.
  store.keyEncryptionKey of the config, else ${KEK_ENV}: the current key.
  ${NEW_KEK_ENV}: the new key (32 bytes in base64). Once done, set store.keyEncryptionKey to it.

Exit codes: 0 every key is under the new key, 1 a key could not be opened or written, 2 usage error.`;

export interface MigrateCliOptions extends GlobalOptions {
  to?: string;
  from?: string;
  json?: boolean;
}

export interface RotateCliOptions extends GlobalOptions {
  json?: boolean;
}

function kekFromEnv(name: string, purpose: string): Kek {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') {
    throw new UsageError(`${purpose}: set ${name} to the key-encryption key (32 bytes in base64, e.g. from \`openssl rand -base64 32\`); it is never read from the command line`);
  }
  return parseKek(text, name);
}

export async function migrateCommand(opts: MigrateCliOptions, io: Io): Promise<number> {
  if ((opts.to === undefined) === (opts.from === undefined)) throw new UsageError('store migrate: give either --to <postgres-url> or --from <postgres-url>');
  const url = (opts.to ?? opts.from)!;
  const kek = kekFromEnv(KEK_ENV, opts.to !== undefined ? 'store migrate --to seals the private keys' : 'store migrate --from opens the private keys');
  const config = configFrom(opts);
  const { migrateFromPostgres, migrateToPostgres } = await import('../../store/transfer.js');
  const result = opts.to !== undefined ? await migrateToPostgres(config.dataDir, url, kek) : await migrateFromPostgres(config.dataDir, url, kek);
  if (opts.json) io.stdout.write(`${JSON.stringify(jsonOf(result), null, 2)}\n`);
  else io.stdout.write(textOf(result));
  return 0;
}

function jsonOf(r: TransferResult): object {
  return {
    direction: r.direction,
    postgres: r.postgres,
    dataDir: r.dataDir,
    alreadyMigrated: r.alreadyMigrated,
    tables: Object.fromEntries([...r.tables, r.files].map((t) => [t.table, { rows: t.rows, checksum: t.checksum }])),
    versionsWithoutFiles: r.versionsWithoutFiles,
  };
}

function textOf(r: TransferResult): string {
  const rows: TableReport[] = [...r.tables, r.files];
  const w = Math.max(...rows.map((t) => t.table.length));
  const n = Math.max(...rows.map((t) => String(t.rows).length));
  const lines = rows.map((t) => `  ${t.table.padEnd(w)}  ${String(t.rows).padStart(n)}  ${t.checksum.slice(0, 16)}`);
  const head = r.alreadyMigrated
    ? `already migrated: ${r.postgres} holds exactly the store of ${r.dataDir} (checksums equal); nothing written`
    : r.direction === 'to-postgres'
      ? `copied the store of ${r.dataDir} into ${r.postgres}; counts and checksums verified`
      : `copied ${r.postgres} into a new store at ${r.dataDir}; counts and checksums verified`;
  const pruned = r.versionsWithoutFiles > 0 ? `\n${r.versionsWithoutFiles} issued version(s) had no files in the archive (pruned): their rows are copied, no files.` : '';
  return `${head}\n${lines.join('\n')}${pruned}\n`;
}

export async function rotateKeyCommand(opts: RotateCliOptions, io: Io): Promise<number> {
  const config = configFrom(opts);
  const url = config.store.engine === 'postgres' ? config.store.url : process.env[DATABASE_URL_ENV];
  if (url === undefined || url === '') throw new UsageError(`store rotate-key: the config's store is not postgres; set store.engine: postgres and store.url, or ${DATABASE_URL_ENV}`);
  const oldKek = config.store.keyEncryptionKey !== undefined ? parseKek(config.store.keyEncryptionKey, 'store.keyEncryptionKey') : kekFromEnv(KEK_ENV, 'store rotate-key opens the keys with the current key');
  const newKek = kekFromEnv(NEW_KEK_ENV, 'store rotate-key seals the keys with the new key');
  if (newKek.id === oldKek.id) throw new UsageError(`store rotate-key: ${NEW_KEK_ENV} is the key the store already uses (${oldKek.id})`);
  const { openPgDb } = await import('../../store/pg/db.js');
  const { parsePgUrl } = await import('../../store/pg/connect.js');
  const { rotateKeks } = await import('../../store/rotate-key.js');
  const db = await openPgDb(parsePgUrl(url), { poolSize: 1 });
  let result: RotateResult;
  try {
    result = await rotateKeks(db, oldKek, newKek);
  } finally {
    await db.close();
  }
  if (opts.json) io.stdout.write(`${JSON.stringify({ oldKekId: oldKek.id, ...result }, null, 2)}\n`);
  else {
    io.stdout.write(`re-sealed ${result.resealed} private key(s) from key ${oldKek.id} to ${result.newKekId}; ${result.alreadyNew} already under it; ${result.total} in the store.\n`
      + `Now set store.keyEncryptionKey to the new key.\n`);
  }
  return 0;
}

