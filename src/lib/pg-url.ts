/**
 * store.url as libpq reads a connection URL (issue 15). Here, not in store/, because config
 * validates it at load time and config may import only core and lib.
 */
import { StoreError, errorMessage } from '../core/errors.js';

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Where the store is, from `store.url`. */
export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode: SslMode;
  /** A CA bundle (PEM) that the server's chain must lead to. */
  sslrootcert?: string;
  /** libpq's connect_timeout, in seconds (default 10). */
  connectTimeoutS: number;
  /** libpq's application_name (default "certs"). */
  applicationName: string;
}

export const PARAMS_KNOWN = ['sslmode', 'sslrootcert', 'connect_timeout', 'application_name'];

/** `postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/path/ca.pem`. */
export function parsePgUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    // The URL may hold the password: say what is wrong without it.
    throw new StoreError('invalid-argument', `store.url is not a URL (expected postgres://user:password@host:5432/database)`, { cause: scrubbed(err, url) });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new StoreError('invalid-argument', `store.url: expected a postgres:// or postgresql:// URL, got ${JSON.stringify(u.protocol.replace(/:$/, ''))}`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new StoreError('invalid-argument', 'store.url names no host (expected postgres://user:password@host:5432/database)');
  const port = u.port === '' ? 5432 : Number(u.port);
  const user = decodeURIComponent(u.username);
  if (user === '') throw new StoreError('invalid-argument', `store.url names no user (expected postgres://user:password@${u.host}/database)`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || user;
  if (database.includes('/')) throw new StoreError('invalid-argument', `store.url: the database name cannot contain "/" (got ${JSON.stringify(database)})`);
  for (const key of u.searchParams.keys()) {
    if (!PARAMS_KNOWN.includes(key)) throw new StoreError('invalid-argument', `store.url: unknown parameter ${JSON.stringify(key)} (known: ${PARAMS_KNOWN.join(', ')})`);
  }
  const mode = u.searchParams.get('sslmode') ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    throw new StoreError('invalid-argument', `store.url: sslmode ${JSON.stringify(mode)} is not one of ${SSL_MODES.join(', ')}${mode === 'allow' ? ' (allow tries plain first: use prefer or stronger)' : ''}`);
  }
  const timeout = u.searchParams.get('connect_timeout');
  const connectTimeoutS = timeout === null ? 10 : Number(timeout);
  if (!Number.isInteger(connectTimeoutS) || connectTimeoutS < 1 || connectTimeoutS > 600) {
    throw new StoreError('invalid-argument', `store.url: connect_timeout must be whole seconds from 1 to 600, got ${JSON.stringify(timeout)}`);
  }
  const target: PgTarget = { host, port, database, user, sslmode: mode as SslMode, connectTimeoutS, applicationName: u.searchParams.get('application_name') ?? 'certs' };
  if (u.password !== '') target.password = decodeURIComponent(u.password);
  const root = u.searchParams.get('sslrootcert');
  if (root !== null) target.sslrootcert = root;
  return target;
}


function scrubbed(err: unknown, secret: string): Error {
  return new Error(errorMessage(err).split(secret).join('***'));
}
