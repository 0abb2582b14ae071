// `certs nginx check` against the real nginx binary: a configuration under a temp prefix with
// one block including its snippet directly, one through a glob, one without ssl, one without the
// include (in a file of its own) and a domain with no block at all; `nginx -T` through
// runNginxDump, then the verdicts. Also: a missing binary, a broken configuration (nginx's own
// message verbatim), a timeout and the output limit. nginx -T only parses: nothing listens.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeployError } from '../../src/core/errors.js';
import { checkSnippetIncludes, runNginxDump, type SnippetCheck, type SnippetDomain } from '../../src/deploy/nginx-check.js';
import { NGINX_BIN } from '../helpers/nginx.js';
import { createLeaf } from '../helpers/pki.js';

const codes = (r: SnippetCheck | undefined): string[] => (r?.problems ?? []).map((p) => `${p.code}${p.name ? `:${p.name}` : ''}`);

function nginxStderr(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NGINX_BIN, args, (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }));
  });
}

async function writeCert(prefix: string, name: string): Promise<{ cert: string; key: string }> {
  const leaf = await createLeaf({ dns: [name] });
  const cert = join(prefix, 'certs', `${name}.pem`);
  const key = join(prefix, 'certs', `${name}.key`);
  await writeFile(cert, leaf.pem);
  await writeFile(key, leaf.keyPem, { mode: 0o600 });
  return { cert, key };
}

/** The common head of nginx.conf: everything nginx would otherwise put under /var. */
function head(prefix: string): string {
  const t = join(prefix, 'tmp');
  return [
    `pid ${join(prefix, 'nginx.pid')};`,
    `lock_file ${join(prefix, 'nginx.lock')};`,
    `error_log ${join(prefix, 'error.log')};`,
    'events { worker_connections 64; }',
  ].join('\n') + `\nhttp {\n  access_log off;\n  client_body_temp_path ${t}/body;\n  proxy_temp_path ${t}/proxy;\n  fastcgi_temp_path ${t}/fastcgi;\n  uwsgi_temp_path ${t}/uwsgi;\n  scgi_temp_path ${t}/scgi;\n`;
}

