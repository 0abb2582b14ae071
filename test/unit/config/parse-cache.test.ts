import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { fastTree } from '../../../src/config/fast-yaml.js';
import { ConfigError } from '../../../src/core/errors.js';

const SMTP = '    smtp: { host: smtp.example.com }\n    from: certs@example.com\n    to: [ops@example.com]\n';

/** A config over the 64 KiB cache threshold, with `head` settings before its domains. */
function bigConfig(head = ''): string {
  let text = `dataDir: ./data\n${head}domains:\n`;
  for (let i = 0; i < 700; i++) text += `  - name: d${i}.certs.test\n    managed: false\n    endpoints: [{ host: d${i}.certs.test, port: 443, address: 127.0.0.1 }]\n`;
  assert.ok(text.length >= 64 * 1024);
  return text;
}

function workspace(t: { after: (fn: () => void) => void }): { dir: string; file: string; cacheDir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'certs-parse-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cacheDir = join(dir, 'cache');
  return { dir, file: join(dir, 'certs.yaml'), cacheDir, env: { CERTS_CACHE_DIR: cacheDir } };
}

/** Loads once to fill the cache, then plants another tree (d0 renamed) under the same key. */
function plant(ws: ReturnType<typeof workspace>, text: string): string {
  parseConfigText(text, ws.file, { env: ws.env });
  const [name] = readdirSync(ws.cacheDir);
  assert.ok(name, 'the first load wrote a cache file');
  const path = join(ws.cacheDir, name);
  type Tree = { domains: Array<{ name: string }> };
  const entry = JSON.parse(readFileSync(path, 'utf8')) as { tree: Partial<Tree>; config?: Tree; domains?: { names: string[] } };
  // domains[] as validated (every domain plain, packed) or as parsed.
  if (entry.domains) entry.domains.names[0] = 'planted.certs.test';
  else entry.tree.domains![0]!.name = 'planted.certs.test';
  // Older cache formats also held the validated config: plant there too, so this test judges them alike.
  if (entry.config) entry.config.domains[0]!.name = 'planted.certs.test';
  writeFileSync(path, JSON.stringify(entry), { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

const firstName = (text: string, ws: ReturnType<typeof workspace>) => parseConfigText(text, ws.file, { env: ws.env }).domains[0]!.name;

describe('the config cache trusts only a directory and file that are ours alone', () => {
  it('a cache file of ours is used (the planted tree shows: the checks below test something)', (t) => {
    const ws = workspace(t);
    const text = bigConfig();
    plant(ws, text);
    assert.equal(firstName(text, ws), 'planted.certs.test');
  });

  for (const [what, spoil] of [
    ['a group-writable cache file', (path: string) => chmodSync(path, 0o620)],
    ['a world-writable cache file', (path: string) => chmodSync(path, 0o602)],
    ['a cache file owned by another uid', (path: string) => chownSync(path, 65534, 65534)],
    ['a group-writable cache directory', (path: string) => chmodSync(join(path, '..'), 0o770)],
    ['a world-writable cache directory', (path: string) => chmodSync(join(path, '..'), 0o777)],
    ['a cache directory owned by another uid', (path: string) => chownSync(join(path, '..'), 65534, 65534)],
  ] as const) {
    it(`${what} is ignored`, (t) => {
      if (what.includes('uid') && process.getuid?.() !== 0) return t.skip('chown needs root');
      const ws = workspace(t);
      const text = bigConfig();
      spoil(plant(ws, text));
      assert.equal(firstName(text, ws), 'd0.certs.test', 'loaded from the text, not the planted tree');
    });
  }

  it('nothing is written into a directory that is not ours alone', (t) => {
    const ws = workspace(t);
    mkdirSync(ws.cacheDir, { mode: 0o777 });
    chmodSync(ws.cacheDir, 0o777);
    parseConfigText(bigConfig(), ws.file, { env: ws.env });
    assert.deepEqual(readdirSync(ws.cacheDir), []);
  });
});

describe('a cached large config is validated in full every time', () => {
  it('a notify.templateDir broken after the config was cached is a ConfigError', (t) => {
    const ws = workspace(t);
    mkdirSync(join(ws.dir, 'mail'));
    writeFileSync(join(ws.dir, 'mail', 'digest.txt'), '{{subject}}\n\n{{summary}}\n');
    const text = bigConfig(`notify:\n  templateDir: mail\n  email:\n${SMTP}`);
    assert.equal(parseConfigText(text, ws.file, { env: ws.env }).notify?.templateDir, join(ws.dir, 'mail'));
    assert.equal(readdirSync(ws.cacheDir).length, 1, 'cached');
    writeFileSync(join(ws.dir, 'mail', 'digest.txt'), '{{subject}}\n\n{{summary}}\n{{criticalCount}}\n');
    assert.throws(() => parseConfigText(text, ws.file, { env: ws.env }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /notify\.templateDir/);
      assert.match(err.message, /unknown variable "criticalCount"/);
      return true;
    });
  });
});

describe('the js-yaml fast path with very long lists', () => {
  it('a sequence of 200,000 items loads (push(...spread) threw a RangeError past ~125k)', () => {
    const text = `big: [${'1,'.repeat(199_999)}1]\n`;
    const tree = fastTree(text);
    assert.ok(tree, 'the fast path took it');
    assert.equal((tree['big'] as unknown[]).length, 200_000);
  });
});

describe('domains[] validated once per text', () => {
  const entryOf = (ws: ReturnType<typeof workspace>) => {
    const [name] = readdirSync(ws.cacheDir);
    assert.ok(name, 'a cache file was written');
    return { path: join(ws.cacheDir, name), entry: JSON.parse(readFileSync(join(ws.cacheDir, name), 'utf8')) as { tree: Record<string, unknown>; domains?: { names: string[] }; validation?: string } };
  };

  it('plain domains are kept validated, in place of their tree, and load to the same config, key order included', (t) => {
    const ws = workspace(t);
    const text = `${bigConfig()}  - name: default.certs.test
  - name: flags.certs.test
    managed: true
    nginx: false
    endpoints: [{ host: flags.certs.test }, { host: mail.certs.test, port: 587, protocol: smtp }, { host: www.certs.test, address: "::1", protocol: tls }]
  - { name: bare, managed: false, endpoints: [{ host: bare, port: 8443 }] }
`;
    const fresh = parseConfigText(text, ws.file, { env: { CERTS_NO_CACHE: '1' } });
    parseConfigText(text, ws.file, { env: ws.env });
    const { entry } = entryOf(ws);
    assert.equal(entry.domains?.names.length, 703);
    assert.equal(entry.tree['domains'], undefined);
    const cached = parseConfigText(text, ws.file, { env: ws.env });
    assert.deepEqual(cached, fresh);
    assert.equal(JSON.stringify(cached.domains), JSON.stringify(fresh.domains));
  });

  it('a domain that needs the full validation, or a ${…} inside domains[], keeps the tree instead', (t) => {
    for (const [what, text] of [
      ['a notify key', bigConfig().replace('  - name: d5.certs.test\n    managed: false\n', '  - name: d5.certs.test\n    managed: false\n    notify: { thresholds: [10] }\n')],
      ['an expression', bigConfig().replace('name: d5.certs.test', 'name: "${env:D5}"')],
    ] as const) {
      const ws = workspace(t);
      const env = { ...ws.env, D5: 'd5.certs.test' };
      const fresh = parseConfigText(text, ws.file, { env: { CERTS_NO_CACHE: '1', D5: 'd5.certs.test' } });
      parseConfigText(text, ws.file, { env });
      const { entry } = entryOf(ws);
      assert.equal(entry.domains, undefined, what);
      assert.equal((entry.tree['domains'] as unknown[]).length, 700, what);
      assert.deepEqual(parseConfigText(text, ws.file, { env }), fresh, what);
    }
  });

  it('an expression elsewhere does not stop domains[] from being kept validated', (t) => {
    const ws = workspace(t);
    const text = bigConfig(`notify:\n  email:\n${SMTP.replace('smtp.example.com', '"${env:SMTP_HOST}"')}`);
    const env = { ...ws.env, SMTP_HOST: 'smtp.example.com' };
    parseConfigText(text, ws.file, { env });
    assert.equal(entryOf(ws).entry.domains?.names.length, 700);
    const again = parseConfigText(text, ws.file, { env: { ...env, SMTP_HOST: 'other.example.com' } });
    assert.equal(again.notify?.email?.smtp.host, 'other.example.com', 'the expression is expanded on every load');
    assert.equal(again.domains.length, 700);
  });

  it('a list validated by other validation code is not used', (t) => {
    const ws = workspace(t);
    const text = bigConfig();
    parseConfigText(text, ws.file, { env: ws.env });
    const { path, entry } = entryOf(ws);
    entry.domains!.names[0] = 'planted.certs.test';
    writeFileSync(path, JSON.stringify({ ...entry, validation: 'older-code' }), { mode: 0o600 });
    assert.equal(firstName(text, ws), 'd0.certs.test');
  });
});
