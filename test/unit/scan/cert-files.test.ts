import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertsError, IoError, ValidationError } from '../../../src/core/errors.js';
import { readCertFiles } from '../../../src/scan/cert-files.js';
import { createCA, createLeaf, generateKey, type Issued, type KeyMaterial } from '../../helpers/pki.js';
import { dirname } from 'node:path';
import { callAsNobody } from '../../helpers/as-nobody.js';

let dir: string;
let root: Issued;
let inter: Issued;
let leaf: Issued;
let rsaLeaf: Issued;
let otherEc: KeyMaterial;

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** Base64 runs of the key, long enough that finding one in a message would mean a leak. */
function keyFragments(pem: string): string[] {
  return pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l)).map((l) => l.slice(0, 16));
}

function assertNoKeyMaterial(err: unknown, pem: string): void {
  const text = `${String(err)} ${(err as CertsError).hint ?? ''}`;
  for (const f of keyFragments(pem)) assert.ok(!text.includes(f), 'error text must not quote the key');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certs-cert-files-'));
  root = await createCA({ cn: 'files root' });
  inter = await createCA({ cn: 'files intermediate', issuer: root });
  leaf = await createLeaf({ dns: ['files.test'], issuer: inter });
  rsaLeaf = await createLeaf({ dns: ['rsa.test'], issuer: inter, keySpec: 'rsa-1024' });
  otherEc = generateKey('ec-p256');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('readCertFiles: good files', () => {
  const keyCases: Array<{ name: string; cert: () => Issued; key: () => string }> = [
    { name: 'PKCS#8 EC key', cert: () => leaf, key: () => leaf.keyPem },
    { name: 'SEC1 EC key', cert: () => leaf, key: () => leaf.key.privateKey.export({ type: 'sec1', format: 'pem' }).toString() },
    { name: 'SEC1 EC key with EC PARAMETERS first', cert: () => leaf, key: () => `-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${leaf.key.privateKey.export({ type: 'sec1', format: 'pem' }).toString()}` },
    { name: 'PKCS#1 RSA key', cert: () => rsaLeaf, key: () => rsaLeaf.key.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString() },
    { name: 'PKCS#8 RSA key', cert: () => rsaLeaf, key: () => rsaLeaf.keyPem },
  ];
  for (const c of keyCases) {
    it(`fullchain + ${c.name}: chain in file order, key matches`, () => {
      const cert = c.cert();
      const r = readCertFiles({ cert: file(`good-${c.name}.pem`, cert.pem + inter.pem), key: file(`good-${c.name}.key`, c.key()) });
      assert.deepEqual(r.chain.map((x) => x.fingerprint256), [cert.cert.fingerprint256, inter.cert.fingerprint256]);
      assert.equal(r.keyMatches, true);
    });
  }

  it('no key file → keyMatches null', () => {
    const r = readCertFiles({ cert: file('nokey.pem', leaf.pem) });
    assert.equal(r.chain.length, 1);
    assert.equal(r.keyMatches, null);
  });

  it('keeps a wrong order as it is in the file (analysis judges it)', () => {
    const r = readCertFiles({ cert: file('order.pem', inter.pem + leaf.pem) });
    assert.deepEqual(r.chain.map((x) => x.fingerprint256), [inter.cert.fingerprint256, leaf.cert.fingerprint256]);
  });

  it('one combined file holding certificates and the key serves as both', () => {
    const p = file('combined.pem', leaf.pem + inter.pem + leaf.keyPem);
    const r = readCertFiles({ cert: p, key: p });
    assert.equal(r.chain.length, 2);
    assert.equal(r.keyMatches, true);
  });

  it('Windows line endings', () => {
    const r = readCertFiles({ cert: file('crlf.pem', (leaf.pem + inter.pem).replace(/\n/g, '\r\n')), key: file('crlf.key', leaf.keyPem.replace(/\n/g, '\r\n')) });
    assert.equal(r.chain.length, 2);
    assert.equal(r.keyMatches, true);
  });
});

describe('readCertFiles: key mismatch', () => {
  it('another EC key → false', () => {
    const r = readCertFiles({ cert: file('mm.pem', leaf.pem), key: file('mm.key', otherEc.keyPem) });
    assert.equal(r.keyMatches, false);
  });

  it('a key of another type (RSA key, EC certificate) → false', () => {
    const r = readCertFiles({ cert: file('mm2.pem', leaf.pem), key: file('mm2.key', rsaLeaf.keyPem) });
    assert.equal(r.keyMatches, false);
  });

  it('the intermediate\'s key does not match the leaf', () => {
    const r = readCertFiles({ cert: file('mm3.pem', leaf.pem + inter.pem), key: file('mm3.key', inter.keyPem) });
    assert.equal(r.keyMatches, false);
  });
});

interface BadCase {
  name: string;
  cert?: () => string | Buffer;
  key?: () => string | Buffer;
  /** Path override (missing files, directories). */
  certPath?: () => string;
  keyPath?: () => string;
  type: typeof IoError | typeof ValidationError;
  code?: string;
  message: RegExp;
}

const truncate = (pem: string): string => pem.slice(0, Math.floor(pem.length / 2));

const badCases: BadCase[] = [
  { name: 'missing certificate file', certPath: () => join(dir, 'nope.pem'), type: IoError, code: 'not-found', message: /^certificate file ".*nope\.pem": no such file$/ },
  { name: 'certificate path is a directory', certPath: () => { const d = join(dir, 'adir'); mkdirSync(d, { recursive: true }); return d; }, type: IoError, code: 'not-a-file', message: /"[^"]*adir": is a directory/ },
  { name: 'empty certificate file', cert: () => '\n  \n', type: ValidationError, message: /certificate file ".*": the file is empty/ },
  { name: 'truncated PEM certificate', cert: () => truncate(leaf.pem), type: ValidationError, message: /certificate file ".*": certificate 1 is truncated/ },
  { name: 'second certificate truncated', cert: () => leaf.pem + truncate(inter.pem), type: ValidationError, message: /certificate 2 is truncated/ },
  { name: 'corrupt base64 in a certificate', cert: () => leaf.pem.replace(/^([A-Za-z0-9+/]{10})/m, '$1%%%%'), type: ValidationError, message: /certificate 1 is not valid base64/ },
  {
    name: 'valid base64, not a certificate',
    cert: () => `-----BEGIN CERTIFICATE-----\n${Buffer.from('hello, not DER at all').toString('base64')}\n-----END CERTIFICATE-----\n`,
    type: ValidationError,
    message: /certificate 1: not a valid X\.509 certificate/,
  },
  { name: 'not PEM at all', cert: () => 'just some text\nnothing to see\n', type: ValidationError, message: /certificate file ".*": no certificate found/ },
  { name: 'binary DER instead of PEM', cert: () => leaf.der, type: ValidationError, message: /looks like binary DER, expected PEM/ },
  { name: 'key given as certificate (swapped paths)', cert: () => leaf.keyPem, type: ValidationError, message: /certificate file ".*": holds a private key, not a certificate/ },
  { name: 'missing key file', keyPath: () => join(dir, 'nope.key'), type: IoError, code: 'not-found', message: /^key file ".*nope\.key": no such file$/ },
  { name: 'key file holds a certificate', key: () => leaf.pem, type: ValidationError, message: /key file ".*": no private key found \(the file holds a CERTIFICATE block\)/ },
  { name: 'truncated key', key: () => truncate(leaf.keyPem), type: ValidationError, message: /key file ".*": the PRIVATE KEY block is truncated/ },
  {
    name: 'corrupt key body',
    key: () => leaf.keyPem.replace(/^([A-Za-z0-9+/]{8})[A-Za-z0-9+/]{8}/m, '$1AAAAAAAA'),
    type: ValidationError,
    message: /key file ".*": the PRIVATE KEY block cannot be parsed \(ERR_/,
  },
  {
    name: 'encrypted PKCS#8 key',
    key: () => leaf.key.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString(),
    type: ValidationError,
    message: /key file ".*": the private key is encrypted with a passphrase/,
  },
  {
    name: 'encrypted traditional RSA key',
    key: () => rsaLeaf.key.privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'secret' }).toString(),
    type: ValidationError,
    message: /the private key is encrypted with a passphrase/,
  },
  {
    name: 'OpenSSH key',
    key: () => '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
    type: ValidationError,
    message: /is an OpenSSH key/,
  },
  { name: 'empty key file', key: () => '', type: ValidationError, message: /key file ".*": the file is empty/ },
];

