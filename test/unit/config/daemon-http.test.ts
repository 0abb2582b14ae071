/**
 * `daemon.http`: a listener off loopback needs `daemon.http.token`, refused at config load with a
 * message naming the file, the key, the address and what to do; the token is a secret (env/file
 * expansion, never echoed).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopbackHost } from '../../../src/config/schema-extras.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';

let dir: string;
let seq = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-daemon-http-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(text: string): string {
  const file = join(dir, `c${++seq}.yaml`);
  writeFileSync(file, text);
  return file;
}

function refusal(text: string, env: NodeJS.ProcessEnv = {}): { file: string; err: ConfigError } {
  const file = write(text);
  let caught: unknown;
  try {
    loadConfig(file, { env });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return { file, err: caught };
}

describe('daemon.http: a non-loopback address needs a token', () => {
  for (const address of ['0.0.0.0', '"::"', '192.168.1.10', 'certs.example.com', '"::ffff:10.0.0.1"', '128.0.0.1']) {
    it(`refuses ${address} without a token, naming the key, the address and the fix`, () => {
      const { file, err } = refusal(`daemon: {http: {address: ${address}}}\n`);
      assert.equal(err.file, file);
      assert.equal(err.keyPath, 'daemon.http.address');
      const shown = address.replace(/"/g, '');
      assert.ok(err.message.startsWith(`${file}: daemon.http.address: ${shown} is not a loopback address`), err.message);
      assert.match(err.message, /daemon\.http\.token is not set/);
      assert.match(err.message, /token: "\$\{env:CERTS_HTTP_TOKEN\}"|127\.0\.0\.1/);
    });
  }

  it('accepts loopback addresses without a token', () => {
    for (const address of ['127.0.0.1', '127.5.6.7', 'localhost', 'metrics.localhost', '"::1"']) {
      const config = loadConfig(write(`daemon: {http: {address: ${address}}}\n`), { env: {} });
      assert.equal(config.daemon?.http?.token, undefined, address);
      assert.equal(config.daemon?.http?.address, address.replace(/"/g, ''));
    }
  });

  it('accepts a non-loopback address with a token from the environment', () => {
    const config = loadConfig(write('daemon: {http: {address: 0.0.0.0, token: "${env:CERTS_HTTP_TOKEN}"}}\n'), { env: { CERTS_HTTP_TOKEN: 's3cret-token' } });
    assert.deepEqual(config.daemon?.http, { address: '0.0.0.0', port: 9464, token: 's3cret-token' });
  });

  it('accepts a non-loopback address with a token from a file (the file is a secret: 0600)', () => {
    const tokenFile = join(dir, 'http-token');
    writeFileSync(tokenFile, 'file-token\n', { mode: 0o600 });
    const config = loadConfig(write(`daemon: {http: {address: 0.0.0.0, token: "\${file:${tokenFile}}"}}\n`), { env: {} });
    assert.equal(config.daemon?.http?.token, 'file-token');
  });

  it('refuses a token variable that is not set, naming the variable and not a value', () => {
    const { err } = refusal('daemon: {http: {address: 0.0.0.0, token: "${env:CERTS_HTTP_TOKEN}"}}\n', {});
    assert.equal(err.keyPath, 'daemon.http.token');
    assert.match(err.message, /CERTS_HTTP_TOKEN is not set/);
  });

  it('refuses an empty token and never echoes an inline one', () => {
    const empty = refusal('daemon: {http: {address: 0.0.0.0, token: ""}}\n');
    assert.equal(empty.err.keyPath, 'daemon.http.token');
    assert.match(empty.err.message, /non-empty string \(a secret/);
    const wrongType = refusal('daemon: {http: {address: 0.0.0.0, token: [inline-secret-value]}}\n');
    assert.equal(wrongType.err.keyPath, 'daemon.http.token');
    assert.doesNotMatch(wrongType.err.message, /inline-secret-value/);
  });
});

describe('isLoopbackHost', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['a.b.localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['127.0.0.1.example.com', false],
    ['localhost.example.com', false],
    ['notlocalhost', false],
    ['10.0.0.1', false],
  ];
  for (const [host, expected] of table) it(`${host} → ${expected}`, () => assert.equal(isLoopbackHost(host), expected));
});
