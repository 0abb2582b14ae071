/**
 * The PostgreSQL engine's connection: a small pool, one query at a time for plain calls, and
 * `tx` for what must be atomic (a dedicated client between BEGIN and COMMIT, rolled back on any
 * error, including a connection killed halfway: the server then discards the transaction).
 *
 * Every error leaves here as a StoreError: lost or refused connections as 'connection'/'auth'
 * naming the target (never the password), SQL errors as 'postgres' with the SQLSTATE.
 */
import pg from 'pg';
import { StoreError, errorMessage } from '../../core/errors.js';
import { connectionError, describeTarget, openPgPool, type PgTarget } from './connect.js';

/** What repositories run their SQL on: the pool, or the client of the transaction they are in. */
export interface PgQueryable {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

export type PgIsolation = 'read committed' | 'repeatable read' | 'serializable';

export interface PgDb extends PgQueryable {
  readonly target: PgTarget;
  /** Runs `fn` in one transaction on one client; COMMIT when it resolves, ROLLBACK when it throws. */
  tx<T>(fn: (q: PgQueryable) => Promise<T>, opts?: { isolation?: PgIsolation; readOnly?: boolean }): Promise<T>;
  close(): Promise<void>;
}

interface DriverError extends Error {
  code?: string;
}

/** SQLSTATE classes that mean the connection, not the statement, failed. */
function isConnectionLevel(err: unknown): boolean {
  const code = (err as DriverError | undefined)?.code ?? '';
  if (/^(08|57P|53300)/.test(code)) return true; // connection exception, operator intervention (shutdown, terminate), too many connections
  if (/^(28)/.test(code)) return true;
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|Client has encountered a connection error|not queryable/i.test(`${code} ${errorMessage(err)}`);
}

export function pgError(err: unknown, t: PgTarget, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  if (isConnectionLevel(err)) return connectionError(err, t, doing);
  const code = (err as DriverError | undefined)?.code;
  return new StoreError('postgres', `${describeTarget(t)}: ${doing} failed: ${errorMessage(err)}${code ? ` (SQLSTATE ${code})` : ''}`, { cause: err });
}

function doingOf(text: string): string {
  // Leading comments (a migration's SQL starts with one) are skipped to find the statement.
  const verb = /^(?:\s|--[^\n]*\n)*(\w+)/.exec(text)?.[1]?.toUpperCase();
  if (verb === undefined) return 'a query';
  return verb === 'SELECT' || verb === 'WITH' ? 'a read' : `an ${verb}`.replace(/^an ([^AEIOU])/, 'a $1');
}

class Client implements PgQueryable {
  constructor(private readonly c: pg.PoolClient | pg.Pool, private readonly t: PgTarget) {}
  async query<R extends pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.c.query<R>(text, values as unknown[] | undefined);
    } catch (err) {
      throw pgError(err, this.t, doingOf(text));
    }
  }
}

export async function openPgDb(target: PgTarget, opts: { poolSize?: number } = {}): Promise<PgDb> {
  const pool = await openPgPool(target, opts.poolSize ?? 4);
  const direct = new Client(pool, target);
  let closed = false;
  return {
    target,
    query: (text, values) => direct.query(text, values),
    async tx(fn, o = {}) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw pgError(err, target, 'connecting');
      }
      // pg-pool listens for a checked-out client's errors no more: a backend killed mid-transaction
      // (a restart, a failover) would be an uncaught 'error' event and end the process. The
      // failed query reports it instead.
      const onError = (): void => undefined;
      client.on('error', onError);
      const q = new Client(client, target);
      let broken: unknown = null;
      try {
        await q.query(`BEGIN ISOLATION LEVEL ${(o.isolation ?? 'read committed').toUpperCase()}${o.readOnly ? ' READ ONLY' : ''}`);
        const out = await fn(q);
        await q.query('COMMIT');
        return out;
      } catch (err) {
        broken = err;
        // A lost connection has rolled back on the server already; ROLLBACK is for the others.
        await client.query('ROLLBACK').catch(() => undefined);
        // Our queries' failures are StoreErrors already; anything else is the caller's own.
        throw err;
      } finally {
        // A client whose connection failed is destroyed, not returned to the pool.
        const lost = broken instanceof StoreError ? broken.code === 'connection' : broken !== null && isConnectionLevel(broken);
        client.off('error', onError);
        client.release(lost ? true : undefined);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end().catch(() => undefined);
    },
  };
}
