import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/core/errors.js';
import { loadConfig, resolveConfigPath } from '../../../src/config/load.js';
import { STARTER_CONFIG } from '../../../src/config/starter.js';
import type { Config } from '../../../src/config/types.js';
import { callAsNobody } from '../../helpers/as-nobody.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
let dir: string;
let seq = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-load-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Each case gets its own file so messages can name it. */
function write(text: string): string {
  const file = join(dir, `c${++seq}.yaml`);
  writeFileSync(file, text);
  return file;
}

function load(text: string, env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig(write(text), { env });
}

/** Asserts a ConfigError whose message starts with "<file>: <keyPath>: " and matches `message`. */
function assertConfigError(text: string, keyPath: string | undefined, message: RegExp, env: NodeJS.ProcessEnv = {}): ConfigError {
  const file = write(text);
  let caught: unknown;
  try {
    loadConfig(file, { env });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.equal(caught.keyPath, keyPath);
  const prefix = keyPath === undefined ? `${file}: ` : `${file}: ${keyPath}: `;
  assert.ok(caught.message.startsWith(prefix), `message starts with ${JSON.stringify(prefix)}: ${caught.message}`);
  assert.match(caught.message, message);
  return caught;
}

describe('resolveConfigPath', () => {
  const cwd = '/srv/app';
  const table: Array<[string | undefined, NodeJS.ProcessEnv, string]> = [
    ['my.yaml', { CERTS_CONFIG: '/etc/certs.yaml' }, '/srv/app/my.yaml'],
    [undefined, { CERTS_CONFIG: '/etc/certs.yaml' }, '/etc/certs.yaml'],
    [undefined, { CERTS_CONFIG: 'rel/c.yaml' }, '/srv/app/rel/c.yaml'],
    [undefined, { CERTS_CONFIG: '' }, '/srv/app/config/certs.yaml'],
    [undefined, {}, '/srv/app/config/certs.yaml'],
    ['', {}, '/srv/app/config/certs.yaml'],
  ];
  for (const [cli, env, expected] of table) {
    it(`${String(cli)} ${JSON.stringify(env)} → ${expected}`, () => assert.equal(resolveConfigPath(cli, env, cwd), expected));
  }
});

describe('loadConfig: defaults', () => {
  it('fills every default for a minimal file', () => {
    const file = write('domains: []\n');
    const config = loadConfig(file, { env: {} });
    assert.deepEqual(config, {
      file,
      dataDir: join(dir, 'data'),
      trust: { bundled: true, system: true },
      scan: { concurrency: 64, timeoutMs: 5000, connectTimeoutMs: 5000, warningDays: 30, criticalDays: 7, revocation: true, addresses: 'all' },
      fetch: { allowPrivateAddresses: false },
      hooks: { passEnv: [] },
      store: { engine: 'sqlite', retention: { scanDays: 90, keepVersions: 5 } },
      domains: [],
    });
  });

  it('accepts an empty mapping and a null domains list', () => {
    assert.deepEqual(load('{}\n').domains, []);
    assert.deepEqual(load('domains:\n').domains, []);
  });

  it('connectTimeoutMs follows timeoutMs unless set', () => {
    assert.equal(load('scan: {timeoutMs: 800}\n').scan.connectTimeoutMs, 800);
    assert.equal(load('scan: {timeoutMs: 800, connectTimeoutMs: 300}\n').scan.connectTimeoutMs, 300);
  });

  it('gives a domain its default endpoint, managed: true and no altNames', () => {
    assert.deepEqual(load('domains: [{name: example.com}]\n').domains, [
      { name: 'example.com', altNames: [], managed: true, endpoints: [{ host: 'example.com', port: 443 }], nginx: true },
    ]);
  });

  it('gives a wildcard domain no default endpoint', () => {
    const [d] = load('domains: [{name: "*.example.com", files: {cert: c.pem}}]\n').domains;
    assert.deepEqual(d?.endpoints, []);
  });

  it('keeps an explicit empty endpoint list', () => {
    assert.deepEqual(load('domains: [{name: example.com, endpoints: []}]\n').domains[0]?.endpoints, []);
  });

  it('defaults endpoint host to the domain name and port to 443', () => {
    assert.deepEqual(load('domains: [{name: example.com, endpoints: [{port: 8443}, {address: "::1"}]}]\n').domains[0]?.endpoints, [
      { host: 'example.com', port: 8443 },
      { host: 'example.com', port: 443, address: '::1' },
    ]);
  });

  it('resolves paths against the config folder', () => {
    const config = load('dataDir: ../state\ndomains: [{name: a.example, files: {cert: certs/a.pem, key: /abs/a.key}}]\n');
    assert.equal(config.dataDir, resolve(dir, '../state'));
    assert.deepEqual(config.domains[0]?.files, { cert: join(dir, 'certs/a.pem'), key: '/abs/a.key' });
  });

  it('fills section defaults (notify thresholds, daemon http, smtp port)', () => {
    const config = load('daemon: {http: {}}\nnotify: {email: {smtp: {host: mail.example.com, secure: true}, from: a@example.com, to: [b@example.com]}}\n');
    assert.deepEqual(config.daemon, { http: { address: '127.0.0.1', port: 9464 } });
    assert.deepEqual(config.notify?.thresholds, [30, 14, 7, 3, 1]);
    assert.deepEqual(config.notify?.email?.smtp, { host: 'mail.example.com', port: 465, secure: true, requireTLS: false, timeoutMs: 30_000 });
  });

  it('sorts notify thresholds descending', () => {
    assert.deepEqual(load('notify: {thresholds: [1, 30, 7]}\n').notify?.thresholds, [30, 7, 1]);
  });
});

describe('loadConfig: names', () => {
  it('stores IDN names, altNames and default hosts as punycode A-labels', () => {
    const [d] = load('domains: [{name: Bücher.Example, altNames: ["*.bücher.example"]}]\n').domains;
    assert.equal(d?.name, 'xn--bcher-kva.example');
    assert.deepEqual(d?.altNames, ['*.xn--bcher-kva.example']);
    assert.deepEqual(d?.endpoints, [{ host: 'xn--bcher-kva.example', port: 443 }]);
  });

  it('normalizes IPv6 endpoint addresses', () => {
    const [d] = load('domains: [{name: a.example, endpoints: [{host: "[2001:DB8::1]", address: "2001:db8:0:0:0:0:0:2"}]}]\n').domains;
    assert.deepEqual(d?.endpoints, [{ host: '2001:db8::1', port: 443, address: '2001:db8::2' }]);
  });

  it('lets a monitor-only domain have a single-label name', () => {
    assert.equal(load('domains: [{name: localhost, managed: false}]\n').domains[0]?.name, 'localhost');
  });
});

describe('loadConfig: file-level errors', () => {
  it('reports malformed YAML with line and column', () => {
    const err = assertConfigError('domains:\n  - name: a.example\n    altNames: [b.example\n  - name: c\n', undefined, /invalid YAML at line \d+, column \d+: /);
    assert.match(err.message, /\n {4}.*\n {4} *\^/, 'shows the line and a caret');
  });
  it('reports duplicate keys as YAML errors', () => {
    assertConfigError('scan: {}\nscan: {}\n', undefined, /invalid YAML at line 2, column 1: .*unique/i);
  });
  for (const [what, text] of [['empty', ''], ['only comments', '# nothing\n'], ['only a document marker', '---\n']] as const) {
    it(`refuses a file with ${what}`, () => void assertConfigError(text, undefined, /the file is empty; expected a mapping of settings/));
  }
  it('refuses an alias bomb', () => {
    let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]\n`;
    assertConfigError(text, undefined, /invalid YAML: Excessive alias count/);
  });
  it('refuses a list at the top level', () => void assertConfigError('- a\n- b\n', undefined, /top level must be a mapping .*got a list/));
  it('refuses a scalar at the top level', () => void assertConfigError('hello\n', undefined, /top level must be a mapping .*got a string \("hello"\)/));
  it('names a missing config file and how to create one', () => {
    const file = join(dir, 'missing.yaml');
    assert.throws(() => loadConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${file}: config file not found`);
      assert.match(err.hint ?? '', /certs init/);
      return true;
    });
  });
  it('refuses a directory as the config file', () => {
    assert.throws(() => loadConfig(dir), /is a directory; expected a YAML config file/);
  });
});