describe('nginx check against the real nginx', () => {
  let prefix = '';
  let conf = '';
  let args: string[] = [];
  let confText = '';
  /** 1-based line of the first line of nginx.conf containing `needle`. */
  const lineOf = (needle: string): number => confText.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const domains: SnippetDomain[] = [];

  before(async () => {
    prefix = await mkdtemp(join(os.tmpdir(), 'certs-nginx-check-'));
    conf = join(prefix, 'nginx.conf');
    args = ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')];
    for (const d of ['certs', 'tmp', 'sites', 'snippets', 'snippets/b']) await mkdir(join(prefix, d));
    const snippet = async (path: string, name: string): Promise<void> => {
      const { cert, key } = await writeCert(prefix, name);
      await writeFile(join(prefix, path), `# certs snippet for ${name}\nssl_certificate ${cert};\nssl_certificate_key ${key};\n`);
    };
    await snippet('snippets/a.test.conf', 'a.test');
    await snippet('snippets/b/b.test.conf', 'b.test');
    await snippet('snippets/c.test.conf', 'c.test');
    const d = await writeCert(prefix, 'd.test');
    await writeFile(
      join(prefix, 'sites', 'd.conf'),
      `# d.test still uses its old certificate files\nserver {\n  listen 127.0.0.1:8443 ssl;\n  server_name d.test;\n  ssl_certificate ${d.cert};\n  ssl_certificate_key ${d.key};\n}\n`,
    );
    confText =
      head(prefix) +
        [
          '  include sites/*.conf;',
          '  server {  # a.test: the snippet directly; a comment with a brace {',
          '    listen 127.0.0.1:8443 ssl default_server;',
          '    server_name a.test "www.a.test";',
          '    include snippets/a.test.conf;',
          '    location / { return 200 "a;{}\\n"; }',
          '  }',
          '  server {',
          '    listen 127.0.0.1:8443 ssl;',
          '    server_name b.test;',
          '    include snippets/b/*.conf;',
          '  }',
          '  server {',
          '    listen 127.0.0.1:8080;',
          '    server_name c.test;',
          `    include ${prefix}/snippets/c.test.conf;`,
          '  }',
          '}',
          '',
        ].join('\n');
    await writeFile(conf, confText);
    domains.push(
      { name: 'a.test', names: ['a.test', 'www.a.test'], snippet: join(prefix, 'snippets/a.test.conf') },
      { name: 'b.test', names: ['b.test'], snippet: join(prefix, 'snippets/b/b.test.conf') },
      { name: 'c.test', names: ['c.test'], snippet: join(prefix, 'snippets/c.test.conf') },
      { name: 'd.test', names: ['d.test'], snippet: join(prefix, 'snippets/d.test.conf') },
      { name: 'e.test', names: ['e.test', 'www.e.test'], snippet: join(prefix, 'snippets/e.test.conf') },
    );
  });

  after(async () => {
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it('reads nginx -T and tells, per domain, whether its snippet is included where nginx uses it', async () => {
    const cLine = lineOf('server_name c.test') - 2;
    const dump = await runNginxDump([NGINX_BIN, '-T', ...args], { timeoutMs: 10_000 });
    assert.ok(dump.startsWith(`# configuration file ${conf}:\n`), dump.slice(0, 200));
    const report = checkSnippetIncludes({ dump, domains });
    assert.deepEqual(report.warnings, []);
    assert.equal(report.serverBlocks, 4);
    // nginx.conf, sites/d.conf, and the three snippets (each printed once).
    assert.equal(report.files, 5);
    const [a, b, c, d, e] = report.domains;

    assert.deepEqual([a?.included, codes(a)], [true, []]);
    assert.deepEqual(a?.servers, [{ file: conf, line: lineOf('# a.test'), listens: ['127.0.0.1:8443 ssl default_server'], serverNames: ['a.test', 'www.a.test'], tls: true, includes: 1, serves: ['a.test', 'www.a.test'] }]);

    assert.deepEqual([b?.included, codes(b)], [true, []]);
    assert.deepEqual(b?.servers.map((s) => [s.file, s.line, s.includes]), [[conf, lineOf('server_name b.test') - 2, 1]]);

    assert.deepEqual([c?.included, codes(c)], [false, ['no-tls-server:c.test', 'included-without-tls']]);
    assert.equal(c?.problem, [
      `"c.test": no server block listening with ssl has a server_name for it (the server block at ${conf}:${cLine} serves it without TLS)`,
      `${prefix}/snippets/c.test.conf is included in the server block at ${conf}:${cLine}, which does not listen with ssl (listen 127.0.0.1:8080)`,
    ].join('\n'));

    assert.deepEqual([d?.included, codes(d)], [false, ['not-included:d.test']]);
    const dConf = join(prefix, 'sites', 'd.conf');
    assert.equal(d?.fix, `add "include ${prefix}/snippets/d.test.conf;" inside the server block at ${dConf}:2, and remove its own ssl_certificate/ssl_certificate_key lines (${dConf}:5, ${dConf}:6)`);

    assert.deepEqual([e?.included, codes(e)], [false, ['no-tls-server:e.test', 'no-tls-server:www.e.test']]);
    assert.equal(e?.fix, `add a server block: server { listen 443 ssl; server_name e.test www.e.test; include ${prefix}/snippets/e.test.conf; … }`);
  });

  it('a missing binary: "nginx not found: <argv0>"', async () => {
    for (const bin of [join(prefix, 'no-such-nginx'), 'certs-test-no-such-nginx']) {
      await assert.rejects(runNginxDump([bin, '-T'], { timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof DeployError);
        assert.equal(err.code, 'nginx-not-found');
        assert.equal(err.message, `nginx not found: ${bin}`);
        return true;
      });
    }
    await assert.rejects(runNginxDump([], { timeoutMs: 5000 }), /dumpCommand is empty/);
  });

  it('a broken configuration: nginx\'s own message, verbatim', async () => {
    const broken = join(prefix, 'broken.conf');
    await writeFile(broken, `${head(prefix)}  server {\n    listen 127.0.0.1:8443 ssl;\n    server_name x.test\n  }\n}\n`);
    const bargs = ['-p', prefix, '-c', broken, '-e', join(prefix, 'error.log')];
    const direct = await nginxStderr(['-T', ...bargs]);
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /\[emerg\]/);
    await assert.rejects(runNginxDump([NGINX_BIN, '-T', ...bargs], { timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof DeployError);
      assert.equal(err.code, 'nginx-dump');
      assert.equal(err.message, direct.stderr.replace(/\n+$/, ''));
      assert.match(err.message, new RegExp(`unexpected "}" in ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`));
      assert.equal(err.hint, `${NGINX_BIN} -T ${bargs.join(' ')} exited with code ${direct.code}`);
      return true;
    });
  });

  it('a command that does not finish in time is killed; output over the limit is refused', async () => {
    const started = Date.now();
    await assert.rejects(runNginxDump([process.execPath, '-e', 'setTimeout(() => {}, 30000)'], { timeoutMs: 300 }), /did not finish within 300 ms/);
    assert.ok(Date.now() - started < 10_000);
    await assert.rejects(runNginxDump([NGINX_BIN, '-T', ...args], { timeoutMs: 10_000, maxBytes: 100 }), /printed more than 100 bytes/);
    const ac = new AbortController();
    const p = runNginxDump([process.execPath, '-e', 'setTimeout(() => {}, 30000)'], { timeoutMs: 30_000, signal: ac.signal });
    ac.abort(new Error('stopped by test'));
    await assert.rejects(p, /stopped by test/);
  });
});
