// Merging imported domains into a config file (config/import-merge.ts): the merge rules, comments
// and layout kept, the text byte-identical when nothing is new, and what refuses to write.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { applyImport, planImport, type ImportEntry } from '../../../src/config/import-merge.js';
import { parseConfigText } from '../../../src/config/load.js';

const dir = mkdtempSync(join(os.tmpdir(), 'certs-import-merge-'));
let n = 0;
function configWith(text: string): string {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}
const monitor = (e: Omit<ImportEntry, 'managed'>): ImportEntry => ({ ...e, managed: false });

const BASE = `# inventory
dataDir: ./data

domains:
  # main site, hand-written
  - name: example.com
    altNames: [www.example.com]   # both names
    endpoints: [{ host: example.com, port: 443 }]

  - name: intranet.corp
    managed: false
    files: { cert: /etc/ssl/intranet.pem }   # no endpoints: the default one
# end
`;

describe('planImport / applyImport', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('extends an entry in place: only its changed line differs, comments and spacing elsewhere kept', () => {
    const file = configWith(BASE);
    const plan = planImport(file, [monitor({ name: 'example.com', altNames: ['api.example.com'], endpoints: [{ host: 'example.com', port: 8443 }] })]);
    assert.equal(plan.outcomes[0]!.action, 'extended');
    assert.equal(
      plan.after,
      BASE.replace('altNames: [www.example.com]   # both names', 'altNames: [ www.example.com, api.example.com ] # both names')
        .replace('endpoints: [{ host: example.com, port: 443 }]', 'endpoints: [ { host: example.com, port: 443 }, { host: example.com, port: 8443 } ]'),
    );
    assert.equal(readFileSync(file, 'utf8'), BASE, 'planning writes nothing');
    applyImport(plan);
    assert.equal(readFileSync(file, 'utf8'), plan.after);
  });

  it('an entry without endpoints keeps its default endpoint when one is added', () => {
    const file = configWith(BASE);
    const plan = planImport(file, [monitor({ name: 'intranet.corp', endpoints: [{ host: 'intranet.corp', port: 8443, address: '10.0.0.5' }] })]);
    const config = parseConfigText(plan.after, file);
    assert.deepEqual(config.domains[1]!.endpoints, [{ host: 'intranet.corp', port: 443 }, { host: 'intranet.corp', port: 8443, address: '10.0.0.5' }]);
    assert.ok(plan.after.includes('# no endpoints: the default one'));
  });

  it('joins by certificate file, then by any name; an endpoint listed anywhere is not added again', () => {
    const file = configWith(BASE);
    const plan = planImport(file, [
      monitor({ name: 'vpn.corp', endpoints: [{ host: 'vpn.corp', port: 443 }], files: { cert: '/etc/ssl/intranet.pem' } }),
      monitor({ name: 'www.example.com', endpoints: [{ host: 'example.com', port: 443 }] }),
      monitor({ name: 'other.example', endpoints: [{ host: 'example.com', port: 443 }] }),
    ]);
    assert.deepEqual(plan.outcomes.map((o) => [o.name, o.action, o.into ?? '']), [
      ['vpn.corp', 'extended', 'intranet.corp'],
      ['www.example.com', 'unchanged', 'example.com'],
      ['other.example', 'skipped', ''],
    ]);
    assert.match(plan.outcomes[2]!.reason ?? '', /every endpoint is already listed: "example.com" already lists/);
    const config = parseConfigText(plan.after, file);
    assert.deepEqual(config.domains.map((d) => d.name), ['example.com', 'intranet.corp']);
    assert.deepEqual(config.domains[0]!.files, undefined, 'files come only with an entry found by name that has none');
    assert.deepEqual(config.domains[1]!.altNames, ['vpn.corp']);
  });

  it('new domains are appended once, entries of the same import merged; a second plan changes nothing', () => {
    const file = configWith(BASE);
    const entries = [
      monitor({ name: 'new.example', endpoints: [{ host: 'new.example', port: 443 }], source: 'list:1' }),
      monitor({ name: 'new.example', altNames: ['www.new.example'], endpoints: [{ host: 'new.example', port: 993 }], source: 'list:2' }),
    ];
    const plan = planImport(file, entries);
    assert.deepEqual(plan.outcomes.map((o) => o.action), ['added', 'added']);
    assert.ok(plan.after.startsWith(BASE.replace('# end\n', '')), 'appended after the last entry, the text before untouched');
    assert.match(plan.after, /\n {2}- name: new\.example\n {4}altNames: \[www\.new\.example\]\n {4}managed: false\n {4}endpoints:\n {6}- \{host: new\.example, port: 443\}\n {6}- \{host: new\.example, port: 993\}\n# end\n$/);
    applyImport(plan);
    const again = planImport(file, entries);
    assert.equal(again.changed, false);
    assert.equal(again.after, again.before);
    assert.deepEqual(again.outcomes.map((o) => o.action), ['unchanged', 'unchanged']);
  });

  it('an entry without files gets the found certificate files; one with files keeps its own', () => {
    const file = configWith(BASE);
    const plan = planImport(file, [
      monitor({ name: 'example.com', endpoints: [], files: { cert: '/etc/ssl/example.pem', key: '/etc/ssl/example.key' } }),
      monitor({ name: 'intranet.corp', endpoints: [], files: { cert: '/etc/ssl/other.pem' } }),
    ]);
    assert.deepEqual(plan.outcomes.map((o) => o.action), ['extended', 'unchanged']);
    const config = parseConfigText(plan.after, file);
    assert.deepEqual(config.domains[0]!.files, { cert: '/etc/ssl/example.pem', key: '/etc/ssl/example.key' });
    assert.deepEqual(config.domains[1]!.files, { cert: '/etc/ssl/intranet.pem' });
  });

  it('an empty `domains: []` and a file without domains get a block list', () => {
    for (const text of ['dataDir: ./data\ndomains: []   # none yet\n', 'dataDir: ./data\n']) {
      const file = configWith(text);
      const plan = planImport(file, [monitor({ name: 'a.example', endpoints: [{ host: 'a.example', port: 443 }] })]);
      assert.deepEqual(parseConfigText(plan.after, file).domains.map((d) => d.name), ['a.example']);
      assert.ok(plan.after.startsWith('dataDir: ./data\n'));
    }
  });

  it('invalid names are skipped with the validator\'s reason, not written', () => {
    const file = configWith(BASE);
    const plan = planImport(file, [monitor({ name: 'bad_name.example', endpoints: [{ host: 'bad_name.example', port: 443 }] })]);
    assert.equal(plan.changed, false);
    assert.equal(plan.outcomes[0]!.action, 'skipped');
    assert.match(plan.outcomes[0]!.reason ?? '', /underscores/);
  });

  it('refuses to write over a file that changed after planning', () => {
    const file = configWith(BASE);
    const plan = planImport(file, [monitor({ name: 'z.example', endpoints: [{ host: 'z.example', port: 443 }] })]);
    writeFileSync(file, `${BASE}# edited meanwhile\n`);
    assert.throws(() => applyImport(plan), /changed while the import was planned; nothing written/);
    assert.equal(readFileSync(file, 'utf8'), `${BASE}# edited meanwhile\n`);
  });

  it('a result the validator refuses is not planned (a managed import without the names a CA needs)', () => {
    const file = configWith(BASE);
    assert.throws(() => planImport(file, [{ name: 'intranet', endpoints: [{ host: 'intranet', port: 443 }], managed: true }]), /needs at least two labels/);
  });
});
