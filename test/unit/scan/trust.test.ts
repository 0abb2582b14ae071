import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { IoError, ValidationError } from '../../../src/core/errors.js';
import { loadTrust } from '../../../src/scan/trust.js';
import { probe } from '../../../src/scan/tls-probe.js';
import { createCA, createLeaf, type Issued } from '../../helpers/pki.js';

let dir: string;
let root: Issued;
let otherRoot: Issued;
let leaf: Issued;
let server: tls.Server;
let port: number;

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const noSystem = (): string => join(dir, 'no-system-bundle.crt');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certs-trust-'));
  root = await createCA({ cn: 'trust test root' });
  otherRoot = await createCA({ cn: 'trust test other root' });
  leaf = await createLeaf({ dns: ['localhost'], issuer: root });
  // Accepts TLS 1.2 and 1.3, so the version the probe gets shows which context it used.
  server = tls.createServer({ key: leaf.keyPem, cert: leaf.pem }, (s) => {
    s.on('error', () => s.destroy());
    s.end();
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('loadTrust: sources and counts', () => {
  it('bundled roots only', () => {
    const t = loadTrust({ bundled: true, system: false });
    assert.equal(t.count.bundled, tls.rootCertificates.length);
    assert.equal(t.count.system, 0);
    assert.equal(t.count.caFile, 0);
    assert.equal(t.count.total, t.anchors.size);
    assert.ok(t.anchors.size > 100);
  });

  it('system bundle + caFile, deduplicated across sources', () => {
    const system = file('system.crt', root.pem + otherRoot.pem);
    const caFile = file('extra.pem', root.pem);
    const t = loadTrust({ bundled: false, system: true, systemBundlePath: system, caFile });
    assert.deepEqual(t.count, { bundled: 0, system: 2, caFile: 1, total: 2 });
    assert.equal(t.anchors.size, 2);
    assert.ok(t.anchors.has(root.cert.fingerprint256));
    assert.ok(t.anchors.has(otherRoot.cert.fingerprint256));
  });

  it('a system bundle repeating Node\'s roots (re-wrapped PEM) adds only what is new', () => {
    // Debian's bundle is Mozilla's roots again: each is skipped by its DER before being parsed,
    // whatever the line wrapping; the private root after them is still an anchor.
    const rewrapped = tls.rootCertificates
      .slice(0, 5)
      .map((pem) => pem.replace(/-----[A-Z ]+-----|\s/g, ''))
      .map((b64) => `-----BEGIN CERTIFICATE-----\r\n${b64.replace(/.{76}/g, '$&\r\n')}\r\n-----END CERTIFICATE-----\r\n`);
    const system = file('debian-like.crt', rewrapped.join('') + root.pem);
    const t = loadTrust({ bundled: true, system: true, systemBundlePath: system });
    assert.deepEqual(t.count, { bundled: tls.rootCertificates.length, system: 6, caFile: 0, total: tls.rootCertificates.length + 1 });
    assert.equal(t.anchors.size, tls.rootCertificates.length + 1);
    assert.ok(t.anchors.has(root.cert.fingerprint256));
  });

  it('a duplicate inside one file counts once in the total', () => {
    const t = loadTrust({ bundled: false, system: false, caFile: file('dup.pem', root.pem + root.pem) });
    assert.deepEqual(t.count, { bundled: 0, system: 0, caFile: 2, total: 1 });
  });

  it('a missing system bundle is not an error', () => {
    const t = loadTrust({ bundled: true, system: true, systemBundlePath: noSystem() });
    assert.equal(t.count.system, 0);
  });

  it('system: false ignores an existing bundle', () => {
    const t = loadTrust({ bundled: false, system: false, systemBundlePath: file('ignored.crt', otherRoot.pem), caFile: file('only.pem', root.pem) });
    assert.equal(t.count.system, 0);
    assert.equal(t.anchors.size, 1);
  });

  it('no anchors at all is a configuration error', () => {
    assert.throws(() => loadTrust({ bundled: false, system: true, systemBundlePath: noSystem() }), (err: unknown) =>
      err instanceof ValidationError && /no trust anchors: bundled roots are off, .*no-system-bundle\.crt does not exist, no caFile is given/.test(err.message));
  });
});

describe('loadTrust: bad caFile', () => {
  const cases: Array<{ name: string; path: () => string; type: typeof IoError | typeof ValidationError; message: RegExp }> = [
    { name: 'missing', path: () => join(dir, 'missing-ca.pem'), type: IoError, message: /^CA file ".*missing-ca\.pem": no such file$/ },
    { name: 'empty', path: () => file('empty-ca.pem', ''), type: ValidationError, message: /^CA file ".*empty-ca\.pem": the file is empty/ },
    { name: 'not PEM', path: () => file('text-ca.pem', 'these are not the certificates you are looking for\n'), type: ValidationError, message: /^CA file ".*text-ca\.pem": no certificate found/ },
    { name: 'truncated', path: () => file('trunc-ca.pem', root.pem.slice(0, 200)), type: ValidationError, message: /^CA file ".*trunc-ca\.pem": certificate 1 is truncated/ },
    { name: 'a directory', path: () => dir, type: IoError, message: /^CA file ".*": is a directory/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const path = c.path();
      assert.throws(() => loadTrust({ bundled: true, system: false, caFile: path }), (err: unknown) => {
        assert.ok(err instanceof c.type, `expected ${c.type.name}, got ${String(err)}`);
        assert.match((err as Error).message, c.message);
        assert.ok((err as Error).message.includes(path));
        return true;
      });
    });
  }

  it('a corrupt system bundle names that file', () => {
    assert.throws(
      () => loadTrust({ bundled: true, system: true, systemBundlePath: file('bad-system.crt', 'garbage') }),
      (err: unknown) => err instanceof ValidationError && /^system CA bundle ".*bad-system\.crt": no certificate found/.test(err.message),
    );
  });
});

describe('loadTrust: the secureContext', () => {
  it('trusts the caFile for OpenSSL\'s verdict and caps the first attempt at TLS 1.2', async () => {
    const t = loadTrust({ bundled: true, system: false, caFile: file('ctx-ca.pem', root.pem) });
    const r = await probe({ host: 'localhost', port }, { secureContext: t.secureContext, timeoutMs: 3000 });
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1.2');
    assert.equal(r.orderKnown, true);
    assert.equal(r.opensslError, null);
  });

  it('an anchor whose base64 fills its last PEM line exactly is in OpenSSL\'s store too', async () => {
    // Such a PEM, written with a blank line before END, is unreadable to OpenSSL: the anchor went
    // missing from the probe's context (9 of Node's bundled roots did). Pad the CN until the DER
    // is a multiple of 48 bytes, i.e. its base64 a multiple of 64 characters.
    let exact: Issued | undefined;
    for (let pad = 0; pad < 300 && !exact; pad++) {
      const ca = await createCA({ cn: `trust test exact-line root ${'x'.repeat(pad)}` });
      if (ca.der.toString('base64').length % 64 === 0) exact = ca;
    }
    assert.ok(exact, 'found a CA whose base64 is a multiple of 64 characters');
    const exactLeaf = await createLeaf({ dns: ['localhost'], issuer: exact });
    const srv = tls.createServer({ key: exactLeaf.keyPem, cert: exactLeaf.pem }, (s) => {
      s.on('error', () => s.destroy());
      s.end();
    });
    srv.on('tlsClientError', () => {});
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    try {
      // Behind another anchor in the same list: one unreadable entry must not hide the rest either.
      const t = loadTrust({ bundled: false, system: false, caFile: file('exact-ca.pem', exact.pem + root.pem) });
      for (const p of [(srv.address() as net.AddressInfo).port, port]) {
        const r = await probe({ host: 'localhost', port: p }, { secureContext: t.secureContext, timeoutMs: 3000 });
        assert.equal(r.error, undefined, r.error?.message);
        assert.equal(r.opensslError, null);
      }
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });

  it('without the private CA, OpenSSL does not verify', async () => {
    const t = loadTrust({ bundled: true, system: false });
    const r = await probe({ host: 'localhost', port }, { secureContext: t.secureContext, timeoutMs: 3000 });
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.opensslError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
