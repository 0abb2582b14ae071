/**
 * Faults on the PostgreSQL store (issue 15): the database goes away in the middle of a `certs run`.
 *
 * The moment is fixed by r.test's pre hook (a small node program): it connects to the test and
 * waits for "go", so the run stands still after it took its locks and started its renewal attempt,
 * and before it orders from the CA. Meanwhile the test restarts PostgreSQL (fast shutdown, same
 * data dir and port: every connection of the CLI's pool is killed):
 * 1. restarted while the hook waits: the run reconnects and finishes (issued, deployed, the
 *    unreachable endpoint alerted once); the next run finds nothing to do;
 * 2. kept down until the run has exited: the run fails, saying which server, port and database it
 *    could not reach (never the password); PostgreSQL back, the next run (its clock past the 60 s
 *    leases the dead run could not give back) renews once, deploys, and nothing is doubled: one
 *    issued version per renewal, one outbox row per event, mailed once.
 *
 * Real Pebble, nginx, an SMTP server process and a private PostgreSQL 15; the built CLI
 * (`npm run build` first).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type pg from 'pg';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { freePort } from '../helpers/ports.js';
import { describeRun, runCli, type CliResult } from '../helpers/cli.js';
import { postgresUnavailable, startStoreCluster, STORE_PG_PASSWORD, type StoreCluster } from '../helpers/pg-store.js';
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { LEASE_MS } from '../../src/service/lease.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';
const CLI_TIMEOUT_MS = 60_000;

interface RunJson {
  endpoints: Array<{ domain: string; fingerprint256: string | null; problems: Array<{ code: string }> }>;
  run: { outcome: string; exitCode: number };
  renew: Array<{ domain: string; action: string; reason: string }>;
  deploy: Array<{ domain: string; action: string }>;
}

function parse<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(`not JSON on stdout: ${describeRun(r)}`, { cause: err });
  }
}

/** Node options that move the CLI's clock (Date, Date.now) `ms` ahead; Pebble, nginx and PostgreSQL keep the real time. */
function clockAhead(ms: number): string[] {
  const code = `const shift = ${ms}; const Real = Date;
class Shifted extends Real { constructor(...a) { if (a.length === 0) super(Real.now() + shift); else super(...a); } static now() { return Real.now() + shift; } }
globalThis.Date = Shifted;`;
  return ['--import', `data:text/javascript,${encodeURIComponent(code)}`];
}

/** The pre hook: tell the test, wait for its "go" (exit 0) or "stop" (exit 1). No shell. */
const HOOK = `import net from 'node:net';
const s = net.connect(Number(process.argv[2]), '127.0.0.1', () => s.write(process.env.CERTS_HOOK + ' ' + process.env.CERTS_DOMAIN + '\\n'));
let buf = '';
s.setEncoding('utf8');
s.on('data', (d) => { buf += d; if (buf.includes('go\\n')) { s.end(); process.exit(0); } if (buf.includes('stop\\n')) process.exit(1); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

type Gate = (what: string, release: () => void) => Promise<void>;

describe('PostgreSQL restarted in the middle of certs run', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let dbUrl: string;
  let dbName: string;
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let smtp: SmtpServerHandle;
  let gateServer: net.Server;
  let gatePort: number;
  let closedPort: number;
  let snippets: string;
  /** What the next hook call does before it is let go (one call each). */
  let gate: Gate | null = null;
  let gateError: unknown = null;
  const hookCalls: string[] = [];
  const kek = randomBytes(32).toString('base64');

  const cli = (args: string[], nodeArgs: string[] = []) =>
    runCli(args, { env: { CERTS_DATABASE_URL: dbUrl, CERTS_KEK: kek }, timeoutMs: CLI_TIMEOUT_MS, nodeArgs });

  /** A fresh connection per look (the server restarts between them). */
  async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
    const c = await connectPg(parsePgUrl(dbUrl));
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  }

  const yaml = (keyType = 'ecdsa-p256'): string => `${env.acmeYaml()}
store: { engine: postgres, url: "\${env:CERTS_DATABASE_URL}", keyEncryptionKey: "\${env:CERTS_KEK}" }
trust: { caFile: ${join(env.dir, 'pebble-root.pem')} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - name: r.test
    keyType: ${keyType}
    endpoints: [{ host: r.test, port: ${ngx.port}, address: 127.0.0.1 }]
    hooks: { pre: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(env.dir, 'hook.mjs'))}, "${gatePort}"] }
  - { name: down.test, managed: false, endpoints: [{ host: down.test, port: ${closedPort}, address: 127.0.0.1 }] }