describe('loadConfig: wrong types and values', () => {
  const table: Array<[string, string, string, RegExp]> = [
    ['dataDir not a string', 'dataDir: 5\n', 'dataDir', /expected a file or directory path, got 5/],
    ['trust not a mapping', 'trust: [a]\n', 'trust', /expected a mapping \(keys: caFile, bundled, system\), got a list/],
    ['trust.bundled "yes"', 'trust: {bundled: yes}\n', 'trust.bundled', /expected true or false, got "yes"/],
    ['nothing trusted', 'trust: {bundled: false, system: false}\n', 'trust', /nothing would be trusted/],
    ['concurrency as string', 'scan: {concurrency: "64"}\n', 'scan.concurrency', /expected an integer from 1 to 1024, got "64"/],
    ['concurrency 0', 'scan: {concurrency: 0}\n', 'scan.concurrency', /expected an integer from 1 to 1024, got 0/],
    ['concurrency 2000', 'scan: {concurrency: 2000}\n', 'scan.concurrency', /got 2000/],
    ['timeoutMs too small', 'scan: {timeoutMs: 50}\n', 'scan.timeoutMs', /expected an integer from 100 to 120000, got 50/],
    ['timeoutMs fractional', 'scan: {timeoutMs: 1000.5}\n', 'scan.timeoutMs', /got 1000\.5/],
    ['revocation "no"', 'scan: {revocation: "no"}\n', 'scan.revocation', /expected true or false, got "no"/],
    ['critical ≥ warning', 'scan: {warningDays: 10, criticalDays: 10}\n', 'scan.criticalDays', /expected fewer days than scan\.warningDays \(10\), got 10/],
    ['domains a mapping', 'domains: {name: a.example}\n', 'domains', /expected a list of domains .*got a mapping/],
    ['domain a string', 'domains: [a.example]\n', 'domains[0]', /expected a mapping .*got "a\.example"/],
    ['name missing', 'domains: [{altNames: [b.example]}]\n', 'domains[0].name', /missing; expected a DNS name/],
    ['name a number', 'domains: [{name: 42}]\n', 'domains[0].name', /expected a DNS name .*got 42/],
    ['managed "no"', 'domains: [{name: a.example, managed: "no"}]\n', 'domains[0].managed', /expected true or false, got "no"/],
    ['altNames a string', 'domains: [{name: a.example, altNames: b.example}]\n', 'domains[0].altNames', /expected a list of DNS names, got "b\.example"/],
    ['endpoints a mapping', 'domains: [{name: a.example, endpoints: {port: 443}}]\n', 'domains[0].endpoints', /expected a list of endpoints/],
    ['port 0', 'domains: [{name: a.example, endpoints: [{port: 0}]}]\n', 'domains[0].endpoints[0].port', /expected an integer from 1 to 65535, got 0/],
    ['port 65536', 'domains: [{name: a.example, endpoints: [{port: 65536}]}]\n', 'domains[0].endpoints[0].port', /got 65536/],
    ['port string', 'domains: [{name: a.example, endpoints: [{port: "443"}]}]\n', 'domains[0].endpoints[0].port', /got "443"/],
    ['port fractional', 'domains: [{name: a.example}, {name: b.example, endpoints: [{port: 44.3}]}]\n', 'domains[1].endpoints[0].port', /got 44\.3/],
    ['host with space', 'domains: [{name: a.example, endpoints: [{host: "bad host"}]}]\n', 'domains[0].endpoints[0].host', /host "bad host": invalid name: spaces are not allowed/],
    ['address bad IPv4', 'domains: [{name: a.example, endpoints: [{address: 999.1.1.1}]}]\n', 'domains[0].endpoints[0].address', /address "999\.1\.1\.1": invalid IPv4 address/],
    ['wildcard endpoint without host', 'domains: [{name: "*.a.example", endpoints: [{port: 443}]}]\n', 'domains[0].endpoints[0].host', /missing; a wildcard domain \(\*\.a\.example\) cannot be connected to/],
    ['files without cert', 'domains: [{name: a.example, files: {key: k.pem}}]\n', 'domains[0].files.cert', /missing; expected the certificate file path/],
    ['monitor-only wildcard with nothing to check', 'domains: [{name: "*.a.example", managed: false}]\n', 'domains[0]', /has nothing to check \(a wildcard gets no default endpoint\); add endpoints or files/],
    ['managed single-label', 'domains: [{name: localhost}]\n', 'domains[0].name', /an ACME-managed name needs at least two labels.*set managed: false/],
    ['wildcard with http-01', 'acme: {challenge: {type: http-01, webroot: /w}}\ndomains: [{name: "*.a.example", files: {cert: c.pem}}]\n', 'domains[0].name', /CAs issue wildcard names only through dns-01.*\(from acme\.challenge\)/],
    ['acme directory typo', 'acme: {directory: letsencrypt-stage}\n', 'acme.directory', /did you mean "letsencrypt-staging"/],
    ['acme directory http', 'acme: {directory: "http://acme.example/dir"}\n', 'acme.directory', /expected one of letsencrypt, .* or an https:\/\/ directory URL, got "http:/],
    ['acme email', 'acme: {email: not-an-email}\n', 'acme.email', /expected an email address like "ops@example\.com", got "not-an-email"/],
    ['acme keyType', 'acme: {keyType: ecdsa-p521}\n', 'acme.keyType', /expected one of ecdsa-p256, ecdsa-p384, rsa2048, rsa3072, rsa4096/],
    ['acme agreeToTerms string', 'acme: {agreeToTerms: "true"}\n', 'acme.agreeToTerms', /expected true or false, got "true"/],
    ['acme eab without hmacKey', 'acme: {eab: {kid: k}}\n', 'acme.eab.hmacKey', /missing; expected the EAB HMAC key/],
    ['acme renewBeforeDays 0', 'acme: {renewBeforeDays: 0}\n', 'acme.renewBeforeDays', /expected an integer from 1 to 3650, got 0/],
    ['challenge without solver', 'acme: {challenge: {type: http-01}}\n', 'acme.challenge', /http-01 needs exactly one of webroot or standalone or shared, got neither/],
    ['challenge type typo', 'acme: {challenge: {type: dns01, hook: [x]}}\n', 'acme.challenge.type', /did you mean "dns-01"/],
    ['dns-01 with webroot', 'acme: {challenge: {type: dns-01, webroot: /w}}\n', 'acme.challenge.webroot', /not used by dns-01; dns-01 takes hook or rfc2136/],
    ['hook as a string', 'acme: {challenge: {type: dns-01, hook: "/bin/hook add"}}\n', 'acme.challenge.hook', /expected a command as a list of strings/],
    ['rfc2136 secret without name', 'acme: {challenge: {type: dns-01, rfc2136: {server: 192.0.2.53, tsigSecret: abc=}}}\n', 'acme.challenge.rfc2136.tsigKeyName', /tsigKeyName and tsigSecret go together/],
    ['standalone port', 'acme: {challenge: {type: http-01, standalone: {port: 0}}}\n', 'acme.challenge.standalone.port', /got 0/],
    ['nginx testCommand string', 'nginx: {testCommand: "nginx -t"}\n', 'nginx.testCommand', /expected a command as a list of strings, like \[nginx, -t\], got "nginx -t"/],
    ['nginx reloadCommand empty', 'nginx: {reloadCommand: []}\n', 'nginx.reloadCommand', /empty; expected a command/],
    ['cron 3 fields', 'daemon: {schedule: "* * *"}\n', 'daemon.schedule', /expected 5 fields .* or 6 .*got 3/],
    ['cron minute 61', 'daemon: {schedule: "61 * * * *"}\n', 'daemon.schedule', /minute field: "61" is out of range; expected 0-59/],
    ['cron bad month', 'daemon: {schedule: "0 0 1 foo *"}\n', 'daemon.schedule', /month field: "foo" is out of range/],
    ['daemon http port', 'daemon: {http: {port: 70000}}\n', 'daemon.http.port', /got 70000/],
    ['thresholds duplicate', 'notify: {thresholds: [30, 7, 30]}\n', 'notify.thresholds[2]', /30 is already listed at index 0/],
    ['thresholds zero', 'notify: {thresholds: [0]}\n', 'notify.thresholds[0]', /expected an integer from 1 to 3650, got 0/],
    ['email to empty', 'notify: {email: {smtp: {host: localhost}, from: a@example.com, to: []}}\n', 'notify.email.to', /empty; expected at least one email address/],
    ['email to invalid', 'notify: {email: {smtp: {host: localhost}, from: a@example.com, to: [ops]}}\n', 'notify.email.to[0]', /expected an email address/],
    ['smtp user without pass', 'notify: {email: {smtp: {host: localhost, user: u}, from: a@example.com, to: [b@example.com]}}\n', 'notify.email.smtp.pass', /user and pass go together/],
    ['webhook ftp', 'notify: {webhook: {url: "ftp://x.example/"}}\n', 'notify.webhook.url', /expected a URL \(https:\/\/ or http:\/\/\), got "ftp:\/\/x\.example\/"/],
  ];
  for (const [what, text, keyPath, message] of table) it(what, () => void assertConfigError(text, keyPath, message));

  it('adds the line and column of the offending key', () => {
    assertConfigError('domains:\n  - name: a.example\n    endpoints:\n      - {host: a.example, port: 0}\n', 'domains[0].endpoints[0].port', /got 0 \(line 4, column \d+\)$/);
  });
});

describe('loadConfig: invalid names', () => {
  const table: Array<[string, string, RegExp]> = [
    ['"exa mple.com"', 'domains[0].name', /: domains\[0\]\.name: domain "exa mple\.com": invalid name: spaces are not allowed/],
    ['a_b.example.com', 'domains[0].name', /underscores are not allowed in certificate host names/],
    [`${'a'.repeat(64)}.example`, 'domains[0].name', /is 64 characters long; expected at most 63/],
    [`${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}.example`, 'domains[0].name', /expected at most 253/],
    ['"a*.example.com"', 'domains[0].name', /whole left-most label/],
    ['"*.*.example.com"', 'domains[0].name', /only one wildcard/],
    ['"foo.*.com"', 'domains[0].name', /only as the whole left-most label/],
    ['"*"', 'domains[0].name', /a bare "\*" is not a name/],
    ['192.0.2.1', 'domains[0].name', /"192\.0\.2\.1": public CAs issue for IP addresses only under a profile that allows them/],
  ];
  for (const [name, keyPath, message] of table) it(`refuses ${name}`, () => void assertConfigError(`domains: [{name: ${name}}]\n`, keyPath, message));

  it('accepts an IP address under a profile, and for monitoring', () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-ip-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'domains: [{name: 192.0.2.1, profile: shortlived}, {name: "2001:db8::1", managed: false}]\n');
      const config = loadConfig(file, { env: {} });
      assert.deepEqual(config.domains.map((d) => [d.name, d.profile ?? null]), [['192.0.2.1', 'shortlived'], ['2001:db8::1', null]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad altName at its index', () => {
    assertConfigError('domains: [{name: a.example, altNames: [b.example, "c d.example"]}]\n', 'domains[0].altNames[1]', /domain "c d\.example": invalid name: spaces/);
  });
});

describe('loadConfig: unknown keys', () => {
  const table: Array<[string, string, RegExp]> = [
    ['domains: [{name: a.example, altnames: [b.example]}]\n', 'domains[0].altnames', /unknown key; did you mean "altNames"\?/],
    ['sacn: {}\n', 'sacn', /unknown key; did you mean "scan"\?/],
    ['datadir: ./d\n', 'datadir', /did you mean "dataDir"\?/],
    ['scan: {timeout: 5000}\n', 'scan.timeout', /did you mean "timeoutMs"\?/],
    ['trust: {cafile: x.pem}\n', 'trust.cafile', /did you mean "caFile"\?/],
    ['domains: [{name: a.example, endpoints: [{host: a.example, prot: 443}]}]\n', 'domains[0].endpoints[0].prot', /did you mean "port"\?/],
    ['domains: [{name: a.example, file: {cert: c.pem}}]\n', 'domains[0].file', /did you mean "files"\?/],
    ['acme: {challenge: {type: http-01, web_root: /w}}\n', 'acme.challenge.web_root', /did you mean "webroot"\?/],
    ['notify: {email: {smtp: {hostname: x}}}\n', 'notify.email.smtp.hostname', /did you mean "host"\?/],
    ['daemon: {http: {adress: 127.0.0.1}}\n', 'daemon.http.adress', /did you mean "address"\?/],
    ['frobnicate: 1\n', 'frobnicate', /unknown key; expected one of: dataDir, trust, scan, acme, nginx, daemon, notify, fetch, hooks, store, node, cluster, domains/],
  ];
  for (const [text, keyPath, message] of table) it(keyPath, () => void assertConfigError(text, keyPath, message));

  it('points at the key itself', () => {
    assertConfigError('domains:\n  - name: a.example\n    altnames: [b.example]\n', 'domains[0].altnames', /\(line 3, column 5\)$/);
  });
});

describe('loadConfig: duplicates', () => {
  const table: Array<[string, string, string, RegExp]> = [
    ['same domain twice', 'domains: [{name: a.example}, {name: A.Example.}]\n', 'domains[1].name', /domain "a\.example" is already defined at domains\[0\]\.name/],
    ['same IDN in both spellings', 'domains: [{name: bücher.example, endpoints: []}, {name: xn--bcher-kva.example, endpoints: []}]\n', 'domains[1].name', /already defined at domains\[0\]\.name/],
    ['altName repeats the name', 'domains: [{name: a.example, altNames: [A.example]}]\n', 'domains[0].altNames[0]', /"a\.example" duplicates domains\[0\]\.name; list each name once/],
    ['altName twice', 'domains: [{name: a.example, altNames: [b.example, b.example.]}]\n', 'domains[0].altNames[1]', /duplicates domains\[0\]\.altNames\[0\]/],
    ['explicit endpoints in two domains', 'domains: [{name: a.example, endpoints: [{host: lb.example, port: 8443}]}, {name: b.example, endpoints: [{host: LB.example, port: 8443}]}]\n', 'domains[1].endpoints[0]', /endpoint lb\.example:8443 is already listed at domains\[0\]\.endpoints\[0\]/],
    ['explicit endpoint equal to a default one', 'domains: [{name: a.example}, {name: b.example, endpoints: [{host: a.example}]}]\n', 'domains[1].endpoints[0]', /endpoint a\.example:443 is already listed at domains\[0\]\.endpoints \(the default endpoint\)/],
    ['same endpoint twice in one domain', 'domains: [{name: a.example, endpoints: [{port: 443}, {host: a.example, port: 443}]}]\n', 'domains[0].endpoints[1]', /already listed at domains\[0\]\.endpoints\[0\]/],
    ['same IPv6 address spelled twice', 'domains: [{name: a.example, endpoints: [{address: "::1"}, {address: "0:0:0:0:0:0:0:1"}]}]\n', 'domains[0].endpoints[1]', /endpoint a\.example:443@\[::1\] is already listed/],
  ];
  for (const [what, text, keyPath, message] of table) it(what, () => void assertConfigError(text, keyPath, message));

  it('allows the same host on another port or address', () => {
    const d = load('domains: [{name: a.example, endpoints: [{port: 443}, {port: 8443}, {port: 443, address: 192.0.2.1}]}]\n').domains[0];
    assert.equal(d?.endpoints.length, 3);
  });
});

describe('loadConfig: trust.caFile', () => {
  it('resolves an existing caFile against the config folder', () => {
    writeFileSync(join(dir, 'roots.pem'), '-----BEGIN CERTIFICATE-----\n');
    assert.equal(load('trust: {caFile: roots.pem}\n').trust.caFile, join(dir, 'roots.pem'));
  });
  it('refuses a missing caFile, naming key and path', () => {
    assertConfigError('trust: {caFile: nope.pem}\n', 'trust.caFile', new RegExp(`file ${join(dir, 'nope.pem')} not found; expected a PEM file`));
  });
  it('refuses a directory as caFile', () => {
    mkdirSync(join(dir, 'roots.d'), { recursive: true });
    assertConfigError('trust: {caFile: roots.d}\n', 'trust.caFile', /roots\.d is not a regular file/);
  });
  it('refuses an unreadable caFile', () => {
    const file = join(dir, 'secret.pem');
    writeFileSync(file, 'x');
    chmodSync(file, 0o000);
    // The folder must be enterable by the unprivileged user the check runs as.
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'unreadable.yaml'), 'trust: {caFile: secret.pem}\n');
    chmodSync(join(dir, 'unreadable.yaml'), 0o644);
    const r = callAsNobody(new URL('../../../src/config/load.ts', import.meta.url), 'loadConfig', [join(dir, 'unreadable.yaml')]);
    assert.equal(r.ok, false);
    assert.equal(r.name, 'ConfigError');
    assert.match(r.message ?? '', /trust\.caFile/);
    assert.match(r.message ?? '', /is not readable \(permission denied\)/);
  });
});

