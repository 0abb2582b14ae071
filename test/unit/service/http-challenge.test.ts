/**
 * The daemon's shared http-01 route (issue 16): `/.well-known/acme-challenge/<token>` answers
 * from the store without the daemon.http token and whatever the Host (nginx passes the validated
 * name), 400 for a token that is not base64url, 404 for an unknown or expired one; every other
 * path still needs the token. And the config rules of acme.challenge.shared.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { openStore } from '../../../src/store/index.js';
import { asyncStore } from '../../../src/store/sqlite-async.js';
import { startStatusServer, type StatusServer } from '../../../src/service/http.js';
import { renderAcmeChallenge } from '../../../src/deploy/snippet.js';
import { loadNginxTemplates } from '../../../src/deploy/templates.js';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('shared http-01 tokens served by the daemon', () => {
  let dir: string;
  let server: StatusServer;
  const now = Date.UTC(2030, 0, 1);
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-http-challenge-'));
    const config = parseConfigText(`dataDir: ${dir}\ndaemon: { http: { address: 127.0.0.1, port: 9464, token: s3cret-token } }\ndomains: []\n`, join(dir, 'certs.yaml'));
    const store = openStore(dir);
    store.challenges.put({ token: 'tok_en-1', keyAuthorization: 'tok_en-1.thumbprint', domain: 'a.test', node: 'a', createdAt: now, expiresAt: now + 60_000 });
    store.challenges.put({ token: 'old', keyAuthorization: 'old.thumb', domain: 'a.test', node: 'a', createdAt: now - 120_000, expiresAt: now - 60_000 });
    store.close();
    server = await startStatusServer({ config: () => config, readStore: async () => asyncStore(openStore(dir), dir), lastRun: async () => null, address: '127.0.0.1', port: 0, version: 't', now: () => new Date(now) });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a live token without credentials and with the validated name as Host', async () => {
    const r = await get(server.port, '/.well-known/acme-challenge/tok_en-1', { Host: 'a.test' });
    assert.deepEqual(r, { status: 200, body: 'tok_en-1.thumbprint' });
  });

  it('404 for an unknown or expired token, 400 for one that is not base64url', async () => {
    assert.equal((await get(server.port, '/.well-known/acme-challenge/nope')).status, 404);
    assert.equal((await get(server.port, '/.well-known/acme-challenge/old')).status, 404);
    assert.equal((await get(server.port, '/.well-known/acme-challenge/a.b')).status, 400);
    assert.equal((await get(server.port, '/.well-known/acme-challenge/%2e%2e')).status, 400);
  });

  it('every other path still needs the token', async () => {
    assert.equal((await get(server.port, '/status')).status, 401);
    assert.equal((await get(server.port, '/status', { Authorization: 'Bearer s3cret-token' })).status, 200);
  });
});

describe('acme.challenge.shared in the config', () => {
  const base = 'acme: { directory: https://127.0.0.1:14000/dir, email: a@b.test, agreeToTerms: true, challenge: CH }\n';
  const parse = (ch: string, extra = '') => parseConfigText(`${base.replace('CH', ch)}${extra}domains: []\n`, '/etc/certs/certs.yaml');

  it('needs daemon.http, which serves the tokens; then the snippet proxies to it', () => {
    assert.throws(() => parse('{type: http-01, shared: true}'), /acme\.challenge\.shared: shared http-01 tokens are served by the daemon: set daemon\.http/);
    const c = parse('{type: http-01, shared: true}', 'daemon: { http: { address: 0.0.0.0, port: 9555, token: t0ken-t0ken } }\n');
    assert.equal(c.acme?.challenge?.shared, true);
    const snippet = renderAcmeChallenge(c, loadNginxTemplates());
    assert.match(snippet, /location \^~ \/\.well-known\/acme-challenge\/ \{\n {4}proxy_pass http:\/\/127\.0\.0\.1:9555;\n {4}proxy_set_header Host \$host;/);
  });

  it('is one of webroot, standalone or shared, and not for dns-01', () => {
    assert.throws(() => parse('{type: http-01, shared: true, webroot: /var/www}', 'daemon: { http: {} }\n'), /needs exactly one of webroot or standalone or shared, got both/);
    assert.throws(() => parse('{type: dns-01, shared: true, hook: [/bin/true]}'), /shared: not used by dns-01/);
    assert.throws(() => parse('{type: http-01, shared: false}'), /shared: only true is meaningful/);
  });
});