describe('readCertFiles: bad files name the path and never quote a key', () => {
  badCases.forEach((c, i) => {
    it(c.name, () => {
      const certPath = c.certPath?.() ?? file(`bad-${i}.pem`, c.cert?.() ?? leaf.pem + inter.pem);
      const keyPath = c.keyPath?.() ?? (c.key ? file(`bad-${i}.key`, c.key()) : undefined);
      let caught: unknown;
      try {
        readCertFiles({ cert: certPath, ...(keyPath ? { key: keyPath } : {}) });
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof c.type, `expected ${c.type.name}, got ${String(caught)}`);
      if (c.code) assert.equal((caught as CertsError).code, c.code);
      assert.match((caught as Error).message, c.message);
      const named = c.key || c.keyPath ? keyPath : certPath;
      assert.ok((caught as Error).message.includes(`"${named}"`), 'the message names the file');
      assertNoKeyMaterial(caught, leaf.keyPem);
      assertNoKeyMaterial(caught, rsaLeaf.keyPem);
    });
  });

  it('unreadable key file', () => {
    const p = file('unreadable.key', leaf.keyPem);
    chmodSync(p, 0o000);
    chmodSync(dirname(p), 0o755);
    const r = callAsNobody(new URL('../../../src/scan/cert-files.ts', import.meta.url), 'readPrivateKey', [p]);
    assert.equal(r.ok, false);
    assert.equal(r.name, 'IoError');
    assert.equal(r.code, 'unreadable');
    assert.match(r.message ?? '', /permission denied/);
    assert.ok(!(r.message ?? '').includes('PRIVATE KEY'), 'no key material in the message');
  });
});
