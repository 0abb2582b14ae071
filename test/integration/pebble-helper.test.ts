// Self-test of test/helpers/pebble.ts and test/helpers/ari-front.ts against the real Pebble 2.4
// and pebble-challtestsrv binaries, driven by acme-client: the directory answers over HTTPS
// trusting only the generated CA, mock DNS answers, http-01 and dns-01 orders are really
// validated, EAB is enforced, revocation shows in cert-status, and the ARI front adds
// renewalInfo, profiles and order recording on top.
import assert from 'node:assert/strict';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import acme from 'acme-client';
import { ariCertId, certInfo, startAriFront } from '../helpers/ari-front.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { request, startChallTestSrv, startPebble, type ChallTestSrvInstance, type PebbleInstance } from '../helpers/pebble.js';
import { freePort } from '../helpers/ports.js';

type AcmeSettings = { retryMaxAttempts: number; retryDefaultDelay: number };
const axiosDefaults = acme.axios.defaults as unknown as { httpsAgent?: unknown; acmeSettings: AcmeSettings };

/** Serves http-01 key authorizations on 127.0.0.1:port, as a webroot or standalone solver would. */
async function startHttp01Server(port: number): Promise<{ port: number; tokens: Map<string, string>; hits: string[]; stop(): Promise<void> }> {
  const tokens = new Map<string, string>();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const keyAuth = m?.[1] !== undefined ? tokens.get(m[1]) : undefined;
    hits.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    if (keyAuth === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(keyAuth);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  return {
    port,
    tokens,
    hits,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

interface IssueOptions {
  challenge?: 'http-01' | 'dns-01';
  profile?: string;
  replaces?: string;
}

interface Issued {
  order: acme.Order;
  chainPem: string;
  leaf: X509Certificate;
}

const clientOpts = { backoffAttempts: 20, backoffMin: 20, backoffMax: 200 };

async function newClient(directoryUrl: string, extra: Partial<acme.ClientOptions> = {}): Promise<acme.Client> {
  const client = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), ...clientOpts, ...extra });
  await client.createAccount({ termsOfServiceAgreed: true });
  return client;
}

/** One complete order through acme-client: challenge, finalize, download. */
async function issue(client: acme.Client, names: string[], ctx: { http01: { tokens: Map<string, string> }; dns: ChallTestSrvInstance }, opts: IssueOptions = {}): Promise<Issued> {
  const type = opts.challenge ?? 'http-01';
  const payload: Record<string, unknown> = { identifiers: names.map((value) => ({ type: 'dns', value })) };
  if (opts.profile !== undefined) payload.profile = opts.profile;
  if (opts.replaces !== undefined) payload.replaces = opts.replaces;
  const order = await client.createOrder(payload as unknown as Parameters<acme.Client['createOrder']>[0]);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    for (const authz of await client.getAuthorizations(order)) {
      const challenge = authz.challenges.find((c) => c.type === type);
      assert.ok(challenge, `authorization for ${authz.identifier.value} offers no ${type}: ${authz.challenges.map((c) => c.type).join(', ')}`);
      const keyAuth = await client.getChallengeKeyAuthorization(challenge);
      if (type === 'http-01') {
        ctx.http01.tokens.set(challenge.token, keyAuth);
        cleanups.push(async () => void ctx.http01.tokens.delete(challenge.token));
      } else {
        const host = `_acme-challenge.${authz.identifier.value}`;
        await ctx.dns.setTxt(host, keyAuth);
        cleanups.push(() => ctx.dns.clearTxt(host));
      }
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, await acme.crypto.createPrivateEcdsaKey());
    const finalized = await client.finalizeOrder(order, csr);
    const chainPem = await client.getCertificate(finalized);
    return { order, chainPem, leaf: new X509Certificate(chainPem) };
  } finally {
    for (const c of cleanups) await c();
  }
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

