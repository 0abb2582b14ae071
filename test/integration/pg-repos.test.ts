/**
 * The PostgreSQL repositories (store/pg/{accounts,issued,renewals,deployments,notifications,runs}.ts)
 * against the SQLite ones (issue 15): the same calls on both engines return deepEqual results —
 * ids included — and the PostgreSQL-only part, a version's PEMs with the private key sealed
 * under the key-encryption key, round-trips, is idempotent, refuses a rewrite and names a wrong
 * KEK without showing the key. commitRun is atomic: a failure inside leaves nothing.
 */
import { defaultNodeName } from '../../src/config/node.js';
import { after, before, beforeEach, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../src/core/errors.js';
import { openStore, type IssuedCert, type Store } from '../../src/store/index.js';
import type { StoreReader } from '../../src/store/contract.js';
import type { NewOutboxMessage } from '../../src/store/notifications.js';
import { parseKek, sealedWith, type Kek } from '../../src/store/key-crypto.js';
import { parsePgUrl } from '../../src/store/pg/connect.js';
import { openPgDb, type PgDb } from '../../src/store/pg/db.js';
import { applyPgMigrations } from '../../src/store/pg/migrate.js';
import { PgAccountStore } from '../../src/store/pg/accounts.js';
import { PgIssuedStore } from '../../src/store/pg/issued.js';
import { PgRenewalStore } from '../../src/store/pg/renewals.js';
import { PgDeploymentStore } from '../../src/store/pg/deployments.js';
import { PgNotificationStore } from '../../src/store/pg/notifications.js';
import { PgRunStore } from '../../src/store/pg/runs.js';
import { a } from '../helpers/async-store.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';

type Repos = Pick<StoreReader, 'accounts' | 'issued' | 'renewals' | 'deployments' | 'notifications' | 'runs'>;

const kekOf = (): Kek => parseKek(randomBytes(32).toString('base64'), 'test');
const KEK = kekOf();

function pgRepos(db: PgDb, keks: { seal: Kek; open: readonly Kek[] } = { seal: KEK, open: [] }): Repos {
  return {
    accounts: new PgAccountStore(db),
    issued: new PgIssuedStore(db, keks),
    renewals: new PgRenewalStore(db),
    deployments: new PgDeploymentStore(db, defaultNodeName()),
    notifications: new PgNotificationStore(db),
    runs: new PgRunStore(db),
  };
}

// Fixtures as in test/unit/store/acme-store.test.ts.
function cert(lineage: string, version: number, over: Partial<IssuedCert> = {}): IssuedCert {
  return {
    lineage,
    version,
    fingerprint256: `${lineage}:${version}:FP`,
    serial: `0${version}AB`,
    notBefore: `2030-0${version}-01T00:00:00.000Z`,
    notAfter: `2030-0${version + 3}-01T00:00:00.000Z`,
    issuer: 'CN=Test Issuing CA',
    names: [lineage, `www.${lineage}`],
    keyType: 'ecdsa-p256',
    directoryUrl: 'https://acme.test/directory',
    profile: null,
    ariCertId: `ari-${lineage}-${version}`,
    replacedId: version > 1 ? `ari-${lineage}-${version - 1}` : null,
    dir: `/data/certs/${lineage}/archive/${version}`,
    issuedAt: `2030-0${version}-01T00:05:00.000Z`,
    reason: version === 1 ? 'first issuance' : 'one third of the lifetime left',
    revokedAt: null,
    revokeReason: null,
    ...over,
  };
}

const ari = {
  certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
  start: '2030-02-01T00:00:00.000Z',
  end: '2030-02-03T00:00:00.000Z',
  chosen: '2030-02-02T07:13:00.000Z',
  retryAfter: '2030-01-20T06:00:00.000Z',
  explanationUrl: 'https://ca.test/incident/42',
};

function message(key: string, over: Partial<NewOutboxMessage> = {}): NewOutboxMessage {
  return {
    key,
    channel: 'email',
    to: ['ops@example.com', 'dev@example.com'],
    subject: `certs: ${key}`,
    text: `text of ${key}\nwith ünïcödé and a tab\t.`,
    html: `<p>${key}</p>`,
    payload: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    nextAttemptAt: '2030-01-01T00:00:00.000Z',
    ...over,
  };
}

function keyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function pemsFor(label: string, privkey = keyPem()) {
  const cert = `-----BEGIN CERTIFICATE-----\n${Buffer.from(`leaf ${label}`).toString('base64')}\n-----END CERTIFICATE-----\n`;
  const chain = `-----BEGIN CERTIFICATE-----\n${Buffer.from(`intermediate of ${label}`).toString('base64')}\n-----END CERTIFICATE-----\n`;
  return { cert, chain, fullchain: cert + chain, privkey };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return assert.fail('expected a rejection');
}

describe('the PostgreSQL repositories behave as the SQLite ones', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let dir: string;
  let db: PgDb;
  let sqliteStore: Store;
  let sqlite: Repos;
  let pg: Repos;
  let seq = 0;

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    cluster = await startStoreCluster();
    dir = mkdtempSync(join(tmpdir(), 'certs-pg-repos-'));
  });
  after(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    db = await openPgDb(parsePgUrl(await cluster.newDatabase()));
    await applyPgMigrations(db);
    sqliteStore = openStore(join(dir, `t${++seq}`));
    sqlite = a(sqliteStore);
    pg = pgRepos(db);
  });
  afterEach(async () => {
    sqliteStore?.close();
    await db?.close();
  });

  /** Runs `call` on SQLite, then on PostgreSQL; the results must be deepEqual. */
  async function same<T>(what: string, call: (r: Repos) => Promise<T>): Promise<T> {
    const want = await call(sqlite);
    const got = await call(pg);
    assert.deepStrictEqual(got, want, what);
    return want;
  }

  /** Both engines refuse `call`; PostgreSQL's refusal is a StoreError. */
  async function bothRefuse(what: string, call: (r: Repos) => Promise<unknown>): Promise<{ sqlite: unknown; pg: StoreError }> {
    const s = await rejection(call(sqlite));
    const p = await rejection(call(pg));
    assert.ok(p instanceof StoreError, `${what}: ${String(p)}`);
    return { sqlite: s, pg: p };
  }

  it('accounts: null, saved, upserted keeping created_at, per directory', async () => {
    const dirUrl = 'https://acme.test/directory';
    await same('unknown directory', (r) => r.accounts.get(dirUrl));
    await same('save', (r) => r.accounts.save({ directoryUrl: dirUrl, accountUrl: null, keyFile: '/data/accounts/a.key', email: null, createdAt: '2030-01-01T00:00:00.000Z' }));
    assert.notEqual(await same('get', (r) => r.accounts.get(dirUrl)), null);
    await same('upsert', (r) => r.accounts.save({ directoryUrl: dirUrl, accountUrl: 'https://acme.test/acct/1', keyFile: '/data/accounts/b.key', email: 'ops@example.com', createdAt: '2031-05-05T00:00:00.000Z' }));
    assert.equal((await same('get after upsert', (r) => r.accounts.get(dirUrl)))?.createdAt, '2030-01-01T00:00:00.000Z');
    await same('other', (r) => r.accounts.save({ directoryUrl: 'https://other.test/dir', accountUrl: 'https://other.test/a/9', keyFile: '/k', email: null, createdAt: '2030-02-02T00:00:00.000Z' }));
    await same('get other', (r) => r.accounts.get('https://other.test/dir'));
    await same('get first', (r) => r.accounts.get(dirUrl));
  });

  it('issued: ids, versions, lists newest first across lineages, latest per lineage, revocation, a duplicate refused', async () => {
    await same('latest of nothing', (r) => r.issued.latest('a.example'));
    await same('maxVersion of nothing', (r) => r.issued.maxVersion('a.example'));
    await same('empty list', (r) => r.issued.list());
    await same('empty latestAll', (r) => r.issued.latestAll());
    const ids = [
      await same('record a1', (r) => r.issued.record(cert('a.example', 1))),
      await same('record B1', (r) => r.issued.record(cert('B.example', 1, { profile: 'shortlived', keyType: 'rsa2048' }))),
      await same('record a2', (r) => r.issued.record(cert('a.example', 2))),
      await same('record a3', (r) => r.issued.record(cert('a.example', 3, { names: ['a.example', '*.a.example', '192.0.2.1'] }))),
      await same('record a-b1', (r) => r.issued.record(cert('a-b.example', 1))),
      await same('record ab1', (r) => r.issued.record(cert('ab.example', 1))),
    ];
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6]);
    assert.equal((await same('latest', (r) => r.issued.latest('a.example')))?.version, 3);
    await same('byVersion', (r) => r.issued.byVersion('a.example', 2));
    await same('byVersion absent', (r) => r.issued.byVersion('a.example', 9));
    await same('byVersion other lineage', (r) => r.issued.byVersion('c.example', 1));
    assert.equal(await same('maxVersion', (r) => r.issued.maxVersion('a.example')), 3);
    await same('list one lineage', (r) => r.issued.list('a.example'));
    // Uppercase before lowercase, "-" before "b": SQLite's BINARY order, whatever PostgreSQL's locale.
    const all = await same('list all', (r) => r.issued.list());
    assert.deepEqual(all.map((c) => `${c.lineage}#${c.version}`), ['B.example#1', 'a-b.example#1', 'a.example#3', 'a.example#2', 'a.example#1', 'ab.example#1']);
    await same('latestAll', (r) => r.issued.latestAll());
    await same('markRevoked', (r) => r.issued.markRevoked(ids[0]!, '2030-03-03T03:03:03.000Z', 4));
    assert.equal((await same('revoked', (r) => r.issued.byVersion('a.example', 1)))?.revokeReason, 4);
    await same('only that one', (r) => r.issued.byVersion('a.example', 2));
    await bothRefuse('the same version twice', (r) => r.issued.record(cert('a.example', 1, { fingerprint256: 'other' })));
    await same('still three versions', (r) => r.issued.list('a.example'));
  });

  it('lists sort as SQLite sorts them in a database whose locale sorts otherwise (ICU en-US)', async () => {
    const name = `certs_icu_${process.pid}_${seq}`;
    await db.query(`CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    const icu = await openPgDb(parsePgUrl(cluster.url(name)));
    try {
      await applyPgMigrations(icu);
      const { rows } = await icu.query<{ before: boolean }>("SELECT 'B.example' < 'a.example' AS before");
      assert.equal(rows[0]!.before, false, 'the precondition: this database sorts "a" before "B", SQLite the other way round');
      const repos = pgRepos(icu);
      for (const c of [cert('a.example', 1), cert('B.example', 1), cert('a.example', 2), cert('_x.example', 1)]) {
        await sqlite.issued.record(c);
        await repos.issued.record(c);
      }
      assert.deepStrictEqual(await repos.issued.list(), await sqlite.issued.list());
    } finally {
      await icu.close();
    }
  });

  it('renewals: failures counted, ARI window set and cleared by a success, attempts newest first', async () => {
    await same('none', (r) => r.renewals.get('f.example'));
    await same('failure 1', (r) => r.renewals.recordFailure('f.example', { at: '2030-01-01T00:00:00.000Z', error: 'rate limited', code: 'rateLimited', nextAttemptAt: '2030-01-01T00:10:00.000Z' }));
    await same('failure 2', (r) => r.renewals.recordFailure('f.example', { at: '2030-01-01T00:10:00.000Z', error: 'DNS timeout', code: 'timeout', nextAttemptAt: '2030-01-01T01:10:00.000Z' }));
    assert.equal((await same('two failures', (r) => r.renewals.get('f.example')))?.failures, 2);
    await same('setAri on a new lineage', (r) => r.renewals.setAri('a.example', ari));
    assert.deepEqual((await same('ari', (r) => r.renewals.get('a.example')))?.ari, ari);
    await same('setAri without explanation', (r) => r.renewals.setAri('a.example', { ...ari, explanationUrl: null, chosen: '2030-02-01T12:00:00.000Z' }));
    await same('ari replaced', (r) => r.renewals.get('a.example'));
    await same('ari on a failing lineage', (r) => r.renewals.setAri('f.example', ari));
    await same('success on a failing lineage', (r) => r.renewals.recordSuccess('f.example', '2030-01-02T00:00:05.000Z'));
    const s = await same('cleared', (r) => r.renewals.get('f.example'));
    assert.equal(s?.failures, 0);
    assert.equal(s?.ari, null);
    await same('success on a new lineage', (r) => r.renewals.recordSuccess('n.example', '2030-01-02T00:00:06.000Z'));
    await same('failure after success', (r) => r.renewals.recordFailure('f.example', { at: '2030-01-03T00:00:00.000Z', error: 'again', code: 'x', nextAttemptAt: '2030-01-03T00:05:00.000Z' }));
    await same('all', (r) => r.renewals.all());

    const first = await same('attempt 1', (r) => r.renewals.attemptStarted('h.example', '2030-01-01T00:00:00.000Z', 'first issuance'));
    await same('finish 1', (r) => r.renewals.attemptFinished(first, { at: '2030-01-01T00:00:30.000Z', outcome: 'failed', error: 'DNS timeout', orderUrl: 'https://acme.test/order/1' }));
    const second = await same('attempt 2', (r) => r.renewals.attemptStarted('h.example', '2030-01-01T01:00:00.000Z', 'retry after backoff'));
    await same('finish 2', (r) => r.renewals.attemptFinished(second, { at: '2030-01-01T01:00:20.000Z', outcome: 'issued' }));
    await same('attempt 3', (r) => r.renewals.attemptStarted('h.example', '2030-02-01T00:00:00.000Z', 'ARI window'));
    await same('other lineage', (r) => r.renewals.attemptStarted('other.example', '2030-02-01T00:00:00.000Z', 'first issuance'));
    assert.equal((await same('attempts', (r) => r.renewals.attempts('h.example'))).length, 3);
    await same('attempts, limit 1', (r) => r.renewals.attempts('h.example', 1));
    await same('attempts, limit -1 (no limit, as SQLite reads it)', (r) => r.renewals.attempts('h.example', -1));
    await same('attempts, none', (r) => r.renewals.attempts('none.example'));
    await bothRefuse('an outcome outside the list', (r) => r.renewals.attemptFinished(second, { at: 'x', outcome: 'bogus' as 'issued' }));
    await same('attempts unchanged', (r) => r.renewals.attempts('h.example'));
  });

  it('deployments: saved, stale keeps its first moment, verified clears it, failures counted and cleared', async () => {
    const d = { lineage: 'a.example', snippetPath: '/etc/nginx/certs/a.conf', snippetSha256: 'ab'.repeat(32), fingerprint256: 'AA:BB', version: 2, deployedAt: '2030-01-01T00:00:00.000Z', verifiedAt: null, staleSince: null, staleDetail: null };
    await same('none', (r) => r.deployments.get('a.example'));
    await same('save', (r) => r.deployments.save(d));
    await same('save without version (a monitored file)', (r) => r.deployments.save({ ...d, lineage: 'm.example', fingerprint256: null, version: undefined }));
    await same('get', (r) => r.deployments.get('a.example'));
    assert.equal((await same('get monitored', (r) => r.deployments.get('m.example')))?.version, null);
    await same('stale', (r) => r.deployments.markStale('a.example', '2030-01-02T00:00:00.000Z', 'old certificate served'));
    await same('stale again', (r) => r.deployments.markStale('a.example', '2030-01-03T00:00:00.000Z', 'still old'));
    assert.equal((await same('stale since the first time', (r) => r.deployments.get('a.example')))?.staleSince, '2030-01-02T00:00:00.000Z');
    await same('verified', (r) => r.deployments.markVerified('a.example', '2030-01-04T00:00:00.000Z'));
    await same('stale cleared', (r) => r.deployments.get('a.example'));
    await same('upsert', (r) => r.deployments.save({ ...d, version: 3, deployedAt: '2030-02-01T00:00:00.000Z', verifiedAt: '2030-02-01T00:01:00.000Z' }));
    await same('all', (r) => r.deployments.all());

    const f = { lineage: 'a.example', version: 4, fingerprint256: 'CC:DD', code: 'nginx-test', detail: 'nginx -t failed', at: '2030-03-01T00:00:00.000Z' };
    await same('no failure', (r) => r.deployments.failure('a.example'));
    await same('failure 1', (r) => r.deployments.recordFailure(f));
    await same('failure 2', (r) => r.deployments.recordFailure({ ...f, code: 'reload', detail: 'reload failed', at: '2030-03-02T00:00:00.000Z' }));
    await same('failure of a monitored file', (r) => r.deployments.recordFailure({ ...f, lineage: 'm.example', version: null, fingerprint256: null }));
    const got = await same('failure', (r) => r.deployments.failure('a.example'));
    assert.deepEqual([got?.failures, got?.since, got?.lastAt, got?.code], [2, '2030-03-01T00:00:00.000Z', '2030-03-02T00:00:00.000Z', 'reload']);
    await same('failures', (r) => r.deployments.failures());
    await same('clear', (r) => r.deployments.clearFailure('a.example'));
    await same('cleared', (r) => r.deployments.failure('a.example'));
    await same('failures after clear', (r) => r.deployments.failures());
  });

  it('notifications: a run committed, keys and problems kept once, the outbox due, listed, delivered and failed', async () => {
    await same('no keys', (r) => r.notifications.sentKeys());
    await same('no problems', (r) => r.notifications.active());
    await same('no meta', (r) => r.notifications.meta('heartbeat'));
    const problem = (endpointKey: string, code: string, message = `${code} at ${endpointKey}`) => ({ endpointKey, code, domain: 'a.example', endpoint: endpointKey, since: '2030-01-01T00:00:00.000Z', message });
    const ids1 = await same('first run', (r) => r.notifications.commitRun({
      at: '2030-01-01T00:00:00.000Z',
      markSent: ['expiry:a:FP:30', 'expiry:b:FP:30', 'expiry:a:FP:30'],
      activate: [problem('z.example:443', 'chain-incomplete'), problem('a.example:443', 'expired'), problem('a.example:443', 'expired', 'a second copy is not kept')],
      clear: [{ endpointKey: 'nothing:443', code: 'expired' }],
      messages: [message('digest:email:ops:1'), message('digest:webhook:1', { channel: 'webhook', to: [], html: null, payload: { events: [{ n: 1 }], at: 'x' } }), message('digest:email:ops:1', { subject: 'a repeated key is queued once' })],
      meta: { heartbeat: '2030-01-01T00:00:00.000Z' },
    }));
    assert.deepEqual(ids1, [1, 2]);
    await same('keys', (r) => r.notifications.sentKeys());
    // SQLite lists problems as activated (rowid order), PostgreSQL by endpoint and code: the
    // order is no part of the contract (service/notify.ts and the digest sort what they show).
    const sorted = (rows: Awaited<ReturnType<Repos['notifications']['active']>>) => [...rows].sort((x, y) => (x.endpointKey + x.code < y.endpointKey + y.code ? -1 : 1));
    assert.deepEqual(sorted(await pg.notifications.active()), sorted(await sqlite.notifications.active()));
    assert.equal((await pg.notifications.active()).find((x) => x.endpointKey === 'a.example:443')?.message, 'expired at a.example:443', 'the first of two copies is kept');
    await same('meta', (r) => r.notifications.meta('heartbeat'));

    const ids2 = await same('second run', (r) => r.notifications.commitRun({
      at: '2030-01-02T00:00:00.000Z',
      markSent: ['expiry:a:FP:30', 'expiry:a:FP:14'],
      activate: [problem('a.example:443', 'expired', 'still expired')],
      clear: [{ endpointKey: 'z.example:443', code: 'chain-incomplete' }],
      messages: [message('digest:email:ops:1', { subject: 'already queued' }), message('digest:email:ops:2', { nextAttemptAt: '2030-01-02T00:00:00.000Z' }), message('digest:email:ops:3', { nextAttemptAt: '2030-01-05T00:00:00.000Z' })],
      meta: { heartbeat: '2030-01-02T00:00:00.000Z', other: 'x' },
    }));
    assert.deepEqual(ids2, [3, 4], 'no id is used up by a key already queued');
    await same('keys after', (r) => r.notifications.sentKeys());
    await same('problems after', async (r) => sorted(await r.notifications.active()));
    await same('meta after', (r) => r.notifications.meta('heartbeat'));
    await same('run without anything', (r) => r.notifications.commitRun({ at: '2030-01-03T00:00:00.000Z', markSent: [], activate: [], clear: [], messages: [] }));

    await same('pending', (r) => r.notifications.pendingCount());
    await same('due', (r) => r.notifications.due('2030-01-02T00:00:00.000Z'));
    await same('due, limit 1', (r) => r.notifications.due('2030-01-02T00:00:00.000Z', 1));
    await same('due earlier', (r) => r.notifications.due('2029-12-31T23:59:59.999Z'));
    await same('list', (r) => r.notifications.list());
    await same('delivered', (r) => r.notifications.markDelivered(1, '2030-01-02T00:00:01.000Z', '250 OK'));
    await same('delivered twice: no change', (r) => r.notifications.markDelivered(1, '2030-01-02T00:00:09.000Z', '250 again'));
    await same('failed', (r) => r.notifications.markFailed(2, '2030-01-02T00:00:02.000Z', 'connection refused', '2030-01-02T00:10:00.000Z'));
    await same('failed after delivery: no change', (r) => r.notifications.markFailed(1, '2030-01-02T00:00:03.000Z', 'late', '2030-01-03T00:00:00.000Z'));
    await same('list after', (r) => r.notifications.list());
    await same('list pending, limit 1', (r) => r.notifications.list({ pending: true, limit: 1 }));
    await same('list pending', (r) => r.notifications.list({ pending: true }));
    await same('pending after', (r) => r.notifications.pendingCount());
    await same('due after', (r) => r.notifications.due('2030-01-02T00:05:00.000Z'));
  });

  it('runs: started, finished, the latest finished, newest first; an unknown run and a bad outcome refused', async () => {
    const summary = { renewed: ['a.test'], deployed: ['a.test'], failed: ['b.test'], notified: 3 };
    await same('no runs', (r) => r.runs.list());
    await same('none finished', (r) => r.runs.latestFinished());
    const first = await same('start', (r) => r.runs.start('2030-01-01T00:00:00.000Z'));
    await same('finish', (r) => r.runs.finish(first, { finishedAt: '2030-01-01T00:01:00.000Z', outcome: 'ok', exitCode: 0, summary: { renewed: [], deployed: [], failed: [], notified: 0 } }));
    const second = await same('start 2', (r) => r.runs.start('2030-01-02T00:00:00.000Z'));
    await same('list with one unfinished', (r) => r.runs.list());
    assert.equal((await same('latest finished ignores the one in progress', (r) => r.runs.latestFinished()))?.id, first);
    await same('finish 2', (r) => r.runs.finish(second, { finishedAt: '2030-01-02T00:01:00.000Z', outcome: 'failed', exitCode: null, summary }));
    await same('latest finished', (r) => r.runs.latestFinished());
    await same('list 1', (r) => r.runs.list(1));
    const unknown = await bothRefuse('finishing an unknown run', (r) => r.runs.finish(42, { finishedAt: 'x', outcome: 'ok', exitCode: 0, summary }));
    assert.ok(unknown.sqlite instanceof StoreError);
    assert.deepEqual([unknown.pg.code, unknown.pg.message], [unknown.sqlite.code, unknown.sqlite.message]);
    await bothRefuse('an outcome outside the list', (r) => r.runs.finish(first, { finishedAt: 'x', outcome: 'weird' as 'ok', exitCode: 0, summary }));
    await same('list unchanged', (r) => r.runs.list());
  });

  it('commitRun is atomic: a message the schema refuses leaves nothing of the run', async () => {
    const run = {
      at: '2030-01-01T00:00:00.000Z',
      markSent: ['expiry:a:FP:30'],
      activate: [{ endpointKey: 'a:443', code: 'expired', domain: 'a', endpoint: 'a:443', since: '2030-01-01T00:00:00.000Z', message: 'm' }],
      clear: [],
      messages: [message('ok:1'), message('bad:2', { channel: 'fax' as 'email' })],
      meta: { heartbeat: 'x' },
    };
    await bothRefuse('a channel outside the list', (r) => r.notifications.commitRun(run));
    await same('no keys', (r) => r.notifications.sentKeys());
    await same('no problems', (r) => r.notifications.active());
    await same('no messages', (r) => r.notifications.list());
    await same('no meta', (r) => r.notifications.meta('heartbeat'));

    // Inside a caller's transaction (a store made for its client): a savepoint undoes this
    // call's writes only; what the caller wrote before stays, and the caller's transaction goes on.
    const kept = await db.tx(async (q) => {
      const inner = new PgNotificationStore(q);
      await inner.commitRun({ at: run.at, markSent: ['before'], activate: [], clear: [], messages: [] });
      await assert.rejects(inner.commitRun(run), StoreError);
      await inner.commitRun({ at: run.at, markSent: ['after'], activate: [], clear: [], messages: [] });
      return inner.sentKeys();
    });
    assert.deepEqual(kept, new Set(['before', 'after']));
    assert.deepEqual(await pg.notifications.sentKeys(), new Set(['before', 'after']));
    assert.deepEqual(await pg.notifications.list(), []);
  });

  it('putPems/pems: a round trip, idempotent, a rewrite refused, the key sealed at rest', async () => {
    const pems = pemsFor('a.example v1');
    assert.equal(await pg.issued.pems('a.example', 1), null, 'absent');
    await pg.issued.putPems('a.example', 1, pems);
    assert.deepEqual(await pg.issued.pems('a.example', 1), pems);
    assert.equal(await pg.issued.pems('a.example', 2), null, 'another version');
    assert.equal(await pg.issued.pems('b.example', 1), null, 'another lineage');

    await pg.issued.putPems('a.example', 1, { ...pems }); // the same again: no error
    for (const [part, pem] of [['cert', pemsFor('x').cert], ['privkey', keyPem()]] as const) {
      const err = await rejection(pg.issued.putPems('a.example', 1, { ...pems, [part]: pem }));
      assert.ok(err instanceof StoreError && err.code === 'invalid-argument', String(err));
      assert.match(err.message, new RegExp(`a\\.example version 1 .*${part} differ`));
      assert.ok(!err.message.includes('PRIVATE KEY') && !err.message.includes(pems.privkey.split('\n')[1]!), 'no key in the message');
    }
    assert.deepEqual(await pg.issued.pems('a.example', 1), pems, 'the stored files stay');

    const { rows } = await db.query<{ privkey_sealed: Buffer; kek_id: string }>('SELECT privkey_sealed, kek_id FROM issued_files');
    assert.equal(rows.length, 1);
    const sealed = rows[0]!.privkey_sealed;
    assert.equal(rows[0]!.kek_id, KEK.id);
    assert.equal(sealedWith(sealed), KEK.id);
    const body = pems.privkey.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const der = Buffer.from(body, 'base64');
    assert.ok(!sealed.includes(Buffer.from(pems.privkey)) && !sealed.includes(Buffer.from('PRIVATE KEY')), 'no PEM in the table');
    assert.ok(!sealed.includes(der.subarray(0, 32)) && !sealed.toString('latin1').includes(body.slice(0, 32)), 'nor its bytes');
  });

  it('a key sealed under another KEK is named by its id, never shown; the old KEK in `open` opens it', async () => {
    const pems = pemsFor('r.example v3');
    await pg.issued.putPems('r.example', 3, pems);
    const newer = kekOf();
    const wrong = pgRepos(db, { seal: newer, open: [] });
    const err = await rejection(wrong.issued.pems('r.example', 3));
    assert.ok(err instanceof StoreError, String(err));
    assert.match(err.message, new RegExp(`r\\.example version 3 was sealed with key-encryption key ${KEK.id}, but the configured key is ${newer.id}`));
    const shown = `${err.message} ${err.hint ?? ''} ${String(err.cause ?? '')}`;
    assert.ok(!shown.includes('PRIVATE KEY') && !shown.includes(KEK.key.toString('base64')) && !shown.includes(newer.key.toString('base64')), 'neither key in the error');
    // Storing the same version again needs to open the stored key: refused the same way.
    await assert.rejects(wrong.issued.putPems('r.example', 3, pems), (e: unknown) => e instanceof StoreError && e.message.includes(KEK.id));

    const rotating = pgRepos(db, { seal: newer, open: [KEK] });
    assert.deepEqual(await rotating.issued.pems('r.example', 3), pems);
    await rotating.issued.putPems('r.example', 4, pems);
    const { rows } = await db.query<{ version: number; kek_id: string }>('SELECT version, kek_id FROM issued_files ORDER BY version');
    assert.deepEqual(rows.map((r) => [Number(r.version), r.kek_id]), [[3, KEK.id], [4, newer.id]], 'new versions are sealed under the new key');
    await assert.rejects(pg.issued.pems('r.example', 4), (e: unknown) => e instanceof StoreError && e.message.includes(newer.id));
  });

  it('two nodes at once: the same files stored twice both succeed, different files only once; a message queued by one run only', async () => {
    const other = await openPgDb(db.target);
    try {
      const b = pgRepos(other);
      const pems = pemsFor('c.example v1');
      const same2 = await Promise.allSettled([pg.issued.putPems('c.example', 1, pems), b.issued.putPems('c.example', 1, { ...pems })]);
      assert.deepEqual(same2.map((x) => x.status), ['fulfilled', 'fulfilled']);
      const diff = await Promise.allSettled([pg.issued.putPems('c.example', 2, pemsFor('c2')), b.issued.putPems('c.example', 2, pemsFor('c2 other'))]);
      assert.deepEqual(diff.map((x) => x.status).sort(), ['fulfilled', 'rejected']);
      const lost = diff.find((x): x is PromiseRejectedResult => x.status === 'rejected')!.reason as unknown;
      assert.ok(lost instanceof StoreError && lost.code === 'invalid-argument', String(lost));

      const run = { at: '2030-01-01T00:00:00.000Z', markSent: ['k'], activate: [], clear: [], messages: [message('m:1'), message('m:2')] };
      const [x, y] = await Promise.all([pg.notifications.commitRun(run), b.notifications.commitRun(run)]);
      assert.equal(x.length + y.length, 2, `each message queued once: ${JSON.stringify([x, y])}`);
      assert.equal(await pg.notifications.pendingCount(), 2);
    } finally {
      await other.close();
    }
  });

  it('a sealed key moved onto another version does not open', async () => {
    await pg.issued.putPems('m.example', 1, pemsFor('m1'));
    await pg.issued.putPems('m.example', 2, pemsFor('m2'));
    await db.query("UPDATE issued_files SET privkey_sealed = (SELECT privkey_sealed FROM issued_files WHERE version = 1) WHERE lineage = 'm.example' AND version = 2");
    await assert.rejects(pg.issued.pems('m.example', 2), (e: unknown) => e instanceof StoreError && e.code === 'corrupt' && /m\.example version 2 does not decrypt/.test(e.message));
  });
});
