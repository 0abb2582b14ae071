/**
 * Each ACME call gets its own CA problem (issue 11 §2). Two orders run at once on one session
 * (acme.concurrency 2) through a proxy in front of the real Pebble:
 *   - refused.test: the CA refuses the order (403 rejectedIdentifier, Retry-After 7200);
 *   - local.test: answered only after refused.test's refusal was sent, first with a bad nonce
 *     (acme-client retries it itself), then with a 201 that has no Location, which acme-client
 *     rejects locally ("did not return an order link").
 * With one problem slot per session, local.test was reported as "the CA refused (rejectedIdentifier…)"
 * or "(badNonce…)" and inherited the 2-hour Retry-After. Now each domain gets its own error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startProxy, type Canned, type Proxy } from '../helpers/acme-proxy.js';

const HOUR = 3_600_000;

describe('ACME errors are attributed per call, not per session', () => {
  let env: AcmeEnv;
  let proxy: Proxy;
  let localAttempts = 0;
  before(async () => {
    env = await startAcmeEnv();
    let refusalSent!: () => void;
    const refused = new Promise<void>((resolve) => { refusalSent = resolve; });
    proxy = await startProxy(env.pebble, async (method, path, newOrder, payload): Promise<Canned | undefined> => {
      if (method !== 'POST' || path !== newOrder) return undefined;
      if (payload.includes('refused.test')) {
        // Sent after this returns; local.test is answered once this promise has resolved.
        setImmediate(refusalSent);
        return {
          status: 403,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '7200' },
          body: JSON.stringify({ type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'refused.test is forbidden by policy', status: 403 }),
        };
      }
      if (payload.includes('local.test')) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([refused, new Promise((_r, reject) => { timer = setTimeout(() => reject(new Error('refused.test never placed its order')), 20_000); })]);
        clearTimeout(timer);
        localAttempts += 1;
        if (localAttempts === 1) {
          return {
            status: 400,
            headers: { 'content-type': 'application/problem+json', 'replay-nonce': 'fresh-nonce-from-the-proxy' },
            body: JSON.stringify({ type: 'urn:ietf:params:acme:error:badNonce', detail: 'JWS has an invalid anti-replay nonce', status: 400 }),
          };
        }
        return { status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'pending', identifiers: [{ type: 'dns', value: 'local.test' }], authorizations: [], finalize: 'https://127.0.0.1:1/finalize' }) };
      }
      return undefined;
    });
  });
  after(async () => {
    await proxy?.stop();
    await env?.stop();
  });

  it('a CA refusal and a concurrent local failure each keep their own error and backoff', async () => {
    const yaml = env.acmeYaml('  concurrency: 2\n').replace(`directory: ${env.pebble.directoryUrl}`, `directory: ${proxy.url}`);
    const { config } = env.writeConfig(`${yaml}\ndomains:\n  - { name: refused.test }\n  - { name: local.test }\n`);
    const t0 = Date.now();
    const outcomes = await env.renew(config, { now: () => new Date(t0) });
    const by = new Map(outcomes.map((o) => [o.domain, o]));
    const refused = by.get('refused.test');
    const local = by.get('local.test');
    assert.equal(refused?.action, 'failed', refused?.reason);
    assert.equal(local?.action, 'failed', local?.reason);

    assert.equal(refused.reason, 'domain "refused.test": placing the order: the CA refused (rejectedIdentifier, HTTP 403): refused.test is forbidden by policy');
    const refusedNext = Date.parse(refused.nextAttemptAt!);
    assert.ok(refusedNext >= t0 + 2 * HOUR, `refused.test waits for the CA's Retry-After: ${refused.nextAttemptAt}`);

    assert.equal(localAttempts, 2, 'the bad nonce was retried by acme-client, inside the same call');
    assert.match(local.reason, /^domain "local\.test": placing the order: Creating a new order did not return an order link$/);
    assert.doesNotMatch(local.reason, /rejectedIdentifier|badNonce|the CA refused/);
    const localNext = Date.parse(local.nextAttemptAt!);
    assert.ok(localNext >= t0 + 4 * 60_000 && localNext <= t0 + 6 * 60_000, `local.test gets the normal first backoff, not the other domain's Retry-After: ${local.nextAttemptAt}`);

    const store = env.openStore();
    try {
      assert.match(store.renewals.get('local.test')?.lastError ?? '', /did not return an order link/);
      assert.match(store.renewals.get('refused.test')?.lastError ?? '', /rejectedIdentifier/);
    } finally {
      store.close();
    }
  });
});
