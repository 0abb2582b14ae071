// The nginx snippets: values, rendering, template overrides, refusal of unsafe values, and the
// bundled templates against the real nginx binary (nginx -t, a TLS handshake, a token fetch).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { ConfigError, IoError, ValidationError } from '../../../src/core/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config, DomainConfig } from '../../../src/config/types.js';
import { GENERATED_BY, renderAcmeChallenge, renderSnippet, snippetPath, snippetValues } from '../../../src/deploy/snippet.js';
import { BUNDLED_TEMPLATE_DIR, KNOWN_VARIABLES, loadNginxTemplates, type NginxTemplates } from '../../../src/deploy/templates.js';
import { currentPaths } from '../../../src/store/archive.js';
import { NGINX_BIN, startNginx } from '../../helpers/nginx.js';
import { createLeaf } from '../../helpers/pki.js';

const MOZILLA_INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384', 'DHE-RSA-CHACHA20-POLY1305',
].join(':');

let dir: string;
let seq = 0;
let bundled: NginxTemplates;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-snippet-'));
  bundled = loadNginxTemplates();
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fresh(name: string): string {
  const d = join(dir, `${name}-${++seq}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const HSTS_OFF = { enabled: false, maxAgeSeconds: 63_072_000, includeSubDomains: false };

function makeConfig(over: Partial<Config> = {}): Config {
  return {
    file: '/etc/certs/certs.yaml',
    dataDir: '/var/lib/certs',
    trust: { bundled: true, system: true },
    scan: { concurrency: 64, timeoutMs: 5000, connectTimeoutMs: 5000, warningDays: 30, criticalDays: 7, revocation: true },
    fetch: { allowPrivateAddresses: false },
    hooks: { passEnv: [] },
    store: { engine: 'sqlite', retention: { scanDays: 90, keepVersions: 5 } },
    nginx: {
      snippetDir: '/etc/nginx/snippets/certs',
      testCommand: ['nginx', '-t'],
      reloadCommand: ['nginx', '-s', 'reload'],
      dumpCommand: ['nginx', '-T'],
      hsts: { ...HSTS_OFF },
      verify: { timeoutMs: 30_000, intervalMs: 500 },
    },
    acme: {
      issuers: [{ directory: 'letsencrypt' }],
      stickyIssuer: false,
      agreeToTerms: true,
      reuseKey: false,
      concurrency: 4,
      timeoutMs: 30_000,
      preflight: { enabled: true, httpPort: 80, timeoutMs: 10_000 },
      challenge: { type: 'http-01', webroot: '/var/www/acme' },
    },
    domains: [],
    ...over,
  };
}

function domain(name: string, over: Partial<DomainConfig> = {}): DomainConfig {
  return { name, altNames: [], managed: true, endpoints: [], nginx: true, ...over };
}

function withHsts(config: Config, hsts: Partial<NonNullable<Config['nginx']>['hsts']>): Config {
  const nginx = config.nginx as NonNullable<Config['nginx']>;
  return { ...config, nginx: { ...nginx, hsts: { ...nginx.hsts, ...hsts } } };
}

/** Directive lines (comments and blank lines dropped), trimmed. */
function directives(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

function refused(fn: () => unknown, type: new (...args: never[]) => Error, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.match((err as Error).message, message);
    return true;
  });
}

describe('renderSnippet with the bundled ssl.conf', () => {
  it('a managed domain points at <dataDir>/certs/<name>/current and follows the Mozilla intermediate profile', () => {
    const config = makeConfig();
    const d = domain('example.com', { altNames: ['www.example.com'] });
    const out = renderSnippet(config, d, bundled);
    assert.ok(out.startsWith(`# ${GENERATED_BY}\n`), out.slice(0, 120));
    assert.ok(out.endsWith('\n'));
    assert.doesNotMatch(out, /\{\{|\}\}/);
    assert.match(out, /^# TLS for example\.com www\.example\.com\.$/m);
    assert.deepEqual(directives(out), [
      'ssl_certificate /var/lib/certs/certs/example.com/current/fullchain.pem;',
      'ssl_certificate_key /var/lib/certs/certs/example.com/current/privkey.pem;',
      'ssl_session_timeout 1d;',
      'ssl_session_cache shared:certs_tls:10m;  # about 40000 sessions',
      'ssl_session_tickets off;',
      'ssl_protocols TLSv1.2 TLSv1.3;',
      `ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS};`,
      'ssl_prefer_server_ciphers off;',
    ]);
    assert.match(out, /guideline=5\.7/, 'cites the Mozilla guideline version');
    const paths = currentPaths('/var/lib/certs', 'example.com');
    assert.equal(snippetValues(config, d).certificate, paths.fullchain);
    assert.equal(snippetValues(config, d).certificateKey, paths.privkey);
    assert.equal(snippetPath(config.nginx as NonNullable<Config['nginx']>, d), '/etc/nginx/snippets/certs/example.com.conf');
  });

  it('a wildcard uses the _.example.com lineage folder and snippet name', () => {
    const config = makeConfig();
    const d = domain('*.example.com', { altNames: ['example.com'] });
    const out = renderSnippet(config, d, bundled);
    assert.match(out, /^ssl_certificate \/var\/lib\/certs\/certs\/_\.example\.com\/current\/fullchain\.pem;$/m);
    assert.match(out, /^ssl_certificate_key \/var\/lib\/certs\/certs\/_\.example\.com\/current\/privkey\.pem;$/m);
    assert.match(out, /^# TLS for \*\.example\.com example\.com\.$/m);
    assert.equal(snippetPath(config.nginx as NonNullable<Config['nginx']>, d), '/etc/nginx/snippets/certs/_.example.com.conf');
    assert.equal(snippetValues(config, d).names, '*.example.com example.com');
  });

  it('a monitor-only domain with files points at its files', () => {
    const d = domain('legacy.example.com', { managed: false, files: { cert: '/etc/ssl/legacy.pem', key: '/etc/ssl/private/legacy.key' } });
    const out = renderSnippet(makeConfig(), d, bundled);
    assert.match(out, /^ssl_certificate \/etc\/ssl\/legacy\.pem;$/m);
    assert.match(out, /^ssl_certificate_key \/etc\/ssl\/private\/legacy\.key;$/m);
  });

  it('a monitor-only domain without files (or without a key) is refused', () => {
    refused(() => renderSnippet(makeConfig(), domain('a.example.com', { managed: false }), bundled), ValidationError, /monitor-only .* no files\.cert and files\.key/);
    refused(() => renderSnippet(makeConfig(), domain('a.example.com', { managed: false, files: { cert: '/etc/ssl/a.pem' } }), bundled), ValidationError, /monitor-only/);
  });

  it('HSTS is off by default (also without an nginx section) and has no blank-line residue', () => {
    const off = renderSnippet(makeConfig(), domain('example.com'), bundled);
    assert.doesNotMatch(off, /Strict-Transport-Security/);
    assert.doesNotMatch(off, /\n\n\n/);
    const noNginx = makeConfig();
    delete noNginx.nginx;
    assert.doesNotMatch(renderSnippet(noNginx, domain('example.com'), bundled), /Strict-Transport-Security/);
  });

  it('HSTS on: max-age from the config, includeSubDomains only when asked', () => {
    const on = renderSnippet(withHsts(makeConfig(), { enabled: true }), domain('example.com'), bundled);
    assert.ok(directives(on).includes('add_header Strict-Transport-Security "max-age=63072000" always;'), on);
    const sub = renderSnippet(withHsts(makeConfig(), { enabled: true, maxAgeSeconds: 300, includeSubDomains: true }), domain('example.com'), bundled);
    assert.ok(directives(sub).includes('add_header Strict-Transport-Security "max-age=300; includeSubDomains" always;'), sub);
  });

  it('never enables OCSP stapling', () => {
    const out = renderSnippet(withHsts(makeConfig(), { enabled: true }), domain('example.com'), bundled);
    assert.ok(!directives(out).some((l) => l.startsWith('ssl_stapling')));
  });
});

