/**
 * Renewals that fail half-way, against a real Pebble and small loopback servers standing in for a
 * broken CA. Each one must end in a clear error naming the domain and the cause, while the
 * previous certificate and key stay current and byte-identical: no numbered archive directory,
 * no temp directory and no half-switched `current` is left by the failed attempt.
 *
 * The disk and read-only tests mount tmpfs (root only; skipped otherwise) and unmount in finally.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startFixedCa, startProxy } from '../helpers/acme-proxy.js';
import { freePort } from '../helpers/ports.js';
import { openStore } from '../../src/store/index.js';
import { CERT_FILES } from '../../src/store/archive.js';
import type { Config } from '../../src/config/types.js';

const HOUR = 3_600_000;

// ---- tmpfs ------------------------------------------------------------------------------------

function mountTmpfs(dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
}

function umount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
}

/** Whether this process may mount tmpfs (root in a namespace that allows it). */
function canMount(scratch: string): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(scratch, 'mount-probe-'));
  try {
    mountTmpfs(probe, 'size=16k');
  } catch {
    // Not permitted here (no CAP_SYS_ADMIN): the tests that need it are skipped.
    rmSync(probe, { recursive: true, force: true });
    return false;
  }
  umount(probe);
  rmSync(probe, { recursive: true, force: true });
  return true;
}

