// `certs import nginx` against the real nginx: a configuration tree with a glob include of
// conf.d/*.conf, server blocks on 127.0.0.1 and [::1], a default_server named `_`, two blocks
// sharing one certificate file, ssl directives pulled in from an include, a regex-only block, a
// certificate chosen by $ssl_server_name, and a server without ssl. The import reads the real
// `nginx -T`, merges into a config that already lists one endpoint (its comments must survive),
// then `certs scan` must find every imported endpoint and file ok. A second import leaves the
// file byte-identical; --dry-run prints a diff and writes nothing. `import hosts` reads both list
// formats and names each bad line.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importHostsCommand, importNginxCommand } from '../../src/cli/commands/import.js';
import { scanCommand } from '../../src/cli/commands/scan.js';
import type { Io } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import type { ReportDocument } from '../../src/core/report.js';
import type { ImportReport } from '../../src/service/import.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf, type Issued } from '../helpers/pki.js';

async function cli(run: (io: Io) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) => ({ write: (s: string) => (add(s), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await run({ stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), now: () => new Date() });
  return { code, out, err };
}

const HEAD = (dir: string, dump: string[]): string => `# certs inventory (hand-written; keep this comment)
dataDir: ${join(dir, 'data')}   # state lives here
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
nginx:
  dumpCommand: ${JSON.stringify(dump)}
`;

describe('certs import nginx: a real nginx configuration tree', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-import-nginx-'));
  const configFile = join(dir, 'certs.yaml');
  let ngx: NginxInstance | undefined;
  let root: Issued;
  let initial = '';
  const cert = (name: string): { cert: string; key: string } => ({ cert: join(dir, 'certs', `${name}.pem`), key: join(dir, 'certs', `${name}.key`) });

  before(async () => {
    for (const d of ['certs', 'conf.d', 'snippets']) mkdirSync(join(dir, d));
    root = await createCA({ cn: 'Import Test Root' });
    writeFileSync(join(dir, 'ca.pem'), root.pem);
    const leaves: Record<string, string[]> = { a: ['a.test', 'www.a.test'], shared: ['b.test', 'c.test'], e: ['e.test'], api: ['api1.test'] };
    for (const [file, dns] of Object.entries(leaves)) {
      const leaf = await createLeaf({ dns, issuer: root });
      writeFileSync(cert(file).cert, leaf.pem);
      writeFileSync(cert(file).key, leaf.keyPem, { mode: 0o600 });
    }
    const def = await createLeaf({ dns: ['default.test'], issuer: root });
    ngx = await startNginx({
      // The helper's own block: the default_server, named `_` (nothing to import).
      sites: [{ serverNames: ['_'], certPem: def.pem, keyPem: def.keyPem, listen: 'both', default: true }],
      extraHttp: `  include ${dir}/conf.d/*.conf;\n  server { listen 127.0.0.1:@HTTP_PORT@; server_name plain.test; return 204; }\n`,
    });
    const { port, port6 } = ngx;
    const ssl = (name: string): string => `  ssl_certificate ${cert(name).cert};\n  ssl_certificate_key ${cert(name).key};\n`;
    writeFileSync(join(dir, 'conf.d', 'a.conf'), `server {\n  listen 127.0.0.1:${port} ssl;\n  listen [::1]:${port6} ssl;\n  server_name a.test www.a.test;\n${ssl('a')}}\n`);
    // Two blocks, one certificate file: one domain, each block's endpoints dialled with its own name.
    writeFileSync(join(dir, 'conf.d', 'b.conf'), `server {\n  listen 127.0.0.1:${port} ssl;\n  server_name b.test;\n${ssl('shared')}}\nserver {\n  listen [::1]:${port6} ssl;\n  server_name c.test;\n${ssl('shared')}}\n`);
    // ssl directives from an include.
    writeFileSync(join(dir, 'snippets', 'e-ssl.conf'), ssl('e'));
    writeFileSync(join(dir, 'conf.d', 'e.conf'), `server {\n  listen 127.0.0.1:${port} ssl;\n  server_name e.test;\n  include ${dir}/snippets/e-ssl.conf;\n}\n`);
    // Nothing importable: a regex name, a certificate chosen at run time.
    writeFileSync(join(dir, 'conf.d', 'skip.conf'), `server {\n  listen 127.0.0.1:${port} ssl;\n  server_name ~^api\\d+\\.test$;\n${ssl('api')}}\nserver {\n  listen 127.0.0.1:${port} ssl;\n  server_name dyn.test;\n  ssl_certificate ${dir}/certs/$ssl_server_name.pem;\n  ssl_certificate_key ${dir}/certs/$ssl_server_name.key;\n}\n`);
    await ngx.reload();
    initial = `${HEAD(dir, [NGINX_BIN, ...ngx.nginxArgs, '-T'])}domains:
  # a.test was added by hand, on IPv4 only
  - name: a.test
    managed: false
    endpoints: [{ host: a.test, port: ${port}, address: 127.0.0.1 }]   # the v4 listener
# end of the inventory
`;
    writeFileSync(configFile, initial);
  });

  after(async () => {
    await ngx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run prints a diff and writes nothing', async () => {
    const r = await cli((io) => importNginxCommand({ config: configFile, dryRun: true }, io));
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(readFileSync(configFile, 'utf8'), initial);
    assert.match(r.out, /^--- .*certs\.yaml\n\+\+\+ /m);
    assert.match(r.out, /^\+ {2}- name: b\.test$/m);
    assert.match(r.out, /Dry run: .* would change/);
  });

  it('imports one domain per certificate file, merges into the existing entry and keeps its comments', async () => {
    const r = await cli((io) => importNginxCommand({ config: configFile, json: true }, io));
    assert.equal(r.code, 0, r.out + r.err);
    const report = JSON.parse(r.out) as ImportReport;
    assert.equal(report.written, true);
    const actions = Object.fromEntries(report.outcomes.map((o) => [o.name, o.action]));
    assert.deepEqual(actions, { 'a.test': 'extended', 'b.test': 'added', 'e.test': 'added' });
    // The default_server `_`, the regex block and the $ssl_server_name certificate are reported, not imported.
    const reasons = report.skipped.map((s) => s.reason).join('\n');
    assert.match(reasons, /no server_name certs can scan \("_"\)/);
    assert.match(reasons, /no server_name certs can scan \("~\^api/);
    assert.match(reasons, /\$ssl_server_name\.pem.*chosen at run time/);
    assert.ok(!report.outcomes.some((o) => o.name === 'plain.test'), 'a server without ssl is not imported');

    const text = readFileSync(configFile, 'utf8');
    for (const comment of ['# certs inventory (hand-written; keep this comment)', '# state lives here', '# a.test was added by hand, on IPv4 only', '# the v4 listener', '# end of the inventory']) {
      assert.ok(text.includes(comment), `comment kept: ${comment}\n${text}`);
    }
    const config = loadConfig(configFile);
    const byName = new Map(config.domains.map((d) => [d.name, d]));
    assert.deepEqual([...byName.keys()], ['a.test', 'b.test', 'e.test']);
    const port = ngx!.port;
    const port6 = ngx!.port6!;
    const a = byName.get('a.test')!;
    assert.deepEqual(a.altNames, ['www.a.test']);
    assert.deepEqual(a.endpoints, [{ host: 'a.test', port, address: '127.0.0.1' }, { host: 'a.test', port: port6, address: '::1' }]);
    assert.deepEqual(a.files, cert('a'), 'an existing entry without files gets the certificate files');
    assert.equal(a.managed, false, 'and keeps what it had');
    const b = byName.get('b.test')!;
    assert.equal(b.managed, false);
    assert.deepEqual(b.altNames, ['c.test']);
    assert.deepEqual(b.endpoints, [{ host: 'b.test', port, address: '127.0.0.1' }, { host: 'c.test', port: port6, address: '::1' }]);
    assert.deepEqual(b.files, cert('shared'));
    assert.deepEqual(byName.get('e.test')!.files, cert('e'));
  });

  it('certs scan over the imported config sees every endpoint and file ok', async () => {
    const r = await cli((io) => scanCommand([], { config: configFile, json: true }, io));
    const doc = JSON.parse(r.out) as ReportDocument;
    const rows = doc.endpoints.map((e) => `${e.domain} ${e.source} ${e.host}:${e.port}${e.address ? `@${e.address}` : ''} ${e.status} ${e.problems.map((p) => p.code).join(',')}`);
    assert.equal(r.code, 0, rows.join('\n') + r.err);
    assert.equal(doc.endpoints.filter((e) => e.source === 'tls').length, 5, rows.join('\n'));
    assert.equal(doc.endpoints.filter((e) => e.source === 'file').length, 3, rows.join('\n'));
    assert.ok(doc.endpoints.every((e) => e.status === 'ok'), rows.join('\n'));
  });

  it('a second import changes nothing and says so', async () => {
    const before = readFileSync(configFile);
    const r = await cli((io) => importNginxCommand({ config: configFile }, io));
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /Nothing to change: .* already has everything found \(0 added, 0 extended, 3 unchanged/);
    assert.ok(readFileSync(configFile).equals(before), 'byte-identical');
  });

  it('--managed adds ACME-managed domains (no managed: false)', async () => {
    const other = join(dir, 'managed.yaml');
    writeFileSync(other, `${HEAD(dir, [NGINX_BIN, ...ngx!.nginxArgs, '-T'])}domains: []\n`);
    const r = await cli((io) => importNginxCommand({ config: other, managed: true }, io));
    assert.equal(r.code, 0, r.out + r.err);
    const config = loadConfig(other);
    assert.deepEqual(config.domains.map((d) => [d.name, d.managed]), [['a.test', true], ['b.test', true], ['e.test', true]]);
    assert.ok(!readFileSync(other, 'utf8').includes('managed: false'));
  });
});

describe('certs import hosts', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-import-hosts-'));
  const configFile = join(dir, 'certs.yaml');
  const list = join(dir, 'ssl-cert-check.txt');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads host[:port] and "host port" lines, names each bad line, imports the rest once', async () => {
    writeFileSync(configFile, `dataDir: ${join(dir, 'data')}\ndomains:\n  # by hand\n  - name: www.example.com\n`);
    const leaf = await createLeaf({ dns: ['files.example.com', 'www.files.example.com'] });
    writeFileSync(join(dir, 'cert.pem'), leaf.pem);
    writeFileSync(list, [
      '# ssl-cert-check -f list',
      'www.example.com 443',
      'mail.example.com 993   # IMAPS',
      '',
      'mail.example.com:465',
      'api.example.com',
      '[2001:db8::1]:8443',
      'bad host name here',
      'x.example.com:0',
      'under_score.example.com',
      'mail.example.com 993',
      `${join(dir, 'cert.pem')} FILE`,
      'relative.pem FILE',
    ].join('\n'));
    const r = await cli((io) => importHostsCommand(list, { config: configFile, json: true }, io));
    assert.equal(r.code, 1, 'bad lines make it exit 1');
    const report = JSON.parse(r.out) as ImportReport;
    assert.deepEqual(report.badLines.map((b) => b.line), [8, 9, 10, 13]);
    assert.match(report.badLines[3]!.reason, /absolute path/);
    assert.match(report.badLines[0]!.reason, /4 words/);
    assert.match(report.badLines[1]!.reason, /port "0"/);
    assert.match(report.badLines[2]!.reason, /underscores/);
    const config = loadConfig(configFile);
    assert.deepEqual(
      config.domains.map((d) => [d.name, d.managed, d.endpoints.map((e) => `${e.host}:${e.port}`)]),
      [
        ['www.example.com', true, ['www.example.com:443']],
        ['mail.example.com', false, ['mail.example.com:993', 'mail.example.com:465']],
        ['api.example.com', false, ['api.example.com:443']],
        ['2001:db8::1', false, ['2001:db8::1:8443']],
        ['files.example.com', false, []],
      ],
    );
    const files = config.domains.find((d) => d.name === 'files.example.com')!;
    assert.deepEqual(files.altNames, ['www.files.example.com']);
    assert.deepEqual(files.files, { cert: join(dir, 'cert.pem') });
    assert.ok(readFileSync(configFile, 'utf8').includes('# by hand'));
    const again = readFileSync(configFile);
    const r2 = await cli((io) => importHostsCommand(list, { config: configFile }, io));
    assert.equal(r2.code, 1);
    assert.match(r2.out, /Nothing to change/);
    assert.ok(readFileSync(configFile).equals(again), 'byte-identical');
  });

  it('--dry-run writes nothing (a secret unset here is no obstacle); a missing list is an io error', async () => {
    const text = `dataDir: ${join(dir, 'data')}\nnotify: { webhook: { url: "https://hooks.example/certs", secret: "\${env:CERTS_IMPORT_TEST_UNSET}" } }\ndomains: []\n`;
    writeFileSync(configFile, text);
    writeFileSync(list, 'a.example.com\n');
    const r = await cli((io) => importHostsCommand(list, { config: configFile, dryRun: true }, io));
    assert.equal(r.code, 0);
    assert.match(r.out, /^\+ {2}- name: a\.example\.com$/m);
    assert.equal(readFileSync(configFile, 'utf8'), text);
    const real = await cli((io) => importHostsCommand(list, { config: configFile }, io));
    assert.equal(real.code, 0, real.out + real.err);
    assert.ok(readFileSync(configFile, 'utf8').includes('secret: "${env:CERTS_IMPORT_TEST_UNSET}"'), 'the reference is written back as it was');
    await assert.rejects(cli((io) => importHostsCommand(join(dir, 'nope.txt'), { config: configFile }, io)), /cannot read the hosts list/);
  });
});