describe('renderAcmeChallenge', () => {
  it('serves acme.challenge.webroot from a ^~ location', () => {
    const out = renderAcmeChallenge(makeConfig(), bundled);
    assert.ok(out.startsWith(`# ${GENERATED_BY}\n`));
    assert.deepEqual(directives(out), [
      'location ^~ /.well-known/acme-challenge/ {',
      'root /var/www/acme;',
      'default_type text/plain;',
      'try_files $uri =404;',
      '}',
    ]);
  });
  it('without a webroot: a ConfigError naming acme.challenge.webroot', () => {
    const noAcme = makeConfig();
    delete noAcme.acme;
    refused(() => renderAcmeChallenge(noAcme, bundled), ConfigError, /^\/etc\/certs\/certs\.yaml: acme\.challenge\.webroot: not set/);
    const dns = makeConfig();
    (dns.acme as NonNullable<Config['acme']>).challenge = { type: 'dns-01', hook: ['/bin/true'] };
    refused(() => renderAcmeChallenge(dns, bundled), ConfigError, /acme\.challenge\.webroot: not set/);
  });
});

describe('snippetPath', () => {
  it('without nginx.snippetDir: a ConfigError naming the key', () => {
    const nginx = { ...(makeConfig().nginx as NonNullable<Config['nginx']>) };
    delete nginx.snippetDir;
    assert.throws(() => snippetPath(nginx, domain('example.com')), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.keyPath, 'nginx.snippetDir');
      assert.match(err.message, /^nginx\.snippetDir: not set/);
      return true;
    });
  });
});

