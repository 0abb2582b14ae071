// Through the built CLI and a real CA (Pebble): a domain's hooks see a minimal environment — the
// config's hooks.passEnv, CERTS_*, PATH/HOME/LANG/TZ — never the secrets the config reads from
// the environment or anything else of ours; and a failing hook's credentials do not reach the
// renewal record (`certs certificates`, and the renewal-failing problem built from it) or `renew --json`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { describeRun, runCli } from '../helpers/cli.js';

const DUMP = 'require("node:fs").writeFileSync(process.argv[1], JSON.stringify(process.env))';
const LEAK = 'process.stdout.write("> POST /v1/zones\\n> Authorization: Bearer sk_live_hookleak123\\n"); process.stderr.write("api_key=AKIAHOOKLEAK rejected\\n"); process.exit(4)';

const ours: Record<string, string> = {
  SMTP_PASS: 'smtp-pass-leak',
  UNRELATED_SECRET: 'unrelated-leak',
  CERTS_TEST_WEBHOOK_SECRET: 'webhook-secret-leak',
  MY_DNS_PROFILE: 'passed-by-name',
};

describe('hooks run by certs renew', () => {
  let env: AcmeEnv;
  let configFile: string;
  let dumpFile: string;
  const saved = new Map<string, string | undefined>();

  before(async () => {
    for (const [k, v] of Object.entries(ours)) {
      saved.set(k, process.env[k]);
      process.env[k] = v;
    }
    env = await startAcmeEnv();
    dumpFile = join(env.dir, 'deploy-hook-env.json');
    const argv = (code: string, ...rest: string[]): string => JSON.stringify([process.execPath, '-e', code, ...rest]);
    ({ file: configFile } = env.writeConfig(`${env.acmeYaml()}
hooks: { passEnv: [MY_DNS_PROFILE] }
notify:
  email: { smtp: { host: 127.0.0.1, port: 2525, user: certs, pass: "\${env:SMTP_PASS}" }, from: certs@example.com, to: [ops@example.com] }
  webhook: { url: "https://hooks.example/services/x", secret: "\${env:CERTS_TEST_WEBHOOK_SECRET}" }
domains:
  - { name: h.test, endpoints: [], nginx: false, hooks: { deploy: ${argv(DUMP, dumpFile)} } }
  - { name: leak.test, endpoints: [], nginx: false, hooks: { pre: ${argv(LEAK)} } }
`));
  });
  after(async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await env?.stop();
  });

  it('the deploy hook sees CERTS_*, PATH and hooks.passEnv only; the failing pre hook leaves no credentials behind', async () => {
    const r = await runCli(['renew', '--config', configFile, '--json'], { timeoutMs: 90_000 });
    assert.equal(r.code, 1, describeRun(r));
    const doc = JSON.parse(r.stdout) as { results: Array<{ domain: string; action: string; reason?: string }> };
    assert.equal(doc.results.find((x) => x.domain === 'h.test')?.action, 'issued', r.stdout);

    const seen = JSON.parse(readFileSync(dumpFile, 'utf8')) as Record<string, string>;
    assert.equal(seen.CERTS_DOMAIN, 'h.test');
    assert.equal(seen.CERTS_HOOK, 'deploy');
    assert.ok(seen.CERTS_FULLCHAIN?.endsWith('fullchain.pem'));
    assert.equal(seen.MY_DNS_PROFILE, 'passed-by-name');
    assert.equal(seen.PATH, process.env.PATH);
    for (const name of ['SMTP_PASS', 'UNRELATED_SECRET', 'CERTS_TEST_WEBHOOK_SECRET']) assert.equal(seen[name], undefined, `${name} reached the hook`);
    assert.deepEqual(Object.keys(seen).filter((k) => !/^(PATH|HOME|LANG|TZ|MY_DNS_PROFILE|CERTS_.*)$/.test(k)), []);

    const leak = doc.results.find((x) => x.domain === 'leak.test');
    assert.match(leak?.reason ?? '', /exited with code 4; stderr: api_key=<redacted> rejected/, r.stdout);
    const status = await runCli(['certificates', 'leak.test', '--config', configFile, '--json']);
    assert.equal(status.code, 0, describeRun(status));
    const stored = (JSON.parse(status.stdout) as { certificates: Array<{ lastError: string | null }> }).certificates[0]?.lastError;
    assert.match(stored ?? '', /pre hook .* exited with code 4; stderr: api_key=<redacted> rejected/, 'the renewal record keeps the tail, redacted');
    const everything = `${r.stdout}\n${r.stderr}\n${status.stdout}\n${status.stderr}`;
    for (const secret of ['sk_live_hookleak123', 'AKIAHOOKLEAK', ...Object.values(ours).filter((v) => v !== 'passed-by-name')]) {
      assert.ok(!everything.includes(secret), `${secret} was printed:\n${everything}`);
    }
  });
});
