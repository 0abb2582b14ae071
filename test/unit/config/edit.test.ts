import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, IoError, ValidationError } from '../../../src/core/errors.js';
import { writeFileAtomic } from '../../../src/lib/atomic-write.js';
import { addDomain, initConfig, removeDomain, STARTER_CONFIG } from '../../../src/config/edit.js';
import { loadConfig } from '../../../src/config/load.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-edit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const read = (file: string): string => readFileSync(file, 'utf8');
const commentLines = (text: string): string[] => text.split('\n').filter((l) => l.trim().startsWith('#') || l.includes(' # '));

function writeConfig(text: string, name = 'certs.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A hand-written file with comments everywhere and spacing yaml's printer would change. */
const HAND_WRITTEN = `# Production inventory — reviewed in PRs.
dataDir: ./data    # relative to this file

scan: {concurrency: 8,   timeoutMs: 3000}

domains:
  # The shop; renewals via ACME.
  - name: shop.example.com   # primary
    altNames: [ www.shop.example.com ]

  # Mail, watched only.
  - name: mail.example.com
    managed: false
    endpoints:
      - {host: mail.example.com, port: 993}   # IMAPS

# Notifications go to the on-call list.
notify: {thresholds: [14, 7, 1]}
`;

describe('initConfig', () => {
  it('writes the starter config with mode 0600, creating the folder', () => {
    const file = join(dir, 'config', 'certs.yaml');
    initConfig(file);
    assert.equal(read(file), STARTER_CONFIG);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadConfig(file, { env: {} }).domains, []);
  });

  it('refuses to overwrite an existing file, leaving it untouched', () => {
    const file = writeConfig('domains: []\n# mine\n');
    assert.throws(() => initConfig(file), (err: unknown) => err instanceof ConfigError && /already exists; pass --force to overwrite it/.test(err.message));
    assert.equal(read(file), 'domains: []\n# mine\n');
  });

  it('overwrites with force', () => {
    const file = writeConfig('domains: []\n');
    initConfig(file, { force: true });
    assert.equal(read(file), STARTER_CONFIG);
  });

  it('leaves no temp files behind', () => {
    initConfig(join(dir, 'certs.yaml'));
    assert.deepEqual(readdirSync(dir), ['certs.yaml']);
  });
});