describe('unsafe values are refused before anything is rendered', () => {
  const cases: { name: string; run: () => unknown; message: RegExp }[] = [
    {
      name: 'a domain name with ; and a directive',
      run: () => renderSnippet(makeConfig(), domain('a.com;include /etc/passwd'), bundled),
      message: /^domain "a\.com;include \/etc\/passwd": ";" is not allowed/,
    },
    { name: 'a domain name with $(…)', run: () => snippetValues(makeConfig(), domain('$(reboot).example.com')), message: /"\$" is not allowed/ },
    { name: 'a domain name with a newline', run: () => snippetPath(makeConfig().nginx as NonNullable<Config['nginx']>, domain('a.com\nssl_certificate x')), message: /a newline is not allowed/ },
    { name: 'an altName with a brace', run: () => snippetValues(makeConfig(), domain('example.com', { altNames: ['b.com}'] })), message: /altName of domain "example\.com" "b\.com\}": "\}" is not allowed/ },
    { name: 'a dataDir with a space', run: () => renderSnippet(makeConfig({ dataDir: '/var/lib/my certs' }), domain('example.com'), bundled), message: /certificate path of domain "example\.com" \(under dataDir\) .*: a space is not allowed/ },
    { name: 'a dataDir with ;', run: () => renderSnippet(makeConfig({ dataDir: '/var/lib/certs;x' }), domain('example.com'), bundled), message: /";" is not allowed/ },
    {
      name: 'files.cert with a newline and a directive',
      run: () => renderSnippet(makeConfig(), domain('m.example.com', { managed: false, files: { cert: '/etc/ssl/a.pem;\nroot /', key: '/etc/ssl/a.key' } }), bundled),
      message: /files\.cert of domain "m\.example\.com" .*";" is not allowed/,
    },
    {
      name: 'files.key with a backtick',
      run: () => renderSnippet(makeConfig(), domain('m.example.com', { managed: false, files: { cert: '/etc/ssl/a.pem', key: '/etc/ssl/`id`.key' } }), bundled),
      message: /files\.key of domain "m\.example\.com" .*"`" is not allowed/,
    },
    {
      name: 'a snippetDir with a glob',
      run: () => snippetPath({ ...(makeConfig().nginx as NonNullable<Config['nginx']>), snippetDir: '/etc/nginx/*' }, domain('example.com')),
      message: /nginx\.snippetDir "\/etc\/nginx\/\*": "\*" is not allowed/,
    },
    {
      name: 'a webroot with $',
      run: () => {
        const c = makeConfig();
        (c.acme as NonNullable<Config['acme']>).challenge = { type: 'http-01', webroot: '/var/www/$host' };
        return renderAcmeChallenge(c, bundled);
      },
      message: /acme\.challenge\.webroot "\/var\/www\/\$host": "\$" is not allowed/,
    },
  ];
  for (const c of cases) it(c.name, () => refused(c.run, ValidationError, c.message));

  it('a loaded config with metacharacters in snippetDir, dataDir and files is refused at render', () => {
    const cfgDir = fresh('meta');
    const file = join(cfgDir, 'certs.yaml');
    writeFileSync(file, [
      'dataDir: "./data dir"',
      'nginx: { snippetDir: "/etc/nginx/snip;pets" }',
      'domains:',
      '  - { name: example.com }',
      '  - { name: old.example.com, managed: false, nginx: true, files: { cert: "/etc/ssl/a{b}.pem", key: /etc/ssl/a.key } }',
      '',
    ].join('\n'));
    const config = loadConfig(file, { env: {} });
    const [managed, monitored] = config.domains as [DomainConfig, DomainConfig];
    refused(() => snippetPath(config.nginx as NonNullable<Config['nginx']>, managed), ValidationError, /nginx\.snippetDir "\/etc\/nginx\/snip;pets": ";" is not allowed/);
    refused(() => renderSnippet(config, managed, bundled), ValidationError, /a space is not allowed/);
    refused(() => renderSnippet(config, monitored, bundled), ValidationError, /files\.cert of domain "old\.example\.com" "\/etc\/ssl\/a\{b\}\.pem": "\{" is not allowed/);
  });
});

