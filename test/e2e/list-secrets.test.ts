// `certs list --json` shows the config as written where it holds secrets: a `${env:…}` or
// `${file:…}` reference stays a reference, a secret written inline is "<redacted>", and the
// expanded value never appears. Runs the built CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { describeRun, runCli } from '../helpers/cli.js';

const TSIG = 'c2VjcmV0LXRzaWcta2V5LXZhbHVlLTAxMjM0NTY3ODk=';
const INLINE_TSIG = 'aW5saW5lLXRzaWctc2VjcmV0LXZhbHVl';
const FILE_TSIG = 'ZmlsZS10c2lnLXNlY3JldC12YWx1ZQ==';

const dir = mkdtempSync(join(tmpdir(), 'certs-list-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('certs list --json and secrets', () => {
  it('prints ${env:…} and ${file:…} as written and inline secrets as <redacted>, never a value', async () => {
    writeFileSync(join(dir, 'tsig.secret'), `${FILE_TSIG}\n`, { mode: 0o600 });
    const rfc2136 = (secret: string, zone: string) => `{ type: dns-01, rfc2136: { server: 127.0.0.1, zone: ${zone}, tsigKeyName: k., tsigSecret: "${secret}" } }`;
    const config = join(dir, 'certs.yaml');
    writeFileSync(config, [
      'acme: { email: ops@example.com }',
      'domains:',
      `  - { name: env.example, challenge: ${rfc2136('${env:TSIG_SECRET}', 'env.example.')} }`,
      `  - { name: file.example, challenge: ${rfc2136('${file:./tsig.secret}', 'file.example.')} }`,
      `  - { name: inline.example, challenge: ${rfc2136(INLINE_TSIG, 'inline.example.')} }`,
      '',
    ].join('\n'));
    const r = await runCli(['list', '--json', '--config', config], { env: { TSIG_SECRET: TSIG } });
    assert.equal(r.code, 0, describeRun(r));
    for (const value of [TSIG, INLINE_TSIG, FILE_TSIG]) assert.ok(!r.stdout.includes(value), `a secret value was printed:\n${r.stdout}`);
    const doc = JSON.parse(r.stdout) as { domains: { name: string; challenge: { rfc2136: { tsigSecret: string; tsigKeyName: string; server: string } } }[] };
    const secretOf = (name: string): string | undefined => doc.domains.find((d) => d.name === name)?.challenge.rfc2136.tsigSecret;
    assert.equal(secretOf('env.example'), '${env:TSIG_SECRET}');
    assert.equal(secretOf('file.example'), '${file:./tsig.secret}');
    assert.equal(secretOf('inline.example'), '<redacted>');
    // What is not a secret is shown as before.
    assert.equal(doc.domains[0]?.challenge.rfc2136.tsigKeyName, 'k.');
    assert.equal(doc.domains[0]?.challenge.rfc2136.server, '127.0.0.1');
  });
});
