import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFixture } from '../../helpers/config-fixture.js';

const { caseDir, write, load, assertConfigError } = configFixture('certs-nginx-config-');

describe('nginx: defaults', () => {
  it('an empty nginx section gets every default', () => {
    assert.deepEqual(load('nginx: {}\n').nginx, {
      testCommand: ['nginx', '-t'],
      reloadCommand: ['nginx', '-s', 'reload'],
      dumpCommand: ['nginx', '-T'],
      hsts: { enabled: false, maxAgeSeconds: 63_072_000, includeSubDomains: false },
      verify: { timeoutMs: 30_000, intervalMs: 500 },
    });
  });

  it('no nginx section: nginx stays undefined', () => {
    assert.equal(load('domains: []\n').nginx, undefined);
  });

  it('dumpCommand follows a custom testCommand (-t becomes -T)', () => {
    const nginx = load('nginx: { testCommand: [/usr/sbin/nginx, -c, /etc/nginx/nginx.conf, -t] }\n').nginx;
    assert.deepEqual(nginx?.dumpCommand, ['/usr/sbin/nginx', '-c', '/etc/nginx/nginx.conf', '-T']);
    assert.deepEqual(load('nginx: { dumpCommand: [cat, /etc/nginx/nginx.conf] }\n').nginx?.dumpCommand, ['cat', '/etc/nginx/nginx.conf']);
  });

  it('snippetDir and templateDir are resolved against the config folder', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'tpl'));
    writeFileSync(join(folder, 'tpl', 'acme-challenge.conf'), 'location /.well-known/acme-challenge/ { root {{webroot}}; }\n');
    const nginx = load('nginx: { snippetDir: snippets, templateDir: ./tpl }\n', folder).nginx;
    assert.equal(nginx?.snippetDir, join(folder, 'snippets'));
    assert.equal(nginx?.templateDir, join(folder, 'tpl'));
  });
});

describe('nginx.hsts', () => {
  it('hsts: true turns it on with the default max-age', () => {
    assert.deepEqual(load('nginx: { hsts: true }\n').nginx?.hsts, { enabled: true, maxAgeSeconds: 63_072_000, includeSubDomains: false });
  });
  it('hsts: false keeps it off', () => {
    assert.equal(load('nginx: { hsts: false }\n').nginx?.hsts.enabled, false);
  });
  it('a mapping turns it on unless enabled: false', () => {
    assert.deepEqual(load('nginx: { hsts: { maxAgeSeconds: 300, includeSubDomains: true } }\n').nginx?.hsts, { enabled: true, maxAgeSeconds: 300, includeSubDomains: true });
    assert.equal(load('nginx: { hsts: { enabled: false } }\n').nginx?.hsts.enabled, false);
  });
  it('refuses a bad max-age', () => {
    assertConfigError(write(caseDir(), 'nginx:\n  hsts: { maxAgeSeconds: -1 }\n'), 'nginx.hsts.maxAgeSeconds', /expected an integer from 0 to 157680000, got -1/);
  });
});

describe('nginx.templateDir is checked at load', () => {
  it('an unknown variable: ConfigError at nginx.templateDir naming the template file and line', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'tpl'));
    const tpl = join(folder, 'tpl', 'ssl.conf');
    writeFileSync(tpl, '# {{generatedBy}}\nssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\nssl_stapling_file {{ocspFile}};\n');
    const file = write(folder, 'dataDir: ./data\nnginx:\n  snippetDir: /etc/nginx/snippets/certs\n  templateDir: tpl\n');
    const err = assertConfigError(file, 'nginx.templateDir', /unknown variable "ocspFile"; this template knows: generatedBy, name, names, certificate, certificateKey, hsts, hstsMaxAge, hstsIncludeSubDomains/);
    assert.ok(err.message.includes(`template ${tpl}:4: unknown variable`), err.message);
    assert.match(err.message, /\(line 4, column 3\)$/, 'points at the templateDir key');
  });

  it('a syntax error: ConfigError naming file:line', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'tpl'));
    const tpl = join(folder, 'tpl', 'acme-challenge.conf');
    writeFileSync(tpl, 'location /.well-known/acme-challenge/ {\n{{#webroot}}\n  root {{webroot}};\n}\n');
    const err = assertConfigError(write(folder, 'nginx: { templateDir: tpl }\n'), 'nginx.templateDir', /unclosed section \{\{#webroot\}\}/);
    assert.ok(err.message.includes(`template ${tpl}:2: `), err.message);
  });

  it('a missing folder', () => {
    assertConfigError(write(caseDir(), 'nginx: { templateDir: ./nope }\n'), 'nginx.templateDir', /template folder .*nope not found/);
  });

  it('a folder with neither template', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'tpl'));
    assertConfigError(write(folder, 'nginx: { templateDir: tpl }\n'), 'nginx.templateDir', /holds neither ssl\.conf nor acme-challenge\.conf/);
  });

  it('a good override loads', () => {
    const folder = caseDir();
    mkdirSync(join(folder, 'tpl'));
    writeFileSync(join(folder, 'tpl', 'ssl.conf'), '# {{generatedBy}} for {{names}}\nssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\n{{#hsts}}\nadd_header Strict-Transport-Security "max-age={{hstsMaxAge}}" always;\n{{/hsts}}\n');
    assert.equal(load('nginx: { templateDir: tpl }\n', folder).nginx?.templateDir, join(folder, 'tpl'));
  });
});

describe('domains[].nginx', () => {
  it('defaults to true for managed domains and false for monitor-only ones', () => {
    const config = load('domains:\n  - name: example.com\n  - { name: old.example.com, managed: false }\n');
    assert.deepEqual(config.domains.map((d) => d.nginx), [true, false]);
  });

  it('nginx: true on a monitor-only domain without files is refused', () => {
    const file = write(caseDir(), 'domains:\n  - name: old.example.com\n    managed: false\n    nginx: true\n');
    assertConfigError(file, 'domains[0].nginx', /monitor-only domain "old\.example\.com" has no files for an nginx snippet to point at/);
  });

  it('nginx: true on a monitor-only domain with a cert but no key is refused', () => {
    const file = write(caseDir(), 'domains:\n  - name: old.example.com\n    managed: false\n    nginx: true\n    files: { cert: /etc/ssl/old.pem }\n');
    assertConfigError(file, 'domains[0].files.key', /needs the key file too/);
  });

  it('nginx: true on a monitor-only domain with files loads', () => {
    const config = load('domains:\n  - { name: old.example.com, managed: false, nginx: true, files: { cert: /etc/ssl/old.pem, key: /etc/ssl/old.key } }\n');
    assert.equal(config.domains[0]?.nginx, true);
  });

  it('nginx: false on a managed domain is kept', () => {
    assert.equal(load('domains:\n  - { name: example.com, nginx: false }\n').domains[0]?.nginx, false);
  });
});