describe('loadNginxTemplates', () => {
  it('without a templateDir: the bundled files, with their paths as labels', () => {
    assert.equal(bundled.ssl.label, join(BUNDLED_TEMPLATE_DIR, 'ssl.conf'));
    assert.equal(bundled.acmeChallenge.label, join(BUNDLED_TEMPLATE_DIR, 'acme-challenge.conf'));
    assert.ok(existsSync(join(BUNDLED_TEMPLATE_DIR, 'ssl.conf')));
  });

  it('KNOWN_VARIABLES lists what the brief names', () => {
    assert.deepEqual(Object.keys(KNOWN_VARIABLES.ssl).sort(), ['certificate', 'certificateKey', 'generatedBy', 'hsts', 'hstsIncludeSubDomains', 'hstsMaxAge', 'name', 'names']);
    assert.deepEqual(Object.keys(KNOWN_VARIABLES.acmeChallenge).sort(), ['generatedBy', 'webroot']);
  });

  it("a user's folder overrides file by file; the other template stays bundled", () => {
    const own = fresh('override');
    writeFileSync(join(own, 'ssl.conf'), '# {{generatedBy}}\nssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\n{{#hsts}}\nadd_header Strict-Transport-Security "max-age={{hstsMaxAge}}";\n{{/hsts}}\n');
    const templates = loadNginxTemplates(own);
    assert.equal(templates.ssl.label, join(own, 'ssl.conf'));
    assert.equal(templates.acmeChallenge.label, join(BUNDLED_TEMPLATE_DIR, 'acme-challenge.conf'));
    const out = renderSnippet(makeConfig(), domain('example.com'), templates);
    assert.equal(out, `# ${GENERATED_BY}\nssl_certificate /var/lib/certs/certs/example.com/current/fullchain.pem;\nssl_certificate_key /var/lib/certs/certs/example.com/current/privkey.pem;\n`);
    assert.equal(renderAcmeChallenge(makeConfig(), templates), renderAcmeChallenge(makeConfig(), bundled));

    const other = fresh('override-acme');
    writeFileSync(join(other, 'acme-challenge.conf'), 'location /.well-known/acme-challenge/ { root {{webroot}}; }');
    const t2 = loadNginxTemplates(other);
    assert.equal(t2.ssl.label, join(BUNDLED_TEMPLATE_DIR, 'ssl.conf'));
    assert.equal(renderAcmeChallenge(makeConfig(), t2), 'location /.well-known/acme-challenge/ { root /var/www/acme; }\n', 'a newline is added at the end');
  });

  it('an unknown variable: error naming file:line, the variable and the known ones', () => {
    const own = fresh('unknown');
    const file = join(own, 'ssl.conf');
    writeFileSync(file, '# {{generatedBy}}\nssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\nssl_trusted_certificate {{chain}};\n');
    refused(() => loadNginxTemplates(own), ValidationError, new RegExp(`^template ${file.replace(/[.]/g, '\\.')}:4: unknown variable "chain"; this template knows: generatedBy, name, names, certificate, certificateKey, hsts, hstsMaxAge, hstsIncludeSubDomains$`));
  });

  it('a variable of the other template is unknown too', () => {
    const own = fresh('cross');
    writeFileSync(join(own, 'acme-challenge.conf'), 'root {{webroot}};\n# {{name}}\n');
    refused(() => loadNginxTemplates(own), ValidationError, /acme-challenge\.conf:2: unknown variable "name"(?: \(did you mean "[a-zA-Z]+"\?\))?; this template knows: generatedBy, webroot/);
  });

  it('a flag used as a value is refused at load', () => {
    const own = fresh('flag');
    writeFileSync(join(own, 'ssl.conf'), '# hsts: {{hsts}}\n');
    refused(() => loadNginxTemplates(own), ValidationError, /ssl\.conf:1: "hsts" is a flag/);
  });

  it('a syntax error: error naming file:line', () => {
    const own = fresh('syntax');
    writeFileSync(join(own, 'ssl.conf'), '# ok\n{{#hsts}}\nadd_header X y;\n');
    refused(() => loadNginxTemplates(own), ValidationError, /^template .*\/ssl\.conf:2: unclosed section \{\{#hsts\}\}/);
    writeFileSync(join(own, 'ssl.conf'), '# ok\n\nssl_certificate {{certificate;\n');
    refused(() => loadNginxTemplates(own), ValidationError, /^template .*\/ssl\.conf:3: unclosed tag/);
  });

  it('a missing folder, a file instead of a folder, or a folder with neither template is an error', () => {
    refused(() => loadNginxTemplates(join(dir, 'nope')), IoError, /template folder .*nope not found/);
    const file = join(fresh('file'), 'x');
    writeFileSync(file, '');
    refused(() => loadNginxTemplates(file), IoError, /is not a folder/);
    refused(() => loadNginxTemplates(fresh('empty')), IoError, /holds neither ssl\.conf nor acme-challenge\.conf/);
  });
});

// ---------------------------------------------------------------------------------------------
// The bundled templates against the real nginx.

const nginxAvailable = existsSync(NGINX_BIN);
const skip = nginxAvailable ? false : `nginx not found at ${NGINX_BIN}`;

/** A managed domain's current/ files written where the snippet points. */
async function stageManaged(dataDir: string, name: string): Promise<{ fingerprint256: string }> {
  const leaf = await createLeaf({ dns: [name] });
  const paths = currentPaths(dataDir, name);
  mkdirSync(paths.dir, { recursive: true });
  writeFileSync(paths.fullchain, leaf.pem);
  writeFileSync(paths.privkey, leaf.keyPem, { mode: 0o600 });
  return { fingerprint256: leaf.cert.fingerprint256 };
}

function handshake(port: number, servername: string, opts: tls.ConnectionOptions = {}): Promise<{ fingerprint256: string; protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...opts });
    sock.setTimeout(5000, () => sock.destroy(new Error('handshake timed out')));
    sock.once('secureConnect', () => {
      const out = { fingerprint256: new X509Certificate(sock.getPeerCertificate().raw).fingerprint256, protocol: sock.getProtocol(), cipher: sock.getCipher().standardName };
      sock.end();
      resolve(out);
    });
    sock.once('error', reject);
  });
}

