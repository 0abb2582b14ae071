/**
 * Issuer fallback (issue 17) against two real Pebbles sharing one DNS (challtestsrv) and one
 * http-01 port: the first killed (SIGKILL) → the second issues in the same run, recorded per
 * version and shown by `certs certificates --json`; the first put back → the next renewal starts
 * at it again, unless acme.stickyIssuer; a rate limit or a 5xx at the first moves on; a
 * validation failure does not (the second CA never sees an order); every issuer failing names
 * each one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startPebble, type PebbleInstance } from '../helpers/pebble.js';
import { newOrderPosts, ordersCreated, startFixedCa, startProxy, type Proxy, type Server } from '../helpers/acme-proxy.js';
import type { Config } from '../../src/config/types.js';
import { certificatesCommand } from '../../src/cli/commands/acme.js';

let env: AcmeEnv;
let second: PebbleInstance;
/** The second CA, behind a recording proxy: its orders are counted there. */
let b: Proxy;
/** A front on the first CA that can answer newOrder with a rate limit. */
let aFront: Proxy;
let rateLimitA = false;
/** After the first CA was asked to validate, it fails every later request (it went down mid-order). */
let dieAfterChallenge = false;
let challengeAsked = false;
let broken: Server;
let caFile: string;

const newOrders = (p: Proxy): number => ordersCreated(p);
const asked = (p: Proxy): number => newOrderPosts(p);

/** Resolves once nothing accepts connections on the port any more (the killed CA is gone). */
async function portClosed(port: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (!open) return;
    await new Promise((r) => setImmediate(r));
  }
}

function config(issuers: string[], extra = '', domains = 'one.test'): Config {
  const list = issuers.map((u) => `    - {directory: "${u}"}`).join('\n');
  const yaml = env.acmeYaml(extra).replace(/ {2}directory: .*\n/, `  issuers:\n${list}\n`).replace(/caFile: .*/, `caFile: ${caFile}`);
  const doms = domains.split(',').map((n) => `  - {name: ${n}}`).join('\n');
  return env.writeConfig(`${yaml}\ndomains:\n${doms}\n`, `certs-${Math.random().toString(36).slice(2)}.yaml`).config;
}

async function killFirst(): Promise<void> {
  process.kill(-env.pebble.pid(), 'SIGKILL');
  await portClosed(env.pebble.port);
}

before(async () => {
  env = await startAcmeEnv();
  second = await startPebble({ dnsServer: env.dns.dnsServer, httpPort: env.httpPort });
  b = await startProxy(second);
  aFront = await startProxy(env.pebble, (method, path, newOrderPath) => {
    if (dieAfterChallenge) {
      if (challengeAsked) return { status: 503, headers: { 'content-type': 'text/plain' }, body: 'the CA went away' };
      if (method === 'POST' && aFront.challengePaths.has(path)) challengeAsked = true;
      return undefined;
    }
    if (!rateLimitA || method !== 'POST' || path !== newOrderPath) return undefined;
    return {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '3600' },
      body: JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates already issued for "test"' }),
    };
  });
  broken = await startFixedCa(env.pebble, 503, { 'content-type': 'text/plain' }, 'maintenance');
  // The CA of both Pebbles' HTTPS, outside their temp dirs (a killed Pebble's may go).
  caFile = join(env.dir, 'pebble-https-ca.pem');
  writeFileSync(caFile, env.pebble.caPem);
});

after(async () => {
  await Promise.allSettled([b?.stop(), aFront?.stop(), broken?.stop(), second?.stop()]);
  await env?.stop();
});