/** Writes a file until the file system says ENOSPC. */
function fillUp(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

// ---- the tests ----------------------------------------------------------------------------------

describe('renewal faults: the previous certificate stays current', () => {
  let env: AcmeEnv;
  let mountable = false;
  before(async () => {
    env = await startAcmeEnv({ pebble: { validityPeriodSeconds: 90 * 86_400 } });
    mountable = canMount(env.dir);
  });
  after(async () => {
    await env?.stop();
  });

  const domainYaml = (name: string, extra = ''): string => `\ndomains:\n  - { name: ${name}${extra} }\n`;
  /** The standard config for `name`, with the CA directory (and domain options) swapped in. */
  function configFor(name: string, directoryUrl = env.pebble.directoryUrl, domainExtra = ''): Config {
    const yaml = env.acmeYaml().replace(`directory: ${env.pebble.directoryUrl}`, `directory: ${directoryUrl}`);
    return env.writeConfig(`${yaml}${domainYaml(name, domainExtra)}`, `${name}.yaml`).config;
  }
  const base = (name: string): string => join(env.dataDir, 'certs', name);

  /** Issues version 1 through Pebble and returns the bytes of its files. */
  async function issueV1(name: string): Promise<Map<string, Buffer>> {
    const [o] = await env.renew(configFor(name));
    assert.equal(o?.action, 'issued', o?.reason);
    assert.equal(o?.version, 1);
    return new Map(CERT_FILES.map((f) => [f, readFileSync(join(base(name), 'current', f))]));
  }

  /** Version 1 is still current, byte for byte, and the failed attempt left nothing behind. */
  function assertKept(name: string, v1: Map<string, Buffer>): void {
    assert.equal(readlinkSync(join(base(name), 'current')), 'archive/1');
    for (const [f, bytes] of v1) assert.ok(readFileSync(join(base(name), 'current', f)).equals(bytes), `${f} unchanged`);
    assert.deepEqual(readdirSync(join(base(name), 'archive')).filter((n) => /^\d+$/.test(n) || n.startsWith('.')).sort(), ['1'], 'no new version, no temp dir');
    assert.deepEqual(readdirSync(base(name)).filter((n) => n.startsWith('.')), [], 'no half-made current link');
    const store = openStore(env.dataDir);
    try {
      assert.equal(store.issued.latest(name)?.version, 1, 'nothing new recorded');
      const state = store.renewals.get(name);
      assert.ok(state?.lastError, 'the failure is recorded');
      assert.ok(state?.nextAttemptAt, 'with a backoff');
    } finally {
      store.close();
    }
  }

  /** A due renewal: forced, or (force: false) by a clock at 70 % of the lifetime. */
  async function renewDue(config: Config, name: string, opts: { force?: boolean; now?: number } = {}) {
    let now = opts.now;
    if (now === undefined) {
      const store = openStore(env.dataDir);
      const v1 = store.issued.latest(name)!;
      store.close();
      const nb = Date.parse(v1.notBefore);
      now = opts.force === false ? nb + 0.7 * (Date.parse(v1.notAfter) - nb) : Date.now();
    }
    const at = now;
    const [o] = await env.renew(config, { names: [name], force: opts.force ?? true, now: () => new Date(at) });
    assert.ok(o);
    return o;
  }

  it('an unreachable CA: "cannot reach the CA … connection refused"', async () => {
    const name = 'unreachable.test';
    const v1 = await issueV1(name);
    const closed = await freePort();
    const dirUrl = `https://127.0.0.1:${closed}/dir`;
    // Not forced: the renewal is due by the clock, and the failed renewalInfo check before it does not count.
    const o = await renewDue(configFor(name, dirUrl), name, { force: false });
    assert.equal(o.action, 'failed', o.reason);
    assert.match(o.reason, /^domain "unreachable\.test": /);
    assert.match(o.reason, /cannot reach the CA at https:\/\/127\.0\.0\.1:\d+\/dir: connection refused/);
    assert.ok(o.reason.includes(dirUrl));
    assertKept(name, v1);
  });

  it('a CA answering HTTP 500 on its directory', async () => {
    const name = 'dir500.test';
    const v1 = await issueV1(name);
    const ca = await startFixedCa(env.pebble, 500, { 'content-type': 'text/plain' }, 'directory backend on fire');
    try {
      const o = await renewDue(configFor(name, ca.url), name);
      assert.equal(o.action, 'failed', o.reason);
      assert.match(o.reason, /^domain "dir500\.test": /);
      assert.ok(o.reason.includes(ca.url), o.reason);
      assert.match(o.reason, /HTTP 500/);
      assert.match(o.reason, /directory backend on fire/);
      assertKept(name, v1);
    } finally {
      await ca.stop();
    }
  });

  it('a CA answering malformed JSON on its directory', async () => {
    const name = 'dirjson.test';
    const v1 = await issueV1(name);
    const ca = await startFixedCa(env.pebble, 200, { 'content-type': 'application/json' }, '{"newNonce": "https://127.0.0.1/nonce", "newAccount": ');
    try {
      const o = await renewDue(configFor(name, ca.url), name);
      assert.equal(o.action, 'failed', o.reason);
      assert.match(o.reason, /^domain "dirjson\.test": /);
      assert.ok(o.reason.includes(ca.url), o.reason);
      assert.match(o.reason, /not (valid )?JSON|not a JSON/i);
      assert.doesNotMatch(o.reason, /Cannot (use|read)|undefined/, 'no JavaScript internals in the message');
      assertKept(name, v1);
    } finally {
      await ca.stop();
    }
  });

  it('a CA whose newOrder answers HTTP 500 after the directory and account worked', async () => {
    const name = 'order500.test';
    const v1 = await issueV1(name);
    const proxy = await startProxy(env.pebble, (method, path, newOrder) => (method === 'POST' && path === newOrder
      ? { status: 500, headers: { 'content-type': 'text/plain' }, body: 'order service unavailable' }
      : undefined));
    try {
      const t0 = Date.now();
      const o = await renewDue(configFor(name, proxy.url), name, { now: t0 });
      assert.equal(o.action, 'failed', o.reason);
      assert.match(o.reason, /^domain "order500\.test": placing the order: /);
      assert.match(o.reason, /HTTP 500/);
      assert.match(o.reason, /order service unavailable/);
      assert.ok(proxy.exchanges.some((e) => e.method === 'POST' && e.payload.includes('termsOfServiceAgreed') && e.status === 201), 'the account was registered through the proxy');
      assert.equal(proxy.exchanges.filter((e) => e.path === proxy.newOrderPath).length, 1, 'one order attempt, no retry loop');
      // No Retry-After: the normal first backoff (5 minutes ± 20 %).
      const next = Date.parse(o.nextAttemptAt!);
      assert.ok(next >= t0 + 4 * 60_000 && next <= t0 + 6 * 60_000, `backoff ${o.nextAttemptAt}`);
      assertKept(name, v1);
    } finally {
      await proxy.stop();
    }
  });

  it('the backoff after a CA failure honours the CA\'s Retry-After (503 newOrder, Retry-After: 7200)', async () => {
    const name = 'retry.test';
    const v1 = await issueV1(name);
    const problem = JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: 'down for maintenance', status: 503 });
    const proxy = await startProxy(env.pebble, (method, path, newOrder) => (method === 'POST' && path === newOrder
      ? { status: 503, headers: { 'content-type': 'application/problem+json', 'retry-after': '7200' }, body: problem }
      : undefined));
    try {
      const config = configFor(name, proxy.url);
      const t0 = Date.now();
      const o = await renewDue(config, name, { now: t0 });
      assert.equal(o.action, 'failed', o.reason);
      assert.match(o.reason, /^domain "retry\.test": placing the order: the CA refused \(serverInternal, HTTP 503\): down for maintenance/);
      const next = Date.parse(o.nextAttemptAt!);
      assert.ok(next >= t0 + 2 * HOUR, `nextAttemptAt ${o.nextAttemptAt} is at least 2 h after ${new Date(t0).toISOString()}`);
      assert.ok(next <= t0 + 2 * HOUR + 5 * 60_000, `nextAttemptAt ${o.nextAttemptAt} is not much later than Retry-After`);
      const store = openStore(env.dataDir);
      try {
        assert.equal(store.renewals.get(name)?.nextAttemptAt, o.nextAttemptAt, 'persisted');
      } finally {
        store.close();
      }
      assertKept(name, v1);
      // An hour later a renewal that is due (the names changed) is held back, without asking the CA.
      const orders = proxy.exchanges.filter((e) => e.path === proxy.newOrderPath).length;
      const changed = configFor(name, proxy.url, ', altNames: [www.retry.test]');
      const [held] = await env.renew(changed, { names: [name], now: () => new Date(t0 + HOUR) });
      assert.equal(held?.action, 'backoff', held?.reason);
      assert.match(held!.reason, /held back after a failed attempt/);
      assert.equal(held?.nextAttemptAt, o.nextAttemptAt);
      assert.equal(proxy.exchanges.filter((e) => e.path === proxy.newOrderPath).length, orders, 'no order while backing off');
    } finally {
      await proxy.stop();
    }
  });

  it('the disk is full while writing the new archive version', async (t: TestContext) => {
    if (!mountable) {
      t.skip('needs root and permission to mount tmpfs');
      return;
    }
    const name = 'full.test';
    const v1 = await issueV1(name);
    const archive = join(base(name), 'archive');
    const saved = mkdtempSync(join(env.dir, 'saved-'));
    cpSync(join(archive, '1'), join(saved, '1'), { recursive: true });
    mountTmpfs(archive, 'size=64k,mode=0700');
    try {
      cpSync(join(saved, '1'), join(archive, '1'), { recursive: true });
      fillUp(archive);
      const o = await renewDue(configFor(name), name);
      assert.equal(o.action, 'failed', o.reason);
      assert.match(o.reason, /^domain "full\.test": /);
      assert.match(o.reason, /the disk is full/);
      assert.ok(o.reason.includes(archive), `names the path: ${o.reason}`);
      assert.equal(o.error?.code, 'disk-full');
      assertKept(name, v1);
    } finally {
      umount(archive);
    }
  });

  it('an http-01 webroot that is not writable fails naming the domain and the path, before the CA is asked to validate', async (t: TestContext) => {
    if (!mountable) {
      t.skip('needs root and permission to mount tmpfs');
      return;
    }
    const name = 'readonly.test';
    const v1 = await issueV1(name);
    const webroot = join(env.dir, 'webroot-ro');
    mkdirSync(webroot);
    mountTmpfs(webroot, 'ro,size=16k');
    const proxy = await startProxy(env.pebble);
    try {
      const config = configFor(name, proxy.url, `, challenge: { type: http-01, webroot: ${webroot} }`);
      const o = await renewDue(config, name);
      assert.equal(o.action, 'failed', o.reason);
      assert.match(o.reason, /^domain "readonly\.test": http-01 webroot: /);
      assert.ok(o.reason.includes(webroot), `names the path: ${o.reason}`);
      assert.match(o.reason, /read-only file system/);
      assert.ok(proxy.challengePaths.size > 0, 'the order got as far as its authorizations');
      const asked = proxy.exchanges.filter((e) => e.method === 'POST' && proxy.challengePaths.has(e.path));
      assert.deepEqual(asked, [], 'the CA was never asked to validate');
      assertKept(name, v1);
    } finally {
      await proxy.stop();
      umount(webroot);
    }
  });
});