`;
  const writeConfig = (text: string, name: string): string => {
    const file = join(env.dir, name);
    writeFileSync(file, text);
    return file;
  };

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    cluster = await startStoreCluster();
    dbUrl = await cluster.newDatabase('faults');
    dbName = parsePgUrl(dbUrl).database;
    env = await startAcmeEnv();
    smtp = await startSmtpServer();
    closedPort = await freePort(); // nothing listens there: down.test is unreachable
    gateServer = net.createServer((sock) => {
      sock.setEncoding('utf8');
      let buf = '';
      sock.on('data', (d: string) => {
        buf += d;
        if (!buf.includes('\n')) return;
        const what = buf.trim();
        buf = '';
        hookCalls.push(what);
        const g = gate;
        gate = null;
        let released = false;
        const release = (): void => {
          if (!released) sock.end('go\n');
          released = true;
        };
        void (g ? g(what, release) : Promise.resolve()).then(release, (err: unknown) => {
          gateError = err;
          if (!released) sock.end('stop\n');
          released = true;
        });
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => gateServer.listen(0, '127.0.0.1', resolve));
    gatePort = (gateServer.address() as net.AddressInfo).port;
    writeFileSync(join(env.dir, 'hook.mjs'), HOOK);
    writeFileSync(join(env.dir, 'pebble-root.pem'), await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: ['r.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'r.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['r.test'], extra: `include ${snippets}/r.test.conf;` }] });
  });
  after(async () => {
    gateServer?.close();
    await Promise.allSettled([env?.stop(), ngx?.stop(), smtp?.dispose()]);
    await cluster?.stop();
  });

  it('restarted while the run waits in the pre hook: the run reconnects and finishes; the next one has nothing to do', async () => {
    const config = writeConfig(yaml(), 'certs.yaml');
    let restarts = 0;
    let openConnections = 0;
    gate = async () => {
      // The run's pool holds connections now: the restart cuts them.
      openConnections = Number((await query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`))[0]!.n);
      await cluster.pg.restart();
      restarts++;
    };
    const r = await cli(['run', '--config', config, '--json']);
    if (gateError) throw gateError;
    assert.equal(restarts, 1, `the hook ran and PostgreSQL was restarted under the run: ${hookCalls.join(', ')} ${describeRun(r)}`);
    assert.deepEqual(hookCalls, ['pre r.test']);
    assert.ok(openConnections > 0, 'the run was connected when PostgreSQL went down');
    assert.equal(r.code, 2, describeRun(r)); // critical: down.test is unreachable
    const doc = parse<RunJson>(r);
    assert.deepEqual(doc.renew.map((o) => [o.domain, o.action]), [['r.test', 'issued']]);
    assert.deepEqual(doc.deploy.map((o) => [o.domain, o.action]), [['r.test', 'deployed']]);
    const issued = new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'r.test', 'current', 'cert.pem')));
    const r1 = doc.endpoints.find((e) => e.domain === 'r.test');
    assert.equal(r1?.fingerprint256, issued.fingerprint256);
    assert.deepEqual(r1?.problems, []);
    assert.deepEqual(doc.endpoints.find((e) => e.domain === 'down.test')?.problems.map((p) => p.code), ['unreachable']);
    const mails = await smtp.messages();
    assert.equal(mails.length, 1, mails.map((m) => m.subject).join(' | '));
    assert.match(mails[0]!.subject, /unreachable on down\.test/);

    const again = await cli(['run', '--config', config, '--json']);
    assert.equal(again.code, 2, describeRun(again));
    const adoc = parse<RunJson>(again);
    assert.deepEqual(adoc.renew.map((o) => o.action), ['not-due']);
    assert.deepEqual(adoc.deploy, []);
    assert.deepEqual(hookCalls, ['pre r.test'], 'no second renewal, so no second hook call');
    assert.equal((await smtp.messages()).length, 1, 'the alert is not sent again');

    const issuedRows = await query<{ lineage: string; version: number; fingerprint256: string }>('SELECT lineage, version, fingerprint256 FROM issued ORDER BY id');
    assert.deepEqual(issuedRows.map((x) => [x.lineage, x.version, x.fingerprint256]), [['r.test', 1, issued.fingerprint256]]);
    assert.equal((await query('SELECT 1 FROM issued_files')).length, 1);
    const attempts = await query<{ outcome: string | null }>('SELECT outcome FROM renewal_attempts ORDER BY id');
    assert.deepEqual(attempts.map((x) => x.outcome), ['issued']);
    const outbox = await query<{ subject: string; delivered_at: string | null }>('SELECT subject, delivered_at FROM outbox ORDER BY id');
    assert.equal(outbox.length, 1);
    assert.ok(outbox[0]!.delivered_at);
    const runs = await query<{ finished_at: string | null; outcome: string | null }>('SELECT finished_at, outcome FROM runs ORDER BY id');
    assert.deepEqual(runs.map((x) => [x.finished_at !== null, x.outcome]), [[true, 'critical'], [true, 'critical']]);
  });

  it('down until the run has exited: the run fails naming server, port and database; the next run renews once and doubles nothing', async () => {
    // A key type change makes r.test due again.
    const config = writeConfig(yaml('rsa2048'), 'rsa.yaml');
    let back: Promise<void> | undefined;
    let endedWhileDown = false;
    gate = (_what, release) => {
      back = cluster.pg.restart(async () => {
        release();
        // Nothing listens until the run has given up.
        await running.catch(() => undefined);
        endedWhileDown = true;
      });
      return back;
    };
    // The gate runs when the hook calls, by then `running` is set.
    const running = cli(['run', '--config', config, '--json']);
    const r = await running;
    await back; // PostgreSQL up again
    assert.equal(r.code, 3, `could not run: ${describeRun(r)}`);
    if (gateError) throw gateError;
    assert.ok(endedWhileDown, `the run ended while PostgreSQL was down: ${hookCalls.join(', ')} ${describeRun(r)}`);
    assert.deepEqual(hookCalls, ['pre r.test', 'pre r.test']);
    const out = r.stdout + r.stderr;
    const port = cluster.pg.port;
    assert.ok(out.includes(`PostgreSQL at 127.0.0.1:${port}, database "${dbName}"`), `names server, port and database: ${describeRun(r)}`);
    assert.ok(!out.includes(STORE_PG_PASSWORD) && !out.includes(encodeURIComponent(STORE_PG_PASSWORD)), 'never the password');
    assert.ok(!out.includes(kek), 'never the key-encryption key');
    const versionsAfterFailure = await query<{ version: number }>("SELECT version FROM issued WHERE lineage = 'r.test' ORDER BY version");
    assert.deepEqual(versionsAfterFailure.map((x) => x.version), [1], 'the lost order left no version behind');

    // PostgreSQL is back. The dead run could not give its leases back: the next run's clock is past them.
    const next = await cli(['run', '--config', config, '--json'], clockAhead(LEASE_MS + 60_000));
    assert.equal(next.code, 2, describeRun(next)); // down.test is still unreachable
    const ndoc = parse<RunJson>(next);
    assert.deepEqual(ndoc.renew.map((o) => [o.domain, o.action]), [['r.test', 'issued']]);
    assert.deepEqual(ndoc.deploy.map((o) => [o.domain, o.action]), [['r.test', 'deployed']]);
    assert.deepEqual(hookCalls, ['pre r.test', 'pre r.test', 'pre r.test']);
    const current = new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'r.test', 'current', 'cert.pem')));
    assert.equal(current.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(ndoc.endpoints.find((e) => e.domain === 'r.test')?.fingerprint256, current.fingerprint256);

    const after1 = await cli(['run', '--config', config, '--json'], clockAhead(LEASE_MS + 60_000));
    assert.deepEqual(parse<RunJson>(after1).renew.map((o) => o.action), ['not-due']);

    // Nothing lost, nothing doubled.
    const issuedRows = await query<{ version: number; fingerprint256: string }>("SELECT version, fingerprint256 FROM issued WHERE lineage = 'r.test' ORDER BY version");
    assert.deepEqual(issuedRows.map((x) => x.version), [1, 2], 'one version per successful renewal');
    assert.equal(issuedRows[1]!.fingerprint256, current.fingerprint256);
    assert.deepEqual((await query<{ version: number }>('SELECT version FROM issued_files ORDER BY version')).map((x) => x.version), [1, 2]);
    const outbox = await query<{ key: string; subject: string; delivered_at: string | null }>('SELECT key, subject, delivered_at FROM outbox ORDER BY id');
    const mails = await smtp.messages();
    assert.equal(outbox.length, 1, outbox.map((o) => o.subject).join(' | '));
    assert.ok(outbox.every((o) => o.delivered_at !== null));
    assert.equal(mails.length, outbox.length, 'each event mailed once');
    // The run that lost the database could record neither its attempt's end nor its own: those
    // rows stay as started (what the dashboard shows as an unfinished run); every other one is finished.
    const attempts = await query<{ outcome: string | null }>('SELECT outcome FROM renewal_attempts ORDER BY id');
    assert.deepEqual(attempts.map((x) => x.outcome), ['issued', null, 'issued']);
    const runs = await query<{ finished_at: string | null; outcome: string | null }>('SELECT finished_at, outcome FROM runs ORDER BY id');
    assert.deepEqual(runs.map((x) => [x.finished_at !== null, x.outcome]), [[true, 'critical'], [true, 'critical'], [false, null], [true, 'critical'], [true, 'critical']]);
  });
});