describe('acme.issuers: fallback between two real Pebbles', () => {
  it('the first CA killed: the second issues in the same run; recorded and shown per version', async () => {
    const first = env.pebble.directoryUrl;
    const plain = config([first, b.url], '', 'one.test');
    const sticky = config([first, b.url], '  stickyIssuer: true', 'sticky.test');
    await killFirst();
    const before = newOrders(b);
    const [one] = await env.renew(plain);
    const [st] = await env.renew(sticky);
    for (const o of [one!, st!]) {
      assert.equal(o.action, 'issued', o.reason);
      assert.equal(o.issuer, b.url);
      assert.equal(o.fellBack?.to, b.url);
      assert.equal(o.fellBack?.skipped.length, 1);
      assert.equal(o.fellBack?.skipped[0]!.directoryUrl, first);
      assert.match(o.fellBack!.skipped[0]!.reason, /CA unreachable: .*connection refused/);
      assert.match(o.reason, new RegExp(`issued by ${b.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} after`));      // The run hands this to notify: one issuer-fallback event per version.
      assert.deepEqual(o.events?.map((e) => [e.type, e.key]), [['issuer-fallback', `${o.domain}:v1`]]);
      assert.match(o.events![0]!.detail!, /CA unreachable/);
    }
    assert.equal(newOrders(b) - before, 2, 'one order each at the second CA');
    const store = env.openStore();
    try {
      assert.equal(store.issued.latest('one.test')?.directoryUrl, b.url);
    } finally {
      store.close();
    }

    // `certs certificates --json` and its text name the CA of each version.
    let out = '';
    const io = { stdout: { write: (s: string) => ((out += s), true), isTTY: false } as unknown as NodeJS.WriteStream, stderr: process.stderr, now: () => new Date() };
    assert.equal(await certificatesCommand([], { config: plain.file!, json: true }, io), 0);
    const json = JSON.parse(out) as { certificates: Array<{ domain: string; versions: Array<{ directoryUrl: string }> }> };
    assert.deepEqual(json.certificates.map((c) => [c.domain, c.versions.map((v) => v.directoryUrl)]), [['one.test', [b.url]]]);
    out = '';
    assert.equal(await certificatesCommand([], { config: plain.file! }, io), 0);
    assert.match(out, new RegExp(`v1 .*\\n\\s+from ${b.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`));
  });

  it('the first CA back: the next renewal starts at it again; with stickyIssuer at the current one', async () => {
    await env.pebble.restart();
    const first = env.pebble.directoryUrl;
    const plain = config([first, b.url], '', 'one.test');
    const sticky = config([first, b.url], '  stickyIssuer: true', 'sticky.test');
    const before = asked(b);
    const [one] = await env.renew(plain, { force: true });
    assert.equal(one!.action, 'issued', one!.reason);
    assert.equal(one!.issuer, first);
    assert.equal(one!.fellBack, undefined);
    assert.equal(one!.events, undefined, 'no fallback, nothing to tell');
    assert.equal(asked(b), before, 'the second CA was not asked');
    const [st] = await env.renew(sticky, { force: true });
    assert.equal(st!.action, 'issued', st!.reason);
    assert.equal(st!.issuer, b.url, 'sticky: the CA of the current version first');
    assert.equal(st!.fellBack, undefined);
    const store = env.openStore();
    try {
      assert.deepEqual(store.issued.list('one.test').map((v) => [v.version, v.directoryUrl]), [[2, first], [1, b.url]]);
    } finally {
      store.close();
    }
  });

  it('a rate limit or a 5xx at the first CA moves on to the next', async () => {
    rateLimitA = true;
    try {
      const [limited] = await env.renew(config([aFront.url, b.url], '', 'limited.test'));
      assert.equal(limited!.action, 'issued', limited!.reason);
      assert.equal(limited!.issuer, b.url);
      assert.match(limited!.fellBack!.skipped[0]!.reason, /^rateLimited: .*too many certificates/);
    } finally {
      rateLimitA = false;
    }
    const [down] = await env.renew(config([broken.url, b.url], '', 'maintenance.test'));
    assert.equal(down!.action, 'issued', down!.reason);
    assert.equal(down!.issuer, b.url);
    assert.equal(down!.fellBack!.skipped[0]!.directoryUrl, broken.url);
    assert.match(down!.fellBack!.skipped[0]!.reason, /HTTP 503/);
  });

  it('the first CA failing while it validates (mid-order) still moves on to the next', async () => {
    dieAfterChallenge = true;
    challengeAsked = false;
    try {
      const [o] = await env.renew(config([aFront.url, b.url], '', 'midway.test'));
      assert.ok(challengeAsked, 'the first CA was asked to validate before it failed');
      assert.equal(o!.action, 'issued', o!.reason);
      assert.equal(o!.issuer, b.url);
      assert.match(o!.fellBack!.skipped[0]!.reason, /HTTP 503/);
    } finally {
      dieAfterChallenge = false;
    }
  });

  it('a validation failure stops at the first CA and names the cause; the second never sees an order', async () => {
    // Pebble's validator reaches bad.test at an address nothing listens on; our own preflight
    // is off so the CA itself refuses the proof.
    await env.dns.addA('bad.test', ['127.0.0.9']);
    try {
      const before = asked(b);
      const cfg = config([env.pebble.directoryUrl, b.url], '', 'bad.test');
      cfg.acme!.preflight.enabled = false;
      const [out] = await env.renew(cfg);
      assert.equal(out!.action, 'failed');
      assert.equal(out!.error?.code, 'challenge', out!.reason);
      assert.match(out!.reason, /http-01 validation of bad\.test failed at the CA \(connection\)/);
      assert.equal(out!.fellBack, undefined);
      assert.equal(asked(b), before, 'no order at the second CA');
    } finally {
      await env.dns.clearA('bad.test');
    }
  });

  it('every issuer failing: the failure names each one and why', async () => {
    await killFirst();
    const [out] = await env.renew(config([env.pebble.directoryUrl, broken.url], '', 'none.test'));
    assert.equal(out!.action, 'failed');
    assert.match(out!.reason, /every issuer failed: /);
    assert.ok(out!.reason.includes(`${env.pebble.directoryUrl}: CA unreachable`), out!.reason);
    assert.ok(out!.reason.includes(`${broken.url}: `) && /HTTP 503/.test(out!.reason), out!.reason);
    assert.deepEqual(out!.fellBack?.skipped.map((s) => s.directoryUrl), [env.pebble.directoryUrl, broken.url]);
    assert.equal(out!.fellBack?.to, undefined);
  });
});