describe('addDomain', () => {
  it('adds to the starter config, keeping every comment', () => {
    const file = join(dir, 'certs.yaml');
    initConfig(file);
    const added = addDomain(file, { name: 'example.com', altNames: ['www.example.com'] });
    assert.deepEqual(added, { name: 'example.com', altNames: ['www.example.com'], managed: true, endpoints: [{ host: 'example.com', port: 443 }], nginx: true });
    const text = read(file);
    for (const line of commentLines(STARTER_CONFIG)) assert.ok(text.includes(line), `kept ${JSON.stringify(line)}`);
    assert.match(text, /\ndomains:\n {2}- name: example\.com\n {4}altNames: \[www\.example\.com\]\n$/);
  });

  it('appends to a hand-written list without touching any other byte', () => {
    const file = writeConfig(HAND_WRITTEN);
    addDomain(file, { name: 'api.example.com', endpoints: [{ host: 'api.example.com', port: 8443, address: '192.0.2.7' }] });
    const inserted = '\n  - name: api.example.com\n    endpoints:\n      - {host: api.example.com, port: 8443, address: 192.0.2.7}\n';
    const anchor = '      - {host: mail.example.com, port: 993}   # IMAPS\n';
    assert.equal(read(file), HAND_WRITTEN.replace(anchor, anchor + inserted));
    assert.deepEqual(loadConfig(file, { env: {} }).domains.map((d) => d.name), ['shop.example.com', 'mail.example.com', 'api.example.com']);
  });

  it('writes monitor-only, files relative to the config folder, and IDN in Unicode', () => {
    const file = writeConfig('domains: []\n');
    const added = addDomain(file, { name: 'Bücher.Example', monitorOnly: true, files: { cert: 'certs/b.pem', key: '/etc/ssl/b.key' } }, { cwd: join(dir, 'sub') });
    assert.equal(added.name, 'xn--bcher-kva.example');
    assert.equal(added.managed, false);
    assert.deepEqual(added.files, { cert: join(dir, 'sub/certs/b.pem'), key: '/etc/ssl/b.key' });
    assert.equal(read(file), 'domains:\n  - name: bücher.example\n    managed: false\n    files:\n      cert: ./sub/certs/b.pem\n      key: /etc/ssl/b.key\n');
  });

  it('creates the domains list when the key is absent', () => {
    const file = writeConfig('dataDir: ./d # state\n');
    addDomain(file, { name: 'a.example' });
    assert.equal(read(file), 'dataDir: ./d # state\n\ndomains:\n  - name: a.example\n');
  });

  it('fills `domains:` left empty, below a commented-out example', () => {
    const file = writeConfig('domains:\n  # - name: example.com\n\nscan: {}\n');
    addDomain(file, { name: 'a.example' });
    assert.equal(read(file), 'domains:\n  # - name: example.com\n  - name: a.example\n\nscan: {}\n');
  });

  it('follows an unindented list style', () => {
    const file = writeConfig('domains:\n- name: a.example\n');
    addDomain(file, { name: 'b.example', endpoints: [{ host: 'b.example', port: 443 }] });
    assert.equal(read(file), 'domains:\n- name: a.example\n- name: b.example\n  endpoints:\n  - {host: b.example, port: 443}\n');
    assert.equal(loadConfig(file, { env: {} }).domains.length, 2);
  });

  it('falls back to the Document API for a flow-style list', () => {
    const file = writeConfig('# keep me\ndomains: [{name: a.example}]\n');
    addDomain(file, { name: 'b.example' });
    assert.match(read(file), /^# keep me\n/);
    assert.deepEqual(loadConfig(file, { env: {} }).domains.map((d) => d.name), ['a.example', 'b.example']);
  });

  it('tolerates secrets the editing user cannot see', () => {
    const file = writeConfig('notify: {webhook: {url: "https://h.example/", secret: "${env:CERTS_TEST_UNSET_SECRET}"}}\ndomains: []\n');
    addDomain(file, { name: 'a.example' }, { env: {} });
    assert.match(read(file), /CERTS_TEST_UNSET_SECRET/);
  });

  it('keeps the file mode', () => {
    const file = writeConfig('domains: []\n');
    chmodSync(file, 0o640);
    addDomain(file, { name: 'a.example' });
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });

  const refusals: Array<[string, string, Parameters<typeof addDomain>[1], (err: unknown) => boolean]> = [
    ['a duplicate name', HAND_WRITTEN, { name: 'Shop.Example.com.' },
      (e) => e instanceof ConfigError && e.keyPath === 'domains[0].name' && /domain "shop\.example\.com" is already in the config/.test(e.message)],
    ['an invalid name', HAND_WRITTEN, { name: 'exa mple.com' },
      (e) => e instanceof ValidationError && e.message === 'domain "exa mple.com": invalid name: spaces are not allowed'],
    ['an invalid altName', HAND_WRITTEN, { name: 'a.example', altNames: ['b_c.example'] },
      (e) => e instanceof ValidationError && /altName "b_c\.example": invalid name: underscores/.test(e.message)],
    ['an endpoint already scanned elsewhere', HAND_WRITTEN, { name: 'imap.example.com', endpoints: [{ host: 'mail.example.com', port: 993 }] },
      (e) => e instanceof ConfigError && /domains\[2\]\.endpoints\[0\]: endpoint mail\.example\.com:993 is already listed at domains\[1\]\.endpoints\[0\]/.test(e.message)],
    ['a bad port', HAND_WRITTEN, { name: 'a.example', endpoints: [{ host: 'a.example', port: 70000 }] },
      (e) => e instanceof ConfigError && /domains\[2\]\.endpoints\[0\]\.port: expected an integer from 1 to 65535, got 70000/.test(e.message)],
    ['a managed single-label name', HAND_WRITTEN, { name: 'intranet' },
      (e) => e instanceof ConfigError && /needs at least two labels/.test(e.message)],
    ['an edit of an already invalid file', 'domains: []\nsacn: {}\n', { name: 'a.example' },
      (e) => e instanceof ConfigError && /sacn: unknown key; did you mean "scan"\?/.test(e.message)],
    ['an edit of malformed YAML', 'domains: [\n', { name: 'a.example' },
      (e) => e instanceof ConfigError && /invalid YAML at line/.test(e.message)],
  ];
  for (const [what, original, input, check] of refusals) {
    it(`refuses ${what} and leaves the file byte-identical`, () => {
      const file = writeConfig(original);
      assert.throws(() => addDomain(file, input), check);
      assert.equal(read(file), original);
      assert.deepEqual(readdirSync(dir), ['certs.yaml'], 'no temp file left');
    });
  }
});

describe('removeDomain', () => {
  it('removes a domain with the comment right above it, keeping everything else', () => {
    const file = writeConfig(HAND_WRITTEN);
    removeDomain(file, 'mail.example.com');
    const expected = HAND_WRITTEN.replace('\n  # Mail, watched only.\n  - name: mail.example.com\n    managed: false\n    endpoints:\n      - {host: mail.example.com, port: 993}   # IMAPS\n', '');
    assert.equal(read(file), expected);
  });

  it('removes the first domain without leaving a blank line under the key', () => {
    const file = writeConfig(HAND_WRITTEN);
    removeDomain(file, 'shop.example.com');
    assert.match(read(file), /\ndomains:\n {2}# Mail, watched only\.\n {2}- name: mail\.example\.com\n/);
    assert.match(read(file), /^# Production inventory/);
    assert.deepEqual(loadConfig(file, { env: {} }).domains.map((d) => d.name), ['mail.example.com']);
  });

  it('leaves `domains: []` when the last one goes', () => {
    const file = writeConfig('dataDir: ./d\ndomains: # inventory\n  - name: a.example\nscan: {}\n');
    removeDomain(file, 'a.example');
    assert.equal(read(file), 'dataDir: ./d\ndomains: [] # inventory\nscan: {}\n');
    assert.deepEqual(loadConfig(file, { env: {} }).domains, []);
  });

  it('finds an IDN by either spelling', () => {
    const file = writeConfig('domains:\n  - name: bücher.example\n  - name: b.example\n');
    removeDomain(file, 'xn--bcher-kva.example');
    assert.equal(read(file), 'domains:\n  - name: b.example\n');
  });

  it('undoes addDomain byte for byte', () => {
    const file = writeConfig(HAND_WRITTEN);
    addDomain(file, { name: 'new.example.com', altNames: ['www.new.example.com'] });
    removeDomain(file, 'new.example.com');
    assert.equal(read(file), HAND_WRITTEN);
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['shop.exmaple.com', HAND_WRITTEN, /no domain "shop\.exmaple\.com" to remove; did you mean "shop\.example\.com"\?/],
    ['bucher.example', 'domains: [{name: bücher.example}]\n', /did you mean "bücher\.example"\?/],
    ['zzz.invalid', HAND_WRITTEN, /no domain "zzz\.invalid" to remove; the config has: shop\.example\.com, mail\.example\.com/],
    ['a.example', 'domains: []\n', /the config has no domains/],
  ];
  for (const [name, original, message] of refusals) {
    it(`refuses to remove unknown ${name}, file untouched`, () => {
      const file = writeConfig(original);
      assert.throws(() => removeDomain(file, name), (e: unknown) => e instanceof ConfigError && message.test(e.message));
      assert.equal(read(file), original);
    });
  }
});

describe('writeFileAtomic', () => {
  it('replaces content and applies an explicit mode exactly', () => {
    const file = join(dir, 'f');
    writeFileAtomic(file, 'one', 0o604);
    writeFileAtomic(file, 'two', 0o600);
    assert.equal(read(file), 'two');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('keeps the existing mode when none is given', () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'one');
    chmodSync(file, 0o640);
    writeFileAtomic(file, Buffer.from('two'));
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });

  it('refuses to replace when overwrite is false', () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'one');
    assert.throws(() => writeFileAtomic(file, 'two', undefined, { overwrite: false }), (e: unknown) => e instanceof IoError && e.code === 'exists');
    assert.equal(read(file), 'one');
    assert.deepEqual(readdirSync(dir), ['f']);
  });

  it('writes through a symlink, keeping the link', () => {
    const target = join(dir, 'real.yaml');
    const link = join(dir, 'link.yaml');
    writeFileSync(target, 'one');
    symlinkSync(target, link);
    writeFileAtomic(link, 'two');
    assert.equal(read(target), 'two');
    assert.ok(statSync(link).isFile());
    assert.deepEqual(readdirSync(dir).sort(), ['link.yaml', 'real.yaml']);
  });

  it('reports a missing folder as an IoError', () => {
    assert.throws(() => writeFileAtomic(join(dir, 'no', 'f'), 'x'), (e: unknown) => e instanceof IoError && e.code === 'write-failed');
  });
});