function get(mod: typeof http | typeof https, opts: https.RequestOptions): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = mod.get({ host: '127.0.0.1', agent: false, timeout: 5000, ...opts }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('GET timed out')));
    req.on('error', reject);
  });
}

describe('the bundled templates in a real nginx', { skip }, () => {
  it('nginx -t accepts the snippet in two server blocks beside an http-level session cache', async () => {
    const prefix = fresh('nginx-t');
    const dataDir = join(prefix, 'data');
    const config = makeConfig({ dataDir });
    const names = ['a.example.com', '*.example.com'];
    const includes: string[] = [];
    for (const name of names) {
      await stageManaged(dataDir, name);
      const file = snippetPath({ ...(config.nginx as NonNullable<Config['nginx']>), snippetDir: prefix }, domain(name));
      writeFileSync(file, renderSnippet(withHsts(config, { enabled: true, includeSubDomains: true }), domain(name), bundled));
      includes.push(`  server { listen 127.0.0.1:1 ssl; server_name ${name}; include ${file}; location / { return 200; } }`);
    }
    const acme = join(prefix, 'acme-challenge.conf');
    writeFileSync(acme, renderAcmeChallenge(makeConfig({ acme: { ...(config.acme as NonNullable<Config['acme']>), challenge: { type: 'http-01', webroot: join(prefix, 'www') } } }), bundled));
    const t = join(prefix, 'tmp');
    mkdirSync(t);
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, [
      `pid ${join(prefix, 'nginx.pid')};`,
      `error_log ${join(prefix, 'error.log')};`,
      'events {}',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fastcgi; uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;`,
      '  ssl_session_cache shared:SSL:10m;',
      ...includes,
      `  server { listen 127.0.0.1:2; location / { return 301 https://$host$request_uri; } include ${acme}; }`,
      '}',
      '',
    ].join('\n'));
    const { stderr } = await promisify(execFile)(NGINX_BIN, ['-t', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')]);
    assert.match(stderr, /test is successful/);
  });

  it('serves the certificate over TLS 1.2 and 1.3 only, with the profile ciphers and HSTS', async () => {
    const prefix = fresh('nginx-run');
    const dataDir = join(prefix, 'data');
    const name = 'snippet.example.com';
    const { fingerprint256 } = await stageManaged(dataDir, name);
    const config = withHsts(makeConfig({ dataDir }), { enabled: true });
    const snippet = join(prefix, 'snippet.conf');
    writeFileSync(snippet, renderSnippet(config, domain(name), bundled));
    const other = await createLeaf({ dns: ['default.test'] });
    const ngx = await startNginx({
      sites: [{ serverNames: ['default.test'], certPem: other.pem, keyPem: other.keyPem }],
      extraHttp: `server { listen 127.0.0.1:@HTTP_PORT@ ssl; server_name ${name}; include ${snippet}; location / { return 200 "snippet\\n"; } }`,
    });
    try {
      const port = ngx.httpPort as number;
      const v13 = await handshake(port, name);
      assert.equal(v13.fingerprint256, fingerprint256);
      assert.equal(v13.protocol, 'TLSv1.3');
      const v12 = await handshake(port, name, { maxVersion: 'TLSv1.2' });
      assert.equal(v12.protocol, 'TLSv1.2');
      assert.equal(v12.fingerprint256, fingerprint256);
      assert.equal(v12.cipher, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
      // The client offers TLS 1.0/1.1 (it can: SECLEVEL=0); nginx refuses them.
      await assert.rejects(handshake(port, name, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /protocol version/);
      // A TLS 1.2 suite outside the profile (CBC) is refused.
      await assert.rejects(handshake(port, name, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }), /handshake failure/);
      const res = await get(https, { port, path: '/', servername: name, headers: { host: name }, rejectUnauthorized: false });
      assert.equal(res.status, 200);
      assert.equal(res.body, 'snippet\n');
      assert.equal(res.headers['strict-transport-security'], 'max-age=63072000');
    } finally {
      await ngx.stop();
    }
  });

  it('the acme-challenge location serves tokens from the webroot ahead of a redirect', async () => {
    const prefix = fresh('nginx-acme');
    const webroot = join(prefix, 'www');
    mkdirSync(join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
    writeFileSync(join(webroot, '.well-known', 'acme-challenge', 'tok_EN-1'), 'tok_EN-1.thumbprint');
    const config = makeConfig();
    (config.acme as NonNullable<Config['acme']>).challenge = { type: 'http-01', webroot };
    const acme = join(prefix, 'acme-challenge.conf');
    writeFileSync(acme, renderAcmeChallenge(config, bundled));
    const other = await createLeaf({ dns: ['default.test'] });
    const ngx = await startNginx({
      sites: [{ serverNames: ['default.test'], certPem: other.pem, keyPem: other.keyPem }],
      extraHttp: `server { listen 127.0.0.1:@HTTP_PORT@; location ~ /\\. { deny all; } location / { return 301 https://$host$request_uri; } include ${acme}; }`,
    });
    try {
      const port = ngx.httpPort as number;
      const token = await get(http, { port, path: '/.well-known/acme-challenge/tok_EN-1', headers: { host: 'example.com' } });
      assert.equal(token.status, 200);
      assert.equal(token.body, 'tok_EN-1.thumbprint');
      assert.match(String(token.headers['content-type']), /^text\/plain/);
      assert.equal((await get(http, { port, path: '/.well-known/acme-challenge/missing', headers: { host: 'example.com' } })).status, 404);
      const redirect = await get(http, { port, path: '/page', headers: { host: 'example.com' } });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.location, 'https://example.com/page');
    } finally {
      await ngx.stop();
    }
  });
});
