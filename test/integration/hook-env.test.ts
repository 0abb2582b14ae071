// What a program we run sees of our environment, with a real program that dumps it: hooks, the
// dns-01 hook, nginx's test and reload commands get PATH, HOME, LANG, TZ, CERTS_* and
// hooks.passEnv, not the SMTP/webhook/TSIG secrets of the daemon's environment. And a failing
// hook's output tail, kept for diagnosis, carries no credentials.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { programEnv, setHookEnvPolicy } from '../../src/lib/hook-env.js';
import { runProgram } from '../../src/acme/program.js';
import { createHookSolver } from '../../src/acme/solvers/dns-hook.js';
import { configFrom } from '../../src/cli/context.js';
import { applySnippets } from '../../src/deploy/transaction.js';

/** A real program: writes its environment as JSON to argv[1]. */
const DUMP = 'require("node:fs").writeFileSync(process.argv[1], JSON.stringify(process.env))';
const dumper = (out: string): string[] => [process.execPath, '-e', DUMP, out];

const ours: Record<string, string> = {
  SMTP_PASS: 'smtp-secret-value',
  WEBHOOK_SECRET: 'webhook-secret-value',
  CERTS_HTTP_TOKEN: 'http-token-value',
  CERTS_TEST_VISIBLE: 'visible',
  MY_TOOL_PROFILE: 'passed-by-name',
};

let dir: string;
const saved = new Map<string, string | undefined>();
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-hook-env-'));
  for (const [k, v] of Object.entries(ours)) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
});
after(() => {
  setHookEnvPolicy({ passEnv: [], withhold: [] });
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

const dumped = (file: string): Record<string, string> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;

describe('the environment of programs we run', () => {
  it('the config in effect decides: hooks.passEnv passes, ${env:…} sources are withheld, the rest stays out', async () => {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 'file-secret\n', { mode: 0o600 });
    const cfg = join(dir, 'certs.yaml');
    writeFileSync(cfg, [
      'hooks: { passEnv: [MY_TOOL_PROFILE] }',
      'notify:',
      '  webhook: { url: "https://hooks.example/x", secret: "${env:CERTS_HTTP_TOKEN}" }',
      'domains: []',
      '',
    ].join('\n'));
    configFrom({ config: cfg });
    const out = join(dir, 'hook.json');
    await runProgram(dumper(out), { env: { CERTS_DOMAIN: 'a.test', CERTS_HOOK: 'deploy' }, timeoutMs: 10_000, what: 'test hook' });
    const env = dumped(out);
    assert.equal(env.CERTS_DOMAIN, 'a.test');
    assert.equal(env.CERTS_HOOK, 'deploy');
    assert.equal(env.CERTS_TEST_VISIBLE, 'visible', 'CERTS_* variables pass');
    assert.equal(env.MY_TOOL_PROFILE, 'passed-by-name', 'hooks.passEnv passes');
    assert.equal(env.PATH, process.env.PATH);
    for (const name of ['SMTP_PASS', 'WEBHOOK_SECRET', 'CERTS_HTTP_TOKEN']) assert.equal(env[name], undefined, `${name} must not reach a hook`);
    const allowed = /^(PATH|HOME|LANG|TZ|MY_TOOL_PROFILE|CERTS_.*)$/;
    assert.deepEqual(Object.keys(env).filter((k) => !allowed.test(k)), [], 'nothing else');
  });

  it('the dns-01 hook and nginx test/reload get the same minimal environment', async () => {
    setHookEnvPolicy({ passEnv: [], withhold: [] });
    const hookOut = join(dir, 'dns-hook.json');
    const solver = createHookSolver(dumper(hookOut), { timeoutMs: 10_000, propagation: { timeoutMs: 1000, intervalMs: 100 } });
    await solver.present({ domain: 'd.test', identifier: 'd.test', recordName: '_acme-challenge.d.test', recordValue: 'v', token: 't', keyAuthorization: 'k' } as Parameters<typeof solver.present>[0]);
    const hookEnv = dumped(hookOut);
    assert.equal(hookEnv.CERTS_ACTION, 'present');
    assert.equal(hookEnv.SMTP_PASS, undefined);
    assert.equal(hookEnv.MY_TOOL_PROFILE, undefined, 'not listed in passEnv any more');

    const testOut = join(dir, 'nginx-t.json');
    const reloadOut = join(dir, 'nginx-reload.json');
    await applySnippets([], { testCommand: dumper(testOut), reloadCommand: dumper(reloadOut), reload: true, timeoutMs: 10_000 });
    for (const file of [testOut, reloadOut]) {
      const env = dumped(file);
      assert.equal(env.PATH, process.env.PATH);
      assert.equal(env.WEBHOOK_SECRET, undefined);
      assert.equal(env.SMTP_PASS, undefined);
    }
  });

  it('programEnv: base names, CERTS_*, passEnv; withheld CERTS_* only by explicit passEnv; the caller wins', () => {
    const from = { PATH: '/p', HOME: '/h', LANG: 'C.UTF-8', TZ: 'UTC', LC_ALL: 'C', AWS_SECRET_ACCESS_KEY: 'x', CERTS_A: 'a', CERTS_TOKEN_SRC: 's', EXTRA: 'e' };
    assert.deepEqual(programEnv({ CERTS_A: 'mine' }, { passEnv: ['EXTRA'], withhold: ['CERTS_TOKEN_SRC'] }, from), { PATH: '/p', HOME: '/h', LANG: 'C.UTF-8', TZ: 'UTC', CERTS_A: 'mine', EXTRA: 'e' });
    assert.deepEqual(programEnv({}, { passEnv: [], withhold: [] }, {}), { PATH: '/usr/local/bin:/usr/bin:/bin' }, 'no PATH: an explicit default');
    assert.equal(programEnv({}, { passEnv: ['CERTS_TOKEN_SRC'], withhold: ['CERTS_TOKEN_SRC'] }, { CERTS_TOKEN_SRC: 's' }).CERTS_TOKEN_SRC, 's');
  });

  it("a failing hook's output tail keeps its text and loses its credentials", async () => {
    const script = [
      'process.stdout.write("> GET /zones HTTP/1.1\\n> Authorization: Bearer sk_live_0123456789\\n");',
      'process.stderr.write("curl: (22) 403 for https://api.example/zones?token=tok_abcdef&zone=x\\npassword=hunter22 rejected\\n");',
      'process.exit(3);',
    ].join('');
    const err = await runProgram([process.execPath, '-e', script], { env: {}, timeoutMs: 10_000, what: 'domain "a.test": deploy hook "x"' }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.match(err.message, /exited with code 3; stderr: curl: \(22\) 403 for https:\/\/api\.example\/zones\?token=<redacted>&zone=x\npassword=<redacted> rejected/);
    assert.doesNotMatch(err.message, /tok_abcdef|hunter22/);

    const out = await runProgram([process.execPath, '-e', 'process.stdout.write("Authorization: Bearer sk_live_0123456789\\n"); process.exit(1)'], { env: {}, timeoutMs: 10_000, what: 'hook' }).then(() => undefined, (e: unknown) => e);
    assert.ok(out instanceof Error);
    assert.match(out.message, /stdout: Authorization: <redacted>$/);
    assert.doesNotMatch(out.message, /sk_live/);
  });
});
