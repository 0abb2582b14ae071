/**
 * The CAA preflight in the order flow (issue 17): two real Pebbles resolving through a real BIND
 * whose zone carries CAA records. Pebble's directory lists no meta.caaIdentities, so each issuer
 * names its own in config (acme.issuers[].caaIdentities). An issuer the records do not allow is
 * skipped before it sees an order; a name no issuer may have fails, naming the records. (A lookup
 * this machine cannot make is inconclusive: test/unit/service/caa-check.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { randomSecret, startBind, type BindInstance } from '../helpers/bind.js';
import { startPebble, type PebbleInstance } from '../helpers/pebble.js';
import { newOrderPosts, ordersCreated, startProxy, type Proxy } from '../helpers/acme-proxy.js';
import type { Config } from '../../src/config/types.js';

let bind: BindInstance;
let env: AcmeEnv;
let second: PebbleInstance;
let a: Proxy;
let b: Proxy;
let caFile: string;

const newOrders = (p: Proxy): number => ordersCreated(p);
const asked = (p: Proxy): number => newOrderPosts(p);

function config(name: string): Config {
  const yaml = env
    .acmeYaml()
    .replace(/ {2}directory: .*\n/, `  issuers:\n    - {directory: "${a.url}", caaIdentities: [ca-one.test]}\n    - {directory: "${b.url}", caaIdentities: [ca-two.test]}\n`)
    .replace(/caFile: .*/, `caFile: ${caFile}`)
    .replace(/resolver: "[^"]+"/, `resolver: "127.0.0.1:${bind.port}"`);
  return env.writeConfig(`${yaml}\ndomains:\n  - {name: ${name}}\n`, `certs-${name}.yaml`).config;
}

before(async () => {
  bind = await startBind({
    zone: 'test.',
    tsig: { name: 'certs-key', algorithm: 'hmac-sha256', secret: randomSecret() },
    records: [
      // The zone's wildcard A does not cover names that exist: each gets its own.
      'two IN A 127.0.0.1',
      'two IN CAA 0 issue "ca-two.test"',
      'elsewhere IN A 127.0.0.1',
      'elsewhere IN CAA 0 issue "other-ca.example"',
      'none IN A 127.0.0.1',
      'none IN CAA 0 issue ";"',
      // On the parent only: www.parent.test climbs to it.
      'parent IN CAA 0 issue "ca-one.test"',
      'www.parent IN A 127.0.0.1',
    ],
  });
  env = await startAcmeEnv({ dnsServer: `127.0.0.1:${bind.port}` });
  second = await startPebble({ dnsServer: `127.0.0.1:${bind.port}`, httpPort: env.httpPort });
  a = await startProxy(env.pebble);
  b = await startProxy(second);
  caFile = join(env.dir, 'pebble-https-ca.pem');
  writeFileSync(caFile, env.pebble.caPem);
});

after(async () => {
  await Promise.allSettled([a?.stop(), b?.stop(), second?.stop()]);
  await env?.stop();
  await bind?.stop();
});

describe('CAA preflight before each issuer (real BIND, two real Pebbles)', () => {
  it('CAA allowing only the second Pebble: the first is skipped unasked, the second issues', async () => {
    const [askedA, ordersB] = [asked(a), newOrders(b)];
    const postsA = a.exchanges.filter((e) => e.method === 'POST').length;
    const [o] = await env.renew(config('two.test'));
    assert.equal(o!.action, 'issued', o!.reason);
    assert.equal(o!.issuer, b.url);
    assert.equal(o!.fellBack?.skipped[0]?.directoryUrl, a.url);
    assert.equal(o!.fellBack?.skipped[0]?.reason, 'CAA: CAA at two.test (0 issue "ca-two.test") does not allow this CA (its CAA identities: ca-one.test)');
    assert.equal(asked(a), askedA, 'no order at the first CA');
    assert.equal(a.exchanges.filter((e) => e.method === 'POST').length, postsA, 'not even an account: only its directory was read');
    assert.equal(newOrders(b), ordersB + 1);
  });

  it('CAA on the parent allowing the first: it issues, the climb found the record', async () => {
    const [o] = await env.renew(config('www.parent.test'));
    assert.equal(o!.action, 'issued', o!.reason);
    assert.equal(o!.issuer, a.url);
    assert.equal(o!.fellBack, undefined);
  });

  it('CAA allowing neither: the name fails naming the record, and no CA saw an order', async () => {
    const [askedA, askedB] = [asked(a), asked(b)];
    const [o] = await env.renew(config('elsewhere.test'));
    assert.equal(o!.action, 'failed');
    assert.equal(o!.error?.code, 'caa');
    assert.match(o!.reason, /^domain "elsewhere\.test": no configured issuer may issue for it: /);
    assert.ok(o!.reason.includes(`${a.url}: CAA: CAA at elsewhere.test (0 issue "other-ca.example") does not allow this CA (its CAA identities: ca-one.test)`), o!.reason);
    assert.ok(o!.reason.includes(`${b.url}: CAA: CAA at elsewhere.test (0 issue "other-ca.example") does not allow this CA (its CAA identities: ca-two.test)`), o!.reason);
    assert.deepEqual([asked(a), asked(b)], [askedA, askedB]);
    assert.ok(o!.nextAttemptAt, 'a failure with its backoff, like any other');
  });

  it('0 issue ";": no CA may issue, said so', async () => {
    const [askedA, askedB] = [asked(a), asked(b)];
    const [o] = await env.renew(config('none.test'));
    assert.equal(o!.action, 'failed');
    assert.equal(o!.error?.code, 'caa');
    assert.match(o!.reason, /CAA at none\.test \(0 issue ";"\) names no issuer: no CA may issue/);
    assert.deepEqual([asked(a), asked(b)], [askedA, askedB]);
  });
});