describe('loadConfig: ${env:…} and ${file:…}', () => {
  const webhook = (url: string): string => `notify: {webhook: {url: "${url}", secret: "\${env:HOOK_SECRET}"}}\n`;

  it('expands environment variables, also inside a longer string', () => {
    const config = load(webhook('https://${env:HOOK_HOST}/hook'), { HOOK_HOST: 'hooks.example.com', HOOK_SECRET: 's3cret' });
    assert.deepEqual(config.notify?.webhook, { url: 'https://hooks.example.com/hook', secret: 's3cret', format: 'json', timeoutMs: 10_000 });
  });

  it('reads files relative to the config folder and trims the trailing newline', () => {
    writeFileSync(join(dir, 'smtp-pass'), 'p@ss word\n');
    const config = load('notify: {email: {smtp: {host: localhost, user: u, pass: "${file:smtp-pass}"}, from: a@example.com, to: [b@example.com]}}\n');
    assert.equal(config.notify?.email?.smtp.pass, 'p@ss word');
  });

  it('keeps $${ as a literal ${', () => {
    const config = load('acme: {challenge: {type: dns-01, hook: [/bin/hook, "$${env:X}"]}}\n');
    assert.deepEqual(config.acme?.challenge?.hook, ['/bin/hook', '${env:X}']);
  });

  const errors: Array<[string, string, NodeJS.ProcessEnv, string, RegExp]> = [
    ['a missing variable', webhook('https://x.example/'), {}, 'notify.webhook.secret', /"\$\{env:HOOK_SECRET\}": environment variable HOOK_SECRET is not set/],
    ['an empty variable', webhook('https://x.example/'), { HOOK_SECRET: '' }, 'notify.webhook.secret', /HOOK_SECRET is set but empty/],
    ['a missing file', 'acme: {eab: {kid: k, hmacKey: "${file:nope.key}"}}\n', {}, 'acme.eab.hmacKey', /"\$\{file:nope\.key\}": file .*nope\.key not found/],
    ['an unknown scheme', 'acme: {email: "${vault:x}"}\n', {}, 'acme.email', /unknown expansion "\$\{vault:x\}"; expected \$\{env:NAME\} or \$\{file:PATH\}/],
    ['an unterminated expression', 'acme: {email: "${env:X"}\n', {}, 'acme.email', /unterminated "\$\{"/],
    ['a bad variable name', 'acme: {email: "${env:A-B}"}\n', {}, 'acme.email', /invalid environment variable name/],
  ];
  for (const [what, text, env, keyPath, message] of errors) it(`fails on ${what}`, () => void assertConfigError(text, keyPath, message, env));

  it('never shows an expanded value in a message', () => {
    const err = assertConfigError(webhook('${env:HOOK_URL}'), 'notify.webhook.url', /got "\$\{env:HOOK_URL\}" \(expanded value not shown\)/, {
      HOOK_URL: 'not a url TOPSECRET',
      HOOK_SECRET: 'x',
    });
    assert.doesNotMatch(err.message, /TOPSECRET/);
  });

  it('never shows an expanded value that fails name validation', () => {
    const err = assertConfigError('domains: [{name: "${env:NAME}"}]\n', 'domains[0].name', /spaces are not allowed/, { NAME: 'TOP SECRET.example' });
    assert.doesNotMatch(err.message, /TOP SECRET/);
  });

  it('does not expand what an expansion produced', () => {
    const config = load(webhook('https://x.example/'), { HOOK_SECRET: '${file:/etc/passwd}' });
    assert.equal(config.notify?.webhook?.secret, '${file:/etc/passwd}');
  });
});

describe('shipped configs', () => {
  it('config/certs.example.yaml loads cleanly', () => {
    const config = loadConfig(join(repoRoot, 'config/certs.example.yaml'), { env: { EAB_HMAC: 'h', SMTP_PASS: 'p', WEBHOOK_SECRET: 'w' } });
    assert.ok(config.acme && config.nginx && config.daemon && config.notify, 'every section present');
    assert.ok(config.domains.length >= 3);
    assert.ok(config.domains.some((d) => !d.managed));
    assert.ok(config.domains.some((d) => d.name.startsWith('*.') && d.challenge?.type === 'dns-01'));
  });
  it('the `certs init` starter loads cleanly', () => {
    assert.deepEqual(load(STARTER_CONFIG).domains, []);
  });
});
