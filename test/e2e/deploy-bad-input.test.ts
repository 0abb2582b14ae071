/**
 * Bad input to the deploy commands, through the built CLI (npm run build first): each is a clear
 * error naming the domain and the path, and nothing is written — compared file by file (bytes)
 * before and after.
 *
 * - a snippetDir the running user cannot write (the CLI runs as nobody: root writes anywhere);
 * - two domains whose snippets would be the same file (the IP name 2001:db8::1 → 2001-db8--1);
 * - a template with an unknown variable, a name with metacharacters, nginx: true without files:
 *   config errors (exit 2) before anything runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createCA, createLeaf, type Issued } from '../helpers/pki.js';
import { CLI_PATH, describeRun, runCli, type CliResult } from '../helpers/cli.js';
import { switchCurrent, writeArchiveVersion } from '../../src/store/archive.js';

const NOBODY = 65534;
const NGINX = '/usr/sbin/nginx';
/** SQLite files `certs nginx write` creates when it opens the store, before any deploy step. */
const DB_FILES = /(^|\/)certs\.db(-wal|-shm|-journal)?$/;

/** Every file and symlink under `dir` with a hash of its bytes (or the link target). */
function snapshot(dir: string, skip?: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (skip?.test(rel)) continue;
      if (e.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(p);
      } else if (e.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`;
      else out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** The built CLI as uid/gid 65534 (no supplementary groups: libuv drops them with setuid). */
function runCliAsNobody(args: string[], home: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const asRoot = process.getuid?.() === 0;
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, CERTS_NO_CACHE: '1' },
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

describe('deploy refuses bad input before writing anything', () => {
  let dir: string;
  let ca: Issued;
  let cert: string;
  let key: string;
  const nginxYaml = (snippetDir: string, extra = ''): string => `nginx:
  snippetDir: ${snippetDir}
  testCommand: [${NGINX}, -t]
  reloadCommand: [${NGINX}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
${extra}`;
  const writeYaml = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o644 });
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-bad-input-'));
    chmodSync(dir, 0o755); // nobody must reach the config and the certificate files
    ca = await createCA({ cn: 'bad input CA' });
    const leaf = await createLeaf({ dns: ['x.test'], issuer: ca });
    mkdirSync(join(dir, 'files'));
    cert = join(dir, 'files', 'x.pem');
    key = join(dir, 'files', 'x.key');
    writeFileSync(cert, leaf.pem, { mode: 0o644 });
    writeFileSync(key, leaf.keyPem, { mode: 0o600 });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a snippetDir the user cannot write: names the domain, the directory and the uid; nothing written', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to run the CLI as nobody');
      return;
    }
    const base = join(dir, 'unwritable');
    const snippets = join(base, 'snippets');
    const data = join(base, 'data');
    mkdirSync(snippets, { recursive: true });
    mkdirSync(data);
    chmodSync(base, 0o755);
    chmodSync(snippets, 0o755); // root's, not writable by nobody
    chownSync(data, NOBODY, NOBODY); // the store is nobody's, as a service user's would be
    writeFileSync(join(snippets, 'x.test.conf'), '# the snippet nginx runs now\n', { mode: 0o644 });
    const file = writeYaml('unwritable.yaml', `dataDir: ${data}
${nginxYaml(snippets)}
domains:
  - { name: x.test, managed: false, nginx: true, files: { cert: ${cert}, key: ${key} }, endpoints: [] }
`);
    const before = snapshot(base, DB_FILES);
    for (const args of [['nginx', 'write', '--config', file], ['nginx', 'write', 'x.test', '--dry-run', '--config', file]]) {
      const r = await runCliAsNobody(args, base);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, new RegExp(`domain "x\\.test": snippet directory ${snippets} is not writable by uid ${NOBODY}; nothing was written`), describeRun(r));
      assert.doesNotMatch(r.stderr, /unexpected error/);
      assert.deepEqual(snapshot(base, DB_FILES), before, `${args.join(' ')} wrote nothing`);
    }
  });

  it('two domains on one snippet file (2001:db8::1 and 2001-db8--1): refused naming both and the path, whichever is deployed', async () => {
    const base = join(dir, 'collide');
    const snippets = join(base, 'snippets');
    const data = join(base, 'data');
    mkdirSync(snippets, { recursive: true });
    // The IP lineage has a certificate (staged in the archive as renew would leave it).
    const ipLeaf = await createLeaf({ dns: [], ips: ['2001:db8::1'], issuer: ca });
    const { version } = writeArchiveVersion(data, '2001:db8::1', { cert: ipLeaf.pem, chain: ca.pem, fullchain: ipLeaf.pem + ca.pem, privkey: ipLeaf.keyPem });
    switchCurrent(data, '2001:db8::1', version);
    assert.ok(existsSync(join(data, 'certs', '2001-db8--1', 'current', 'fullchain.pem')));
    const existing = '# the snippet nginx runs now\n';
    writeFileSync(join(snippets, '2001-db8--1.conf'), existing);
    const file = writeYaml('collide.yaml', `dataDir: ${data}
acme: { directory: https://127.0.0.1:14000/dir, email: ops@example.com, agreeToTerms: true, challenge: { type: http-01, webroot: ${join(base, 'www')} } }
${nginxYaml(snippets)}
domains:
  - { name: "2001:db8::1", profile: shortlived, endpoints: [] }
  - { name: 2001-db8--1, managed: false, nginx: true, files: { cert: ${cert}, key: ${key} }, endpoints: [] }
`);
    const path = join(snippets, '2001-db8--1.conf');
    const before = snapshot(base, DB_FILES);
    // All domains, each one on its own (as renew deploys only what it issued), and a dry run.
    const runs = [
      ['nginx', 'write'],
      ['nginx', 'write', '2001:db8::1'],
      ['nginx', 'write', '2001-db8--1'],
      ['nginx', 'write', '--dry-run'],
    ];
    for (const args of runs) {
      const r = await runCli([...args, '--config', file]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${describeRun(r)}`);
      assert.match(r.stderr, /domains ("2001:db8::1" and "2001-db8--1"|"2001-db8--1" and "2001:db8::1") would both write /, `${args.join(' ')}: ${describeRun(r)}`);
      assert.ok(r.stderr.includes(`would both write ${path}; nothing was written`), `${args.join(' ')}: ${describeRun(r)}`);
      assert.deepEqual(snapshot(base, DB_FILES), before, `${args.join(' ')} wrote nothing`);
    }
    assert.equal(readFileSync(path, 'utf8'), existing);
  });

  describe('config errors (exit 2) before anything is read or written', () => {
    const cases: Array<{ name: string; yaml: (b: string) => string; args?: string[]; re: RegExp[] }> = [
      {
        name: 'a template with an unknown variable: names nginx.templateDir, the template file and the line',
        yaml: (b) => {
          mkdirSync(join(b, 'templates'), { recursive: true });
          writeFileSync(join(b, 'templates', 'ssl.conf'), 'ssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\nadd_header X-Served-By {{hostname}};\n');
          return `dataDir: ${join(b, 'data')}
${nginxYaml(join(b, 'snippets'), `  templateDir: ${join(b, 'templates')}`)}
domains:
  - { name: x.test, managed: false, nginx: true, files: { cert: ${cert}, key: ${key} }, endpoints: [] }
`;
        },
        re: [/nginx\.templateDir: template .*\/templates\/ssl\.conf:3: unknown variable "hostname"/],
      },
      {
        name: 'a domain name with metacharacters: refused at load, naming the key and the character',
        yaml: (b) => `dataDir: ${join(b, 'data')}
${nginxYaml(join(b, 'snippets'))}
domains:
  - { name: "a.test;x", managed: false, nginx: true, files: { cert: ${cert}, key: ${key} }, endpoints: [] }
`,
        re: [/domains\[0\]\.name: domain "a\.test;x": invalid name: character ";" is not allowed/],
      },
      {
        name: 'nginx: true on a monitor-only domain without files',
        yaml: (b) => `dataDir: ${join(b, 'data')}
${nginxYaml(join(b, 'snippets'))}
domains:
  - { name: m.test, managed: false, nginx: true, endpoints: [{ host: m.test, port: 443, address: 127.0.0.1 }] }
`,
        re: [/domains\[0\]\.nginx: monitor-only domain "m\.test" has no files for an nginx snippet to point at/],
      },
      {
        name: 'certs nginx write for a monitor-only domain without files (and without nginx: true): a usage error',
        yaml: (b) => `dataDir: ${join(b, 'data')}
${nginxYaml(join(b, 'snippets'))}
domains:
  - { name: m.test, managed: false, endpoints: [{ host: m.test, port: 443, address: 127.0.0.1 }] }
`,
        args: ['nginx', 'write', 'm.test'],
        re: [/"m\.test" has no nginx snippet \(set nginx: true on the domain; monitor-only domains need files \{cert, key\}\)/],
      },
    ];
    cases.forEach((c, i) => {
      it(c.name, async () => {
        const base = join(dir, `config-${i}`);
        mkdirSync(join(base, 'snippets'), { recursive: true });
        writeFileSync(join(base, 'snippets', 'x.test.conf'), '# the snippet nginx runs now\n');
        const file = writeYaml(`config-${i}.yaml`, c.yaml(base));
        const before = snapshot(base);
        for (const args of c.args ? [c.args] : [['nginx', 'write'], ['nginx', 'write', '--dry-run'], ['renew']]) {
          const r = await runCli([...args, '--config', file]);
          assert.equal(r.code, 2, `${args.join(' ')}: ${describeRun(r)}`);
          assert.equal(r.stdout, '', 'nothing on stdout');
          assert.ok(r.stderr.startsWith(`certs: ${c.args ? '' : `${file}: `}`), describeRun(r));
          for (const re of c.re) assert.match(r.stderr, re, describeRun(r));
          assert.deepEqual(snapshot(base), before, `${args.join(' ')} wrote nothing (not even the database)`);
          assert.equal(existsSync(join(base, 'data')), false);
        }
      });
    });
  });
});
