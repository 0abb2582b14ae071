/**
 * store/pg/connect.ts against a real PostgreSQL 15 (a private cluster on loopback, ssl = on,
 * scram-sha-256 logins): sslmode and sslrootcert as libpq reads them, and errors that name the
 * server, port and database but never the password (issue 15).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../src/core/errors.js';
import { connectPg, describeTarget, parsePgUrl } from '../../src/store/pg/connect.js';
import { createCA, createLeaf, daysFrom, pemBundle } from '../helpers/pki.js';
import { postgresUnavailable, startPostgres, type Postgres } from '../helpers/postgres.js';
import { freePort } from '../helpers/ports.js';

const PASSWORD = 'Sw0rdf1sh-secret-9f2c';
const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';

async function connectError(url: string): Promise<StoreError> {
  try {
    const c = await connectPg(parsePgUrl(url));
    await c.end();
  } catch (err) {
    assert.ok(err instanceof StoreError, String(err));
    assert.ok(!err.message.includes(PASSWORD) && !String(err.cause).includes(PASSWORD), `no password in: ${err.message}`);
    return err;
  }
  assert.fail(`${url}: expected the connection to fail`);
}

describe('connecting to the PostgreSQL store', { skip: !required && unavailable ? unavailable : false }, () => {
  let pg: Postgres;
  let dir: string;
  let rootFile: string;
  let otherRootFile: string;
  const url = (params: string, password = PASSWORD, host = '127.0.0.1', port?: number) =>
    `postgres://postgres:${encodeURIComponent(password)}@${host}:${port ?? pg.port}/postgres${params}`;

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    dir = mkdtempSync(join(tmpdir(), 'certs-pg-connect-'));
    const now = new Date();
    const root = await createCA({ cn: 'certs store Root', notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 100) });
    const other = await createCA({ cn: 'another Root', notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 100) });
    const leaf = await createLeaf({ dns: ['db.certs.test'], ips: ['127.0.0.1'], issuer: root, notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 30) });
    rootFile = join(dir, 'root.pem');
    otherRootFile = join(dir, 'other.pem');
    writeFileSync(rootFile, pemBundle(root));
    writeFileSync(otherRootFile, pemBundle(other));
    pg = await startPostgres({ certPem: pemBundle(leaf), keyPem: leaf.keyPem }, { password: PASSWORD });
  });
  after(async () => {
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('verify-full with the issuing root: TLS, and a query answers', async () => {
    const c = await connectPg(parsePgUrl(url(`?sslmode=verify-full&sslrootcert=${rootFile}`)));
    try {
      const r = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      assert.equal(r.rows[0]?.ssl, true);
    } finally {
      await c.end();
    }
  });

  it('verify-full against another root: a connection error naming server, port and database, with a hint', async () => {
    const err = await connectError(url(`?sslmode=verify-full&sslrootcert=${otherRootFile}`));
    assert.equal(err.code, 'connection');
    assert.match(err.message, new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${pg.port}, database "postgres" as user "postgres": connecting failed: `));
    assert.match(err.hint ?? '', /sslrootcert/);
  });

  it('verify-full checks the name; verify-ca only the chain', async () => {
    // The certificate names db.certs.test and 127.0.0.1, not localhost.
    const err = await connectError(url(`?sslmode=verify-full&sslrootcert=${rootFile}`, PASSWORD, 'localhost'));
    assert.match(err.message, /localhost/);
    const c = await connectPg(parsePgUrl(url(`?sslmode=verify-ca&sslrootcert=${rootFile}`, PASSWORD, 'localhost')));
    await c.end();
  });

  it('require encrypts without verifying; disable and prefer connect too (the server takes both)', async () => {
    for (const mode of ['require', 'disable', 'prefer']) {
      const c = await connectPg(parsePgUrl(url(`?sslmode=${mode}`)));
      try {
        const r = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        assert.equal(r.rows[0]?.ssl, mode !== 'disable', mode);
      } finally {
        await c.end();
      }
    }
  });

  it('a wrong password: an auth error without the password (neither the wrong nor the right one)', async () => {
    const wrong = 'not-the-Sw0rdf1sh';
    const err = await connectError(url('?sslmode=require', wrong));
    assert.equal(err.code, 'auth');
    assert.ok(!err.message.includes(wrong));
    assert.match(err.message, /database "postgres" as user "postgres": the server refused the login/);
  });

  it('a database that does not exist, and a port nobody listens on, are connection errors that say so', async () => {
    const noDb = await connectError(url('?sslmode=require').replace('/postgres?', '/nosuchdb?'));
    assert.equal(noDb.code, 'connection');
    assert.match(noDb.message, /database "nosuchdb"/);
    assert.match(noDb.hint ?? '', /createdb/);
    const port = await freePort();
    const refused = await connectError(url('?sslmode=disable&connect_timeout=5', PASSWORD, '127.0.0.1', port));
    assert.equal(refused.code, 'connection');
    assert.match(refused.message, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
  });
});

describe('store.url', () => {
  it('reads user, password, host, port, database and the libpq parameters; shows no password', () => {
    const t = parsePgUrl('postgresql://certs:p%40ss%2Fword@[::1]:6543/certs%20db?sslmode=verify-ca&sslrootcert=/etc/certs/ca.pem&connect_timeout=3');
    assert.deepEqual(t, { host: '::1', port: 6543, database: 'certs db', user: 'certs', password: 'p@ss/word', sslmode: 'verify-ca', sslrootcert: '/etc/certs/ca.pem', connectTimeoutS: 3, applicationName: 'certs' });
    assert.equal(describeTarget(t), 'PostgreSQL at [::1]:6543, database "certs db" as user "certs"');
    const d = parsePgUrl('postgres://certs@db.example');
    assert.equal(d.port, 5432);
    assert.equal(d.database, 'certs');
    assert.equal(d.sslmode, 'prefer');
  });

  it('refuses what it cannot honour, never quoting the password', () => {
    for (const [u, re] of [
      ['mysql://u:Sw0rdf1sh@h/db', /postgres:\/\/ or postgresql:\/\//],
      ['postgres://u:Sw0rdf1sh@h/db?sslmode=allow', /sslmode "allow".*use prefer or stronger/],
      ['postgres://u:Sw0rdf1sh@h/db?sslmode=verify', /sslmode "verify" is not one of/],
      ['postgres://u:Sw0rdf1sh@h/db?ssl=true', /unknown parameter "ssl"/],
      ['postgres://:Sw0rdf1sh@h/db', /names no user/],
      ['postgres://u:Sw0rdf1sh@h/db?connect_timeout=0', /connect_timeout/],
      ['not a url Sw0rdf1sh', /is not a URL/],
    ] as const) {
      assert.throws(() => parsePgUrl(u), (err: unknown) => err instanceof StoreError && re.test(err.message) && !err.message.includes('Sw0rdf1sh') && !String(err.cause ?? '').includes('Sw0rdf1sh'), u);
    }
  });
});
