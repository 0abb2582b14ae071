// A PostgreSQL cluster for store tests: one per test file (startPostgres: private, loopback, ssl
// on), and a fresh empty database per test or suite, so tests never see each other's rows.
//
//   const cluster = await startStoreCluster();          // in before()
//   const url = await cluster.newDatabase();            // postgres://postgres:…@127.0.0.1:port/certs_3?sslmode=require
//   await cluster.stop();                               // in after()
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { createCA, createLeaf, daysFrom, pemBundle } from './pki.js';
import { postgresUnavailable, startPostgres, type Postgres } from './postgres.js';

export { postgresUnavailable };

/**
 * The `skip` of a suite that needs PostgreSQL: why it cannot run here, or false. Under
 * TEST_SERVERS_REQUIRED=1 (CI) it never skips: the suite runs and fails instead.
 */
export function postgresSkip(): string | false {
  const unavailable = postgresUnavailable();
  return process.env['TEST_SERVERS_REQUIRED'] !== '1' && unavailable ? unavailable : false;
}

export const STORE_PG_PASSWORD = 'store-test-Pw-7c41';

export interface StoreCluster {
  readonly pg: Postgres;
  /** The URL of a database nobody used yet (sslmode=require: TLS as a real deployment would). */
  newDatabase(prefix?: string): Promise<string>;
  /** A URL for an existing database of this cluster. */
  url(database: string): string;
  stop(): Promise<void>;
}

let counter = 0;

export async function startStoreCluster(): Promise<StoreCluster> {
  const now = new Date();
  const root = await createCA({ cn: 'certs store test Root', notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 100) });
  const leaf = await createLeaf({ dns: ['db.certs.test'], ips: ['127.0.0.1'], issuer: root, notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 30) });
  const pg = await startPostgres({ certPem: pemBundle(leaf), keyPem: leaf.keyPem }, { password: STORE_PG_PASSWORD });
  const url = (database: string): string => `postgres://postgres:${encodeURIComponent(STORE_PG_PASSWORD)}@127.0.0.1:${pg.port}/${database}?sslmode=require`;
  return {
    pg,
    url,
    async newDatabase(prefix = 'certs') {
      const name = `${prefix}_${process.pid}_${++counter}`;
      const admin = await connectPg(parsePgUrl(url('postgres')));
      try {
        await admin.query(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    stop: () => pg.stop(),
  };
}
