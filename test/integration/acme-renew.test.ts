/**
 * Issuance and renewal against a real Pebble (http-01 standalone), with the renewal policy driven
 * by an injected clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { analyseChain } from '../../src/core/chain.js';
import { keyTypeOf } from '../../src/acme/keys.js';
import { TrustAnchors } from '../../src/core/trust-anchors.js';

const DAY = 86_400_000;

describe('renew against Pebble (http-01 standalone)', () => {
  let env: AcmeEnv;
  before(async () => {
    env = await startAcmeEnv({ pebble: { validityPeriodSeconds: 90 * 86_400 } });
  });
  after(async () => {
    await env?.stop();
  });

  it('issues a new certificate, stores it versioned with a 0600 key, and the chain verifies to Pebble\'s root', async () => {
    const { config } = env.writeConfig(`${env.acmeYaml()}\ndomains:\n  - { name: a.test, altNames: [www.a.test] }\n`);
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'issued', o?.reason);
    assert.equal(o?.version, 1);
    const base = join(env.dataDir, 'certs', 'a.test');
    assert.equal(readlinkSync(join(base, 'current')), 'archive/1');
    assert.ok(lstatSync(join(base, 'current')).isSymbolicLink());
    assert.equal(statSync(join(base, 'archive', '1', 'privkey.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(base, 'archive', '1')).mode & 0o777, 0o700);
    const fullchain = readFileSync(join(base, 'current', 'fullchain.pem'), 'utf8');
    const key = readFileSync(join(base, 'current', 'privkey.pem'), 'utf8');
    assert.equal(keyTypeOf(key), 'ecdsa-p256');
    const leaf = new X509Certificate(fullchain);
    assert.match(leaf.subjectAltName ?? '', /DNS:a\.test/);
    assert.match(leaf.subjectAltName ?? '', /DNS:www\.a\.test/);
    // The stored chain, analysed like a scan would with Pebble's root trusted: no problems.
    const served = fullchain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((p) => new X509Certificate(p));
    const root = new X509Certificate(await env.pebble.rootPem());
    const analysis = analyseChain({ served, anchors: new TrustAnchors([root]), name: 'a.test', now: new Date() });
    assert.deepEqual(analysis.problems.map((p) => p.code), []);
    const store = env.openStore();
    try {
      const row = store.issued.latest('a.test');
      assert.equal(row?.fingerprint256, leaf.fingerprint256);
      assert.deepEqual(row?.names, ['a.test', 'www.a.test']);
      assert.equal(row?.keyType, 'ecdsa-p256');
      assert.equal(row?.directoryUrl, env.pebble.directoryUrl);
      assert.ok(row?.ariCertId, 'the ARI certificate ID is stored');
    } finally {
      store.close();
    }
  });

  it('renews only when the policy says so: not at issuance, yes after two thirds of the lifetime', async () => {
    const { config } = env.writeConfig(`${env.acmeYaml()}\ndomains:\n  - { name: a.test, altNames: [www.a.test] }\n`);
    const store = env.openStore();
    const v1 = store.issued.latest('a.test')!;
    store.close();
    const notBefore = Date.parse(v1.notBefore);
    const lifetime = Date.parse(v1.notAfter) - notBefore;
    const [early] = await env.renew(config, { now: () => new Date(notBefore + lifetime / 2) });
    assert.equal(early?.action, 'not-due', early?.reason);
    assert.match(early!.reason, /⅓ of the 90-day lifetime/);
    const [due] = await env.renew(config, { now: () => new Date(notBefore + (2 * lifetime) / 3 + 60_000) });
    assert.equal(due?.action, 'issued', due?.reason);
    assert.equal(due?.version, 2);
    assert.match(due!.reason, /due since/);
    assert.equal(readlinkSync(join(env.dataDir, 'certs', 'a.test', 'current')), 'archive/2');
  });

  it('a key type change forces a new certificate with the new key type', async () => {
    const { config } = env.writeConfig(`${env.acmeYaml()}\ndomains:\n  - { name: a.test, altNames: [www.a.test], keyType: rsa2048 }\n`);
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'issued', o?.reason);
    assert.match(o!.reason, /key type ecdsa-p256 → rsa2048/);
    const key = readFileSync(join(env.dataDir, 'certs', 'a.test', 'current', 'privkey.pem'), 'utf8');
    assert.equal(keyTypeOf(key), 'rsa2048');
    const [again] = await env.renew(config);
    assert.equal(again?.action, 'not-due');
  });

  it('a failing challenge records the CA\'s reason and a backoff; the next run waits; --force tries again', async () => {
    // Preflight off so the CA itself fails the challenge: nothing listens where Pebble looks.
    const { config } = env.writeConfig(`${env.acmeYaml().replace(/preflight: .*\n/, 'preflight: false\n').replace(/port: \d+ \} \}/, 'port: 1 } }')}\ndomains:\n  - { name: fail.test }\n`);
    const t0 = Date.now();
    const [o] = await env.renew(config, { now: () => new Date(t0) });
    assert.equal(o?.action, 'failed');
    assert.match(o!.reason, /domain "fail\.test"/);
    assert.ok(o?.nextAttemptAt && Date.parse(o.nextAttemptAt) > t0 + 3 * 60_000, `backoff set: ${o?.nextAttemptAt}`);
    const store = env.openStore();
    try {
      const s = store.renewals.get('fail.test');
      assert.equal(s?.failures, 1);
      assert.ok(s?.lastError);
      assert.equal(store.issued.latest('fail.test'), null);
    } finally {
      store.close();
    }
    const [held] = await env.renew(config, { now: () => new Date(t0 + 60_000) });
    assert.equal(held?.action, 'backoff');
    assert.match(held!.reason, /held back after a failed attempt/);
    const [forced] = await env.renew(config, { now: () => new Date(t0 + 60_000), force: true });
    assert.equal(forced?.action, 'failed');
    const store2 = env.openStore();
    try {
      assert.equal(store2.renewals.get('fail.test')?.failures, 2);
    } finally {
      store2.close();
    }
  });

  it('a preflight that cannot see the name from here (system resolver) is logged and the CA decides', async () => {
    // acmeYaml's preflight names challtestsrv as resolver; without it, `.test` names do not resolve
    // here, as with split-horizon DNS: the CA (which resolves through challtestsrv) must decide.
    const { config } = env.writeConfig(`${env.acmeYaml().replace(/ *preflight: .*\n/, '')}\ndomains:\n  - { name: p.test }\n`);
    assert.deepEqual(config.acme?.preflight, { enabled: true, httpPort: 80, timeoutMs: 10_000 });
    const events: string[] = [];
    const [o] = await env.renew(config, { log: (_d, e) => events.push(e) });
    assert.equal(o?.action, 'issued', o?.reason);
    assert.ok(events.some((e) => /^preflight inconclusive, asking the CA anyway: domain "p\.test": http-01 preflight for p\.test failed/.test(e)), events.join('\n'));
  });

  it('a preflight that reached a server answering the wrong thing stops before the CA is asked', async () => {
    // A web server that answers 404 for everything, where the preflight looks.
    const server = createServer((_req, res) => res.writeHead(404).end('not here'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const { config } = env.writeConfig(`${env.acmeYaml().replace(/challenge: .*\n/, `challenge: { type: http-01, webroot: ${env.dir} }\n`).replace(/httpPort: \d+/, `httpPort: ${port}`).replace(/, resolver: "[^"]+"/, '')}\ndomains:\n  - { name: 127.0.0.1, profile: shortlived }\n`);
      assert.equal(config.acme?.preflight.resolver, undefined);
      // An IP identifier needs no DNS: the preflight reaches the server and gets its 404.
      const [o] = await env.renew(config);
      assert.equal(o?.action, 'failed');
      assert.equal(o?.error?.code, 'challenge');
      assert.match(o!.reason, /http-01 preflight for 127\.0\.0\.1 failed: .*HTTP 404/);
    } finally {
      server.close();
    }
  });

  it('a short-lived certificate (6 days) renews at half its lifetime', async () => {
    const short = await startAcmeEnv({ pebble: { validityPeriodSeconds: 6 * 86_400 } });
    try {
      const { config } = short.writeConfig(`${short.acmeYaml()}\ndomains:\n  - { name: s.test }\n`);
      const [o] = await short.renew(config);
      assert.equal(o?.action, 'issued', o?.reason);
      const store = short.openStore();
      const v1 = store.issued.latest('s.test')!;
      store.close();
      const nb = Date.parse(v1.notBefore);
      const life = Date.parse(v1.notAfter) - nb;
      assert.ok(Math.abs(life - 6 * DAY) < DAY, `lifetime ${life / DAY} days`);
      const [early] = await short.renew(config, { now: () => new Date(nb + life / 2 - 60_000) });
      assert.equal(early?.action, 'not-due', early?.reason);
      const [due] = await short.renew(config, { now: () => new Date(nb + life / 2 + 60_000) });
      assert.equal(due?.action, 'issued', due?.reason);
    } finally {
      await short.stop();
    }
  });
});
