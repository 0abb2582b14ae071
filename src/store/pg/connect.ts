/**
 * Connecting to the PostgreSQL store (issue 15): the connection URL as libpq reads it, TLS as
 * its `sslmode`/`sslrootcert` say, and errors that name the server, port, database and user,
 * never the password (it is also scrubbed from anything the server or the driver says).
 *
 * sslmode, as libpq defines it:
 *   disable      plain TCP
 *   prefer       TLS without verification when the server offers it, plain otherwise (the
 *                default, as in libpq; the fallback is a second connection)
 *   require      TLS without verification; with sslrootcert, as verify-ca (libpq does the same)
 *   verify-ca    TLS, the chain verified against sslrootcert (else the system's roots)
 *   verify-full  verify-ca, and the certificate must name the host
 * `allow` (plain first) is refused: it never protects anything `prefer` would not.
 */
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { StoreError, errorMessage } from '../../core/errors.js';
import type { PgTarget, SslMode } from '../../lib/pg-url.js';

export { PARAMS_KNOWN, SSL_MODES, parsePgUrl, type PgTarget, type SslMode } from '../../lib/pg-url.js';

/** How errors and logs name the store: server, port, database and user, never the password. */
export function describeTarget(t: PgTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `PostgreSQL at ${host}:${t.port}, database "${t.database}" as user "${t.user}"`;
}

/** The TLS options for a mode, or false for none. */
function tlsOptions(t: PgTarget, mode: SslMode): ConnectionOptions | false {
  if (mode === 'disable') return false;
  let ca: string | undefined;
  if (t.sslrootcert !== undefined) {
    try {
      ca = readFileSync(t.sslrootcert, 'utf8');
    } catch (err) {
      throw new StoreError('io', `${describeTarget(t)}: cannot read sslrootcert ${t.sslrootcert}: ${errorMessage(err)}`, { cause: err });
    }
  }
  const verify = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && ca !== undefined);
  if (!verify) return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ...(ca !== undefined ? { ca } : {}),
    servername: /^[\d.]+$|:/.test(t.host) ? undefined : t.host,
    // verify-ca checks the chain only; verify-full also the name, as libpq does.
    checkServerIdentity: mode === 'verify-full' ? (host, cert) => checkServerIdentity(t.host, cert) : () => undefined,
  };
}

export function clientConfig(t: PgTarget, mode: SslMode): pg.ClientConfig {
  return {
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    ...(t.password !== undefined ? { password: t.password } : {}),
    ssl: tlsOptions(t, mode),
    connectionTimeoutMillis: t.connectTimeoutS * 1000,
    application_name: t.applicationName,
  };
}

/** Removes the password from a text we pass on (a server or driver could echo it). */
function scrub(text: string, t: Pick<PgTarget, 'password'>): string {
  return t.password && t.password.length > 0 ? text.split(t.password).join('***') : text;
}


interface PgDriverError extends Error {
  code?: string;
  severity?: string;
}

/** A driver or socket error as a StoreError naming the target; never the password. */
export function connectionError(err: unknown, t: PgTarget, doing = 'connecting'): StoreError {
  const e = (err ?? {}) as PgDriverError;
  const said = scrub(errorMessage(err), t);
  const where = describeTarget(t);
  // SQLSTATE 28P01 invalid_password, 28000 invalid_authorization_specification.
  if (e.code === '28P01' || e.code === '28000') {
    return new StoreError('auth', `${where}: the server refused the login: ${said}`, { hint: 'check the user and password of store.url (or its ${env:…}/${file:…} source)', cause: new Error(said) });
  }
  // 3D000 invalid_catalog_name: no such database.
  if (e.code === '3D000') return new StoreError('connection', `${where}: ${said}`, { hint: 'create the database first (createdb), or fix its name in store.url', cause: new Error(said) });
  const tls = /certificate|self[- ]signed|SSL|TLS|UNABLE_TO|ERR_TLS|altname/i.test(`${e.code ?? ''} ${said}`);
  return new StoreError('connection', `${where}: ${doing} failed: ${said}`, {
    ...(tls ? { hint: 'the server\'s certificate did not verify: set sslrootcert to the CA that issued it, or check sslmode' } : {}),
    cause: new Error(said),
  });
}

/**
 * One connected client. With sslmode prefer, a server that refuses TLS gets a second, plain
 * connection, as libpq does; every other failure is final here (the caller decides on retries).
 */
export async function connectPg(t: PgTarget): Promise<pg.Client> {
  const attempt = async (mode: SslMode): Promise<pg.Client> => {
    const client = new pg.Client(clientConfig(t, mode));
    // An error after connecting (the server restarted) must not become an uncaught exception;
    // the next query reports it.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  try {
    return await attempt(t.sslmode === 'prefer' ? 'require' : t.sslmode);
  } catch (err) {
    if (t.sslmode === 'prefer' && /does not support SSL/i.test(errorMessage(err))) {
      try {
        return await attempt('disable');
      } catch (plainErr) {
        throw connectionError(plainErr, t);
      }
    }
    throw connectionError(err, t);
  }
}

/**
 * A pool for the store. The sslmode is settled once, by a first connection (prefer may fall back
 * to plain), and every pooled connection then uses what that one got.
 */
export async function openPgPool(t: PgTarget, max = 4): Promise<pg.Pool> {
  const probe = await connectPg(t);
  const tls = (probe as unknown as { ssl: unknown }).ssl;
  await probe.end().catch(() => undefined);
  const mode: SslMode = t.sslmode === 'prefer' ? (tls ? 'require' : 'disable') : t.sslmode;
  const pool = new pg.Pool({ ...clientConfig(t, mode), max, idleTimeoutMillis: 30_000 });
  // An idle client whose server went away must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}
