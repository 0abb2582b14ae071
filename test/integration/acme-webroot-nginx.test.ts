// The webroot solver against a real nginx: nginx serves the challenge folder the way
// templates/nginx/acme-challenge.conf tells users to (a `^~` prefix location that wins over a
// catch-all redirect to https), and the preflight fetches the token through nginx, resolving the
// name through a real DNS server (pebble-challtestsrv answers every A query with 127.0.0.1).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createWebrootSolver } from '../../src/acme/solvers/http-webroot.js';
import type { ChallengeTask } from '../../src/acme/types.js';
import { AcmeError } from '../../src/core/errors.js';
import { startNginx } from '../helpers/nginx.js';
import { createLeaf } from '../helpers/pki.js';
import { freePort, waitForPort } from '../helpers/ports.js';

/** pebble-challtestsrv as a DNS server only (A → 127.0.0.1, no AAAA); stop() in finally. */
async function startDns(): Promise<{ resolver: string; stop(): Promise<void> }> {
  const dnsPort = await freePort();
  const mgmtPort = await freePort();
  const proc = spawn(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${mgmtPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv6', ''],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForPort('127.0.0.1', mgmtPort, 5000);
    const r = new Resolver({ timeout: 100, tries: 1 });
    r.setServers([`127.0.0.1:${dnsPort}`]);
    for (const deadline = Date.now() + 5000; ; ) {
      try {
        await r.resolve4('ready.test');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`challtestsrv DNS on port ${dnsPort} is not answering`, { cause: err });
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { resolver: `127.0.0.1:${dnsPort}`, stop };
}

describe('webroot solver + nginx + preflight', () => {
  it('nginx serves the presented token, the preflight passes; after cleanup it fails with 404 naming the URL', async () => {
    const webroot = mkdtempSync(join(tmpdir(), 'certs-webroot-'));
    chmodSync(webroot, 0o755);
    const leaf = await createLeaf({ dns: ['site.test'] });
    const dns = await startDns();
    try {
      const ngx = await startNginx({
        sites: [{ serverNames: ['site.test'], certPem: leaf.pem, keyPem: leaf.keyPem }],
        extraHttp: [
          '  server {',
          '    listen 127.0.0.1:@HTTP_PORT@;',
          '    server_name site.test;',
          `    location ^~ /.well-known/acme-challenge/ { root ${webroot}; default_type text/plain; }`,
          '    location / { return 301 https://$host$request_uri; }',
          '  }',
        ].join('\n'),
      });
      try {
        const httpPort = ngx.httpPort as number;
        const solver = createWebrootSolver({ webroot, preflight: { enabled: true, httpPort, resolver: dns.resolver, timeoutMs: 5000 } });
        const token = randomBytes(32).toString('base64url');
        const task: ChallengeTask = {
          domain: 'site.test',
          identifier: 'site.test',
          wildcard: false,
          type: 'http-01',
          token,
          keyAuthorization: `${token}.${randomBytes(32).toString('base64url')}`,
          recordName: `/.well-known/acme-challenge/${token}`,
          recordValue: '',
        };
        task.recordValue = task.keyAuthorization;
        const url = `http://site.test:${httpPort}/.well-known/acme-challenge/${token}`;

        // Nothing presented yet: nginx answers 404 (the ^~ location wins over the https redirect).
        const before = await solver.preflight(task).then(
          () => undefined,
          (err: unknown) => err,
        );
        assert.ok(before instanceof AcmeError);
        assert.match(before.message, /HTTP 404/);

        try {
          await solver.present(task);
          await solver.preflight(task);
        } finally {
          await solver.cleanup(task);
        }

        let after: unknown;
        try {
          await solver.preflight(task);
        } catch (err) {
          after = err;
        }
        assert.ok(after instanceof AcmeError, `expected AcmeError, got ${String(after)}`);
        assert.equal(after.code, 'challenge');
        assert.ok(after.message.includes(url), after.message);
        assert.match(after.message, /from 127\.0\.0\.1: HTTP 404, body "<html>/);
        assert.match(after.message, /^domain "site\.test"/);
        assert.match(after.hint ?? '', /acme-challenge\.conf/);
      } finally {
        await ngx.stop();
      }
    } finally {
      await dns.stop();
      rmSync(webroot, { recursive: true, force: true });
    }
  });
});
