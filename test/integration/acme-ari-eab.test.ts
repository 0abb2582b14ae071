/**
 * ARI (RFC 9773), certificate profiles, External Account Binding and the terms of service,
 * against a real Pebble. Pebble 2.4 has neither ARI nor profiles, so those go through the ARI
 * front (test/helpers/ari-front.ts), which adds renewalInfo and meta.profiles and records every
 * newOrder payload. The renewal clock is injected; the CA runs on real time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startAriFront, type AriFront, type AriOrderRecord, type AriWindow } from '../helpers/ari-front.js';
import { openStore, type IssuedCert, type RenewalState, type Store } from '../../src/store/index.js';
import type { Config } from '../../src/config/types.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const RETRY_AFTER_S = 3600;

/** How core/renewal.ts prints a moment: "2026-01-02 03:04 UTC". */
function when(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function read<T>(config: Config, f: (s: Store) => T): T {
  const store = openStore(config.dataDir);
  try {
    return f(store);
  } finally {
    store.close();
  }
}

const latestOf = (config: Config, name: string): IssuedCert | null => read(config, (s) => s.issued.latest(name));
const stateOf = (config: Config, name: string): RenewalState | null => read(config, (s) => s.renewals.get(name));

describe('ARI and profiles through the front (Pebble 2.4 + renewalInfo + profiles)', () => {
  let env: AcmeEnv;
  let front: AriFront;
  /** certId → the window the front answers; others get a future window (days 40-42 of 90). */
  const windows = new Map<string, AriWindow>();
  const futureWindow = (notBefore: Date): AriWindow => ({ start: new Date(notBefore.getTime() + 40 * DAY), end: new Date(notBefore.getTime() + 42 * DAY) });

  before(async () => {
    env = await startAcmeEnv({ pebble: { validityPeriodSeconds: 90 * 86_400 } });
    front = await startAriFront({
      pebble: env.pebble,
      profiles: { classic: 'the 90-day certificate', shortlived: 'a 6-day certificate' },
      retryAfterSeconds: RETRY_AFTER_S,
      window: (c) => windows.get(c.certId) ?? futureWindow(c.notBefore),
    });
  });
  after(async () => {
    await front?.stop();
    await env?.stop();
  });

  /** The env's acme section pointed at the front. */
  const frontYaml = (extra = ''): string => env.acmeYaml(extra)
    .replace(`directory: ${env.pebble.directoryUrl}`, `directory: ${front.directoryUrl}`)
    .replace(`caFile: ${env.pebble.caFile}`, `caFile: ${front.caFile}`);
  const ordersFor = (name: string): AriOrderRecord[] => front.orders().filter((o) => o.identifiers.some((i) => i.value === name));
  const asksFor = (certId: string): number => front.renewalInfoRequests().filter((id) => id === certId).length;

  it('keeps to the CA\'s window: not due before it, no new question before Retry-After, renews with `replaces` once it opens', async () => {
    const { config } = env.writeConfig(`${frontYaml()}\ndomains:\n  - { name: ari.test }\n`, 'ari.yaml');
    assert.ok(config.acme?.directory === front.directoryUrl);
    const t0 = Date.now();
    const [first] = await env.renew(config, { now: () => new Date(t0) });
    assert.equal(first?.action, 'issued', first?.reason);
    const v1 = latestOf(config, 'ari.test')!;
    const certId = v1.ariCertId!;
    assert.ok(certId, 'ARI certificate ID stored');
    assert.ok(front.certs().some((c) => c.certId === certId), 'the front computes the same certificate ID');
    assert.equal(asksFor(certId), 0, 'no renewalInfo for a certificate that did not exist yet');

    // A window in the future: not due, and the window is what the reason names.
    const win = futureWindow(new Date(v1.notBefore));
    const t1 = t0 + MINUTE;
    const [early] = await env.renew(config, { now: () => new Date(t1) });
    assert.equal(early?.action, 'not-due', early?.reason);
    assert.ok(early!.reason.includes(`the CA's ARI window ${when(win.start)} – ${when(win.end)}`), early!.reason);
    assert.match(early!.reason, /^renews .* \(picked in the CA's ARI window/);
    assert.equal(asksFor(certId), 1);
    const stored = stateOf(config, 'ari.test')?.ari;
    assert.ok(stored, 'ARI window stored');
    assert.equal(stored.certId, certId);
    assert.equal(stored.start, win.start.toISOString());
    assert.equal(stored.end, win.end.toISOString());
    assert.equal(stored.retryAfter, new Date(t1 + RETRY_AFTER_S * 1000).toISOString());
    const chosen = Date.parse(stored.chosen);
    assert.ok(chosen >= win.start.getTime() && chosen <= win.end.getTime(), `chosen ${stored.chosen} inside the window`);
    assert.ok(early!.reason.startsWith(`renews ${when(new Date(chosen))}`), early!.reason);

    // Before Retry-After the stored window is used, even when the CA would now say otherwise.
    windows.set(certId, { start: new Date(t0 - DAY), end: new Date(t0 + DAY) });
    const [held] = await env.renew(config, { now: () => new Date(t1 + 30 * MINUTE) });
    assert.equal(held?.action, 'not-due', held?.reason);
    assert.equal(asksFor(certId), 1, 'renewalInfo not asked again before Retry-After');
    assert.equal(stateOf(config, 'ari.test')?.ari?.chosen, stored.chosen, 'the pick is kept between runs');

    // After Retry-After: asked again, the window has opened, so it renews now, naming the old one.
    const t2 = t1 + RETRY_AFTER_S * 1000 + MINUTE;
    const [due] = await env.renew(config, { now: () => new Date(t2) });
    assert.equal(due?.action, 'issued', due?.reason);
    assert.equal(asksFor(certId), 2);
    assert.match(due!.reason, /^due since .*the CA's ARI window/);
    assert.equal(due?.version, 2);
    const order = ordersFor('ari.test').at(-1)!;
    assert.equal(order.replaces, certId, 'newOrder carried replaces = the old certificate\'s ARI ID');
    assert.equal(order.status, 201);
    const v2 = latestOf(config, 'ari.test')!;
    assert.equal(v2.version, 2);
    assert.equal(v2.replacedId, certId);
    assert.ok(v2.ariCertId && v2.ariCertId !== certId);
    assert.equal(stateOf(config, 'ari.test')?.ari, null, 'the old certificate\'s window is forgotten');
    assert.equal(readlinkSync(join(config.dataDir, 'certs', 'ari.test', 'current')), 'archive/2');
    assert.equal(ordersFor('ari.test')[0]?.replaces, undefined, 'the first order replaced nothing');
  });

  it('orders the configured profile, renews when it changes, and reports a profile the CA refuses in its own words', async () => {
    const cfg = (profile: string): Config => env.writeConfig(`${frontYaml(`  profile: ${profile}\n`)}\ndomains:\n  - { name: p.test }\n`, 'profile.yaml').config;
    const [short] = await env.renew(cfg('shortlived'));
    assert.equal(short?.action, 'issued', short?.reason);
    assert.equal(ordersFor('p.test').at(-1)?.profile, 'shortlived');
    assert.equal(latestOf(cfg('shortlived'), 'p.test')?.profile, 'shortlived');

    const [same] = await env.renew(cfg('shortlived'));
    assert.equal(same?.action, 'not-due', same?.reason);

    const classicConfig = cfg('classic');
    const [classic] = await env.renew(classicConfig);
    assert.equal(classic?.action, 'issued', classic?.reason);
    assert.match(classic!.reason, /configuration changed: profile shortlived → classic/);
    assert.equal(ordersFor('p.test').at(-1)?.profile, 'classic');
    const v2 = latestOf(classicConfig, 'p.test')!;
    assert.equal(v2.version, 2);
    assert.equal(v2.profile, 'classic');

    const ordersBefore = ordersFor('p.test').length;
    const [bad] = await env.renew(cfg('nosuch'));
    assert.equal(bad?.action, 'failed', bad?.reason);
    const caText = 'profile "nosuch" is not offered (offered: classic, shortlived)';
    assert.ok(bad!.reason.includes(caText), `the CA's problem text verbatim: ${bad!.reason}`);
    assert.match(bad!.reason, /^domain "p\.test": .*invalidProfile/);
    assert.equal((bad!.error as { detail?: string } | undefined)?.detail, caText);
    assert.equal(ordersFor('p.test').length, ordersBefore + 1);
    assert.equal(ordersFor('p.test').at(-1)?.status, 400);
    assert.equal(latestOf(classicConfig, 'p.test')?.version, 2, 'nothing new recorded');
    assert.equal(readlinkSync(join(classicConfig.dataDir, 'certs', 'p.test', 'current')), 'archive/2');
    assert.ok(bad?.nextAttemptAt, 'the failure is backed off');
  });
});

describe('account registration: External Account Binding and terms of service (Pebble in EAB mode)', () => {
  let env: AcmeEnv;
  const kid = 'kid-1';
  const hmacKey = randomBytes(32).toString('base64url');
  before(async () => {
    env = await startAcmeEnv({ pebble: { eab: { [kid]: hmacKey } } });
  });
  after(async () => {
    await env?.stop();
  });

  /** A config with its own data dir (accounts are stored per data dir and directory). */
  function configWith(tag: string, acmeExtra: string, opts: { hmac?: string; terms?: boolean } = {}): Config {
    const yaml = env.acmeYaml(acmeExtra)
      .replace(/^dataDir: .*$/m, `dataDir: {{DIR}}/data-${tag}`)
      .replace('agreeToTerms: true', `agreeToTerms: ${opts.terms ?? true}`);
    const saved = process.env.EAB_HMAC;
    if (opts.hmac !== undefined) process.env.EAB_HMAC = opts.hmac;
    try {
      return env.writeConfig(`${yaml}\ndomains:\n  - { name: ${tag}.test }\n`, `${tag}.yaml`).config;
    } finally {
      if (saved === undefined) delete process.env.EAB_HMAC;
      else process.env.EAB_HMAC = saved;
    }
  }
  const eabYaml = `  eab: { kid: ${kid}, hmacKey: "\${env:EAB_HMAC}" }\n`;
  const accountOf = (config: Config) => read(config, (s) => s.accounts.get(env.pebble.directoryUrl));

  it('registers with the right kid and HMAC key (from ${env:EAB_HMAC}) and issues', async () => {
    const config = configWith('eab-ok', eabYaml, { hmac: hmacKey });
    assert.equal(config.acme?.eab?.hmacKey, hmacKey);
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'issued', o?.reason);
    assert.ok(accountOf(config)?.accountUrl, 'account stored');
    assert.equal(latestOf(config, 'eab-ok.test')?.version, 1);
  });

  it('a wrong HMAC key: the CA refused, check acme.eab', async () => {
    const config = configWith('eab-wrong', eabYaml, { hmac: randomBytes(32).toString('base64url') });
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'failed', o?.reason);
    assert.match(o!.reason, /^domain "eab-wrong\.test": /);
    assert.match(o!.reason, /the CA refused/);
    assert.match(o!.reason, /check acme\.eab/);
    assert.doesNotMatch(o!.reason, new RegExp(hmacKey), 'the key is never shown');
    assert.equal(accountOf(config), null, 'no account stored');
    assert.equal(latestOf(config, 'eab-wrong.test'), null);
  });

  it('no eab at all: the CA needs External Account Binding', async () => {
    const config = configWith('eab-none', '');
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'failed', o?.reason);
    assert.match(o!.reason, /^domain "eab-none\.test": /);
    assert.match(o!.reason, /needs External Account Binding/);
    assert.match(o!.reason, /acme\.eab/);
    assert.equal(accountOf(config), null);
  });

  it('agreeToTerms false: asks to set acme.agreeToTerms: true before registering', async () => {
    const config = configWith('terms', eabYaml, { hmac: hmacKey, terms: false });
    assert.equal(config.acme?.agreeToTerms, false);
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'failed', o?.reason);
    assert.match(o!.reason, /^domain "terms\.test": /);
    assert.match(o!.reason, /terms of service/);
    assert.match(o!.reason, /set acme\.agreeToTerms: true/);
    assert.equal(accountOf(config), null);
  });
});
