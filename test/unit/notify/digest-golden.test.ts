/**
 * Golden files of the digest email (issue 14): test/fixtures/digest/digest.txt (the subject and
 * the text part) and digest.html (the HTML part), for the fixed digest of
 * test/helpers/digest-fixture.ts (six endpoints, an injected clock), compared byte for byte.
 *
 * After an intended change, regenerate them and review the diff:
 *
 *   UPDATE_GOLDEN=1 node scripts/run-tests.mjs test/unit/notify/digest-golden.test.ts
 *
 * With UPDATE_GOLDEN=1 the test writes the files and still compares (so it passes); without it a
 * missing file fails the test rather than being created.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { goldenDigest, goldenEmail } from '../../helpers/digest-fixture.js';

const DIR = fileURLToPath(new URL('../../fixtures/digest/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

function golden(name: string, actual: string): void {
  const file = `${DIR}${name}`;
  if (UPDATE) writeFileSync(file, actual);
  assert.ok(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 to write it`);
  const expected = readFileSync(file, 'utf8');
  // Line by line first, for a readable failure; then the whole, byte for byte.
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) assert.equal(a[i], e[i], `${name}:${i + 1} differs (UPDATE_GOLDEN=1 regenerates it; review the diff)`);
  assert.equal(Buffer.compare(Buffer.from(actual), readFileSync(file)), 0);
}

describe('digest golden files', () => {
  const email = goldenEmail();

  it('text part (with its subject)', () => golden('digest.txt', `Subject: ${email.subject}\n\n${email.text}`));

  it('HTML part', () => golden('digest.html', email.html));

  it('the fixed digest is the one the issue describes', () => {
    const d = goldenDigest();
    assert.deepEqual(d.rows.map((r) => `${r.status} ${r.domain}`), [
      'critical expired.example.com',
      'critical shop.example.com',
      'critical wrong.example.com',
      'critical legacy.example.net',
      'warning intranet.example.org',
      'recovered api.example.com',
    ]);
    assert.equal(d.subject, '[certs] CRITICAL: expired.example.com expired; 4 more problems; 1 recovered');
    // Managed domains are told what certs does; monitor-only ones what their operator does.
    const fix = (domain: string): string => d.rows.find((r) => r.domain === domain)!.fix!;
    assert.match(fix('shop.example.com'), /certs renew shop\.example\.com/);
    for (const monitor of ['intranet.example.org', 'expired.example.com', 'wrong.example.com']) assert.doesNotMatch(fix(monitor), /certs (renew|issue)/, monitor);
    assert.match(fix('intranet.example.org'), /\/etc\/ssl\/intranet\.example\.org\/fullchain\.pem/);
    assert.equal(email.text.split('\n').filter((l) => /^ +fix: /.test(l)).length, 5, 'one fix per problem, none for the recovery');
  });
});
