/** certs run: one full cycle against real Pebble, nginx and an SMTP server process; and a cycle that finishes what a crashed one left. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { runCli } from '../helpers/cli.js';

interface RunJson {
  summary: { ok: number; warning: number; critical: number; unknown: number };
  endpoints: Array<{ domain: string; fingerprint256: string | null; problems: Array<{ code: string }> }>;
  run: { outcome: string; exitCode: number };
  renew: Array<{ domain: string; action: string }>;
  deploy: Array<{ domain: string; action: string }>;
}

describe('certs run: scan, renew, deploy, rescan, notify', () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let smtp: SmtpServerHandle;
  let snippets: string;
  let configFile: string;

  const yaml = (withNginx = true): string => `${env.acmeYaml()}
trust: { caFile: ${join(env.dir, 'pebble-root.pem')} }
${withNginx ? `nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }` : ''}
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: r.test, endpoints: [{ host: r.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`;

  before(async () => {
    env = await startAcmeEnv();
    smtp = await startSmtpServer();
    writeFileSync(join(env.dir, 'pebble-root.pem'), await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: ['r.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'r.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['r.test'], extra: `include ${snippets}/r.test.conf;` }] });
    ({ file: configFile } = env.writeConfig(yaml()));
  });
  after(async () => {
    await Promise.allSettled([env?.stop(), ngx?.stop(), smtp?.dispose()]);
  });

  it('the first cycle issues, deploys and ends with clients getting the new certificate; the second does nothing', async () => {
    const r = await runCli(['run', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as RunJson;
    assert.deepEqual(doc.renew.map((o) => [o.domain, o.action]), [['r.test', 'issued']]);
    assert.deepEqual(doc.deploy.map((o) => [o.domain, o.action]), [['r.test', 'deployed']]);
    const issued = new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'r.test', 'current', 'cert.pem')));
    assert.equal(doc.endpoints[0]?.fingerprint256, issued.fingerprint256, 'judged on what clients see after the deploy');
    assert.deepEqual(doc.endpoints[0]?.problems, []);
    assert.equal(doc.run.outcome, 'ok');
    assert.equal((await smtp.messages()).length, 0, 'nothing to warn about');
    const again = await runCli(['run', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    const doc2 = JSON.parse(again.stdout) as RunJson;
    assert.deepEqual(doc2.renew.map((o) => o.action), ['not-due']);
    assert.deepEqual(doc2.deploy, []);
  });

  it('finishes what an interrupted cycle left: a certificate issued but never deployed', async () => {
    // A renewal whose deploy never happened (as if the process died between the two).
    const { file: noNginx } = env.writeConfig(yaml(false), 'no-nginx.yaml');
    const renewed = await runCli(['renew', '--force', '--config', noNginx], { timeoutMs: 60_000 });
    assert.equal(renewed.code, 0, renewed.stderr);
    const r = await runCli(['run', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as RunJson;
    assert.deepEqual(doc.renew.map((o) => o.action), ['not-due']);
    assert.deepEqual(doc.deploy.map((o) => o.action), ['deployed']);
    const issued = new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'r.test', 'current', 'cert.pem')));
    assert.equal(doc.endpoints[0]?.fingerprint256, issued.fingerprint256);
  });

  it('a failing renewal makes the cycle exit non-zero and shows renewal-failing', async () => {
    // A key type change makes r.test due; nothing listens where Pebble validates.
    const { file: changed } = env.writeConfig(yaml().replace(/challenge: .*\n/, 'challenge: { type: http-01, standalone: { address: 127.0.0.1, port: 1 } }\n').replace(/preflight: .*\n/, 'preflight: false\n').replace('r.test, endpoints', 'r.test, keyType: rsa2048, endpoints'), 'failing2.yaml');
    const f = await runCli(['run', '--config', changed, '--json'], { timeoutMs: 60_000 });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    const fdoc = JSON.parse(f.stdout) as RunJson;
    assert.equal(fdoc.renew[0]?.action, 'failed');
    assert.deepEqual(fdoc.endpoints[0]?.problems.map((p) => p.code), ['renewal-failing']);
    const mails = await smtp.messages();
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject, /renewal-failing/);
  });
});