test('ariCertId follows RFC 9773 §4.1 (the RFC example serial 0x87654321 keeps its leading zero byte)', async () => {
  const ca = await createCA({ cn: 'ARI test CA' });
  const leaf = await createLeaf({ dns: ['a.test'], issuer: ca, serialNumber: '87654321' });
  // RFC 5280 §4.2.1.2 method 1 (what the test PKI uses): SHA-1 of the public key bits, 04‖x‖y.
  const jwk = ca.key.publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
  const ski = createHash('sha1').update(point).digest();
  const info = certInfo(leaf.pem);
  assert.equal(info.serialHex, '0087654321');
  assert.equal(ariCertId(leaf.der), `${ski.toString('base64url')}.AIdlQyE`);
  assert.equal(ariCertId(pemBlocks(leaf.pem + ca.pem)[0] ?? ''), info.certId);
});

describe('Pebble harness', () => {
  let dns: ChallTestSrvInstance;
  let pebble: PebbleInstance;
  let http01: Awaited<ReturnType<typeof startHttp01Server>>;
  const saved = { agent: axiosDefaults.httpsAgent, settings: { ...axiosDefaults.acmeSettings } };

  before(async () => {
    let t0 = Date.now();
    dns = await startChallTestSrv();
    const dnsMs = Date.now() - t0;
    try {
      http01 = await startHttp01Server(await freePort());
      t0 = Date.now();
      pebble = await startPebble({ dnsServer: dns.dnsServer, httpPort: http01.port, nonceReject: 10 });
      console.log(`challtestsrv ready in ${dnsMs} ms, pebble ready in ${Date.now() - t0} ms`);
    } catch (err) {
      await http01?.stop();
      await dns.stop();
      throw err;
    }
    // acme-client's axios instance is global: trust the test HTTPS CA (shared by every Pebble and
    // front this process starts) and do not sleep seconds between retries.
    axiosDefaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, pebble.caPem] });
    axiosDefaults.acmeSettings.retryDefaultDelay = 0;
    axiosDefaults.acmeSettings.retryMaxAttempts = 3;
  });

  after(async () => {
    axiosDefaults.httpsAgent = saved.agent;
    Object.assign(axiosDefaults.acmeSettings, saved.settings);
    try {
      await pebble?.stop();
    } finally {
      try {
        await http01?.stop();
      } finally {
        await dns?.stop();
      }
    }
  });

  test('the directory answers over HTTPS trusting only the generated CA', async () => {
    const res = await request(pebble.directoryUrl, { ca: pebble.caPem });
    assert.equal(res.status, 200);
    const dir = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
    for (const key of ['newAccount', 'newNonce', 'newOrder', 'revokeCert', 'keyChange']) assert.equal(typeof dir[key], 'string', key);
    assert.equal((dir.meta as Record<string, unknown>).externalAccountRequired, false);
    // Not trusted through the system store: the CA is generated per test process.
    await assert.rejects(request(pebble.directoryUrl), /self[- ]signed|unable to (get|verify)/i);
    // The ACME issuing root is a different (Pebble-generated) hierarchy.
    const root = new X509Certificate(await pebble.rootPem());
    const inter = new X509Certificate(await pebble.intermediatePem());
    assert.match(root.subject, /Pebble Root CA/);
    assert.ok(inter.checkIssued(root) && inter.verify(root.publicKey));
  });

  test('challtestsrv answers A by default and TXT / A records set through its API', async () => {
    const resolver = new Resolver({ timeout: 1000, tries: 2 });
    resolver.setServers([dns.dnsServer]);
    assert.deepEqual(await resolver.resolve4('anything.test'), ['127.0.0.1']);
    await dns.setTxt('_acme-challenge.a.test', 'first');
    await dns.setTxt('_acme-challenge.a.test.', 'second');
    assert.deepEqual((await resolver.resolveTxt('_acme-challenge.a.test')).map((r) => r.join('')).sort(), ['first', 'second']);
    await dns.clearTxt('_acme-challenge.a.test');
    await assert.rejects(resolver.resolveTxt('_acme-challenge.a.test'), (err: NodeJS.ErrnoException) => err.code === 'ENODATA' || err.code === 'ENOTFOUND');
    await dns.addA('moved.test', ['127.0.0.2']);
    assert.deepEqual(await resolver.resolve4('moved.test'), ['127.0.0.2']);
    await dns.clearA('moved.test');
    assert.deepEqual(await resolver.resolve4('moved.test'), ['127.0.0.1']);
  });

  test('an http-01 order is validated over the loopback http server and the certificate chains to rootPem; revocation shows in cert-status', async () => {
    const client = await newClient(pebble.directoryUrl);
    const hitsBefore = http01.hits.length;
    const got = await issue(client, ['a.test', 'www.a.test'], { http01, dns });
    assert.ok(got.leaf.checkHost('www.a.test'));
    // Pebble's VA really fetched the tokens from our server, by name, on httpPort.
    const hits = http01.hits.slice(hitsBefore);
    assert.ok(hits.some((h) => h.startsWith(`a.test:${pebble.httpPort}/.well-known/acme-challenge/`)), hits.join('\n'));
    assert.ok(hits.some((h) => h.startsWith(`www.a.test:${pebble.httpPort}/`)), hits.join('\n'));

    const [leafPem, interPem] = pemBlocks(got.chainPem);
    assert.ok(leafPem && interPem, 'leaf + intermediate');
    const inter = new X509Certificate(interPem);
    const root = new X509Certificate(await pebble.rootPem());
    assert.ok(got.leaf.verify(inter.publicKey));
    assert.ok(inter.verify(root.publicKey));

    const status = await pebble.certStatusBySerial(got.leaf.serialNumber);
    assert.equal(status?.status, 'Valid');
    assert.equal(new X509Certificate(status.certificatePem).fingerprint256, got.leaf.fingerprint256);
    await client.revokeCertificate(got.chainPem, { reason: 4 });
    const revoked = await pebble.certStatusBySerial(got.leaf.serialNumber);
    assert.equal(revoked?.status, 'Revoked');
    assert.equal(revoked.reason, 4);
    assert.ok(revoked.revokedAt instanceof Date && !Number.isNaN(revoked.revokedAt.getTime()));
    assert.equal(await pebble.certStatusBySerial('0123456789abcdef'), null);
  });

  test('a dns-01 order is validated through challtestsrv TXT records (wildcard included)', async () => {
    const client = await newClient(pebble.directoryUrl);
    const got = await issue(client, ['d.test', '*.d.test'], { http01, dns }, { challenge: 'dns-01' });
    assert.ok(got.leaf.checkHost('x.d.test'));
    const history = await dns.dnsRequestHistory('_acme-challenge.d.test');
    assert.ok(history.length > 0, 'Pebble queried challtestsrv for the TXT record');
  });

  test('Pebble 2.4 accepts and ignores unknown newOrder fields (profile, replaces)', async () => {
    const client = await newClient(pebble.directoryUrl);
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: 'p.test' }], profile: 'shortlived', replaces: 'aaaa.bbbb' } as unknown as Parameters<acme.Client['createOrder']>[0]);
    assert.equal(order.status, 'pending');
    assert.equal((order as unknown as Record<string, unknown>).profile, undefined);
  });

  test('with EAB required, an account without EAB is refused and one with it is created', async () => {
    const hmacKey = randomBytes(32).toString('base64url');
    const eabPebble = await startPebble({ dnsServer: dns.dnsServer, httpPort: pebble.httpPort, eab: { 'kid-1': hmacKey } });
    try {
      const dir = JSON.parse((await request(eabPebble.directoryUrl, { ca: eabPebble.caPem })).body.toString('utf8')) as { meta: Record<string, unknown> };
      assert.equal(dir.meta.externalAccountRequired, true);
      await assert.rejects(newClient(eabPebble.directoryUrl), /externalAccountBinding/);
      await assert.rejects(newClient(eabPebble.directoryUrl, { externalAccountBinding: { kid: 'kid-1', hmacKey: randomBytes(32).toString('base64url') } }));
      const client = await newClient(eabPebble.directoryUrl, { externalAccountBinding: { kid: 'kid-1', hmacKey } });
      assert.match(client.getAccountUrl(), /^https:\/\/127\.0\.0\.1:\d+\//);
    } finally {
      await eabPebble.stop();
    }
  });

  test('the ARI front adds renewalInfo and profiles, records orders, echoes profile, and serves windows for issued certificates', async () => {
    const front = await startAriFront({
      pebble,
      profiles: { classic: 'the default', shortlived: 'six days' },
      retryAfterSeconds: 120,
      // Relative to the certificate, so the test never depends on today's date.
      window: (c) => ({ start: new Date(c.notBefore.getTime() + 3_600_000), end: new Date(c.notBefore.getTime() + 7_200_000) }),
    });
    try {
      const dirRes = await request(front.directoryUrl, { ca: front.caPem });
      const dir = JSON.parse(dirRes.body.toString('utf8')) as Record<string, string> & { meta: { profiles: Record<string, string> } };
      assert.equal(dir.renewalInfo, `https://127.0.0.1:${front.port}/renewal-info`);
      assert.deepEqual(Object.keys(dir.meta.profiles), ['classic', 'shortlived']);
      for (const key of ['newAccount', 'newNonce', 'newOrder']) assert.ok(dir[key]?.startsWith(`https://127.0.0.1:${front.port}/`), `${key} → ${dir[key]}`);

      const client = await newClient(front.directoryUrl);
      assert.ok(client.getAccountUrl().startsWith(`https://127.0.0.1:${front.port}/`));
      const first = await issue(client, ['ari.test'], { http01, dns }, { profile: 'shortlived' });
      assert.equal((first.order as unknown as Record<string, unknown>).profile, 'shortlived');
      const certId = ariCertId(first.chainPem);
      assert.deepEqual(front.certs().map((c) => c.certId), [certId]);

      const info = await request(`${front.renewalInfoUrl}/${certId}`, { ca: front.caPem });
      assert.equal(info.status, 200);
      assert.equal(info.headers['retry-after'], '120');
      const body = JSON.parse(info.body.toString('utf8')) as { suggestedWindow: { start: string; end: string } };
      const nb = new Date(first.leaf.validFrom).getTime();
      assert.equal(Date.parse(body.suggestedWindow.start), nb + 3_600_000);
      assert.equal(Date.parse(body.suggestedWindow.end), nb + 7_200_000);
      assert.equal((await request(`${front.renewalInfoUrl}/AAAA.BBBB`, { ca: front.caPem })).status, 404);

      await assert.rejects(client.createOrder({ identifiers: [{ type: 'dns', value: 'ari.test' }], profile: 'nope' } as unknown as Parameters<acme.Client['createOrder']>[0]), /not offered/);
      const second = await issue(client, ['ari.test'], { http01, dns }, { replaces: certId });
      assert.equal((second.order as unknown as Record<string, unknown>).replaces, certId);

      const orders = front.orders();
      assert.deepEqual(orders.map((o) => [o.identifiers.map((i) => i.value), o.profile, o.replaces, o.status]), [
        [['ari.test'], 'shortlived', undefined, 201],
        [['ari.test'], 'nope', undefined, 400],
        [['ari.test'], undefined, certId, 201],
      ]);
      assert.deepEqual(front.renewalInfoRequests(), [certId, 'AAAA.BBBB']);
    } finally {
      await front.stop();
    }
  });

  test('stop() is idempotent and restart() brings up a new issuing hierarchy on the same ports', async () => {
    const p = await startPebble({ dnsServer: dns.dnsServer, httpPort: pebble.httpPort, nonceReject: 0 });
    try {
      const rootBefore = await p.rootPem();
      const pidBefore = p.pid();
      const t0 = Date.now();
      await p.restart();
      console.log(`pebble restart took ${Date.now() - t0} ms`);
      assert.notEqual(p.pid(), pidBefore);
      assert.notEqual(await p.rootPem(), rootBefore);
      assert.equal((await request(p.directoryUrl, { ca: p.caPem })).status, 200);
    } finally {
      await p.stop();
      await p.stop();
    }
    // The whole process group (watchdog shell and Pebble) is gone.
    assert.throws(() => process.kill(-p.pid(), 0), { code: 'ESRCH' });
    await assert.rejects(request(p.directoryUrl, { ca: p.caPem, timeoutMs: 1000 }), /ECONNREFUSED/);
  });
});
