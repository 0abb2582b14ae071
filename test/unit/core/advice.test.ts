/**
 * The problem catalogue's advice (issue 14): every problem code and `expiry`, for a managed and a
 * monitor-only domain. The loops run over PROBLEM_CODES, so a code added without advice fails here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fixFor, hintFor, type AdviceContext, type AdviceTopic } from '../../../src/core/advice.js';
import { PROBLEM_CODES } from '../../../src/core/problems.js';

const TOPICS: readonly AdviceTopic[] = [...PROBLEM_CODES, 'expiry'];

const MANAGED: AdviceContext = { domain: 'shop.example', managed: true, endpoint: 'shop.example:443' };
const MONITOR: AdviceContext = { domain: 'legacy.example', managed: false, endpoint: 'legacy.example:8443 @192.0.2.7' };
const MONITOR_FILE: AdviceContext = { domain: 'legacy.example', managed: false, certFile: '/etc/ssl/legacy/fullchain.pem', endpoint: 'file:/etc/ssl/legacy/fullchain.pem' };

/** Topics whose fix is about the certificate the operator installs: a monitor-only fix names the file when there is one. */
const ABOUT_THE_FILE = new Set<AdviceTopic>([
  'expired', 'expiring-soon', 'chain-cert-expired', 'hostname-mismatch', 'self-signed', 'incomplete-chain', 'wrong-order',
  'contains-anchor', 'extra-certs', 'weak-signature', 'weak-key', 'renewal-failing', 'key-mismatch', 'revoked', 'expiry',
]);

/** Topics where who renews decides the fix: the two sides must differ. */
const DEPENDS_ON_MANAGEMENT = new Set<AdviceTopic>([...ABOUT_THE_FILE]);

const COMMAND = /`certs [^`]*`/g;

function assertSentence(s: string, label: string): void {
  assert.ok(s.length >= 20, `${label}: too short: ${JSON.stringify(s)}`);
  assert.doesNotMatch(s, /[.\s]$/, `${label}: ends with a period or space: ${JSON.stringify(s)}`);
  assert.doesNotMatch(s, /[\r\n]/, `${label}: more than one line`);
  assert.doesNotMatch(s, /<name>|undefined|\[object/, `${label}: a placeholder left in: ${s}`);
}

describe('fixFor: every topic × managed / monitor-only', () => {
  for (const topic of TOPICS) {
    test(topic, () => {
      const managed = fixFor(topic, MANAGED);
      const monitor = fixFor(topic, MONITOR);
      const monitorFile = fixFor(topic, MONITOR_FILE);
      assertSentence(managed, `${topic} managed`);
      assertSentence(monitor, `${topic} monitor-only`);
      assertSentence(monitorFile, `${topic} monitor-only with files.cert`);

      // A monitor-only domain cannot be renewed by certs: never tell its reader to.
      for (const s of [monitor, monitorFile]) assert.doesNotMatch(s, /`certs (renew|issue)\b/, `${topic} monitor-only: ${s}`);

      // Every command given names the domain it is for (or is the whole-inventory `certs run`).
      for (const [s, d] of [[managed, 'shop.example'], [monitor, 'legacy.example'], [monitorFile, 'legacy.example']] as const) {
        for (const c of s.match(COMMAND) ?? []) {
          if (c === '`certs run`' || c === '`certs daemon`') continue;
          assert.ok(c.includes(` ${d}`), `${topic}: ${c} does not name ${d}: ${s}`);
        }
      }

      if (ABOUT_THE_FILE.has(topic)) {
        assert.ok(monitorFile.includes('/etc/ssl/legacy/fullchain.pem'), `${topic}: names files.cert: ${monitorFile}`);
      }
      if (DEPENDS_ON_MANAGEMENT.has(topic)) {
        assert.notEqual(managed, fixFor(topic, { ...MANAGED, managed: false }), `${topic}: same advice managed and monitor-only`);
      }
    });
  }

  test('renewing topics tell a managed domain the certs command and a monitor-only one the operator fix', () => {
    for (const topic of ['expired', 'expiring-soon', 'expiry'] as const) {
      assert.match(fixFor(topic, MANAGED), /`certs renew shop\.example`/, topic);
      assert.match(fixFor(topic, MONITOR), /certs only monitors legacy\.example/, topic);
      assert.match(fixFor(topic, MONITOR_FILE), /^replace \/etc\/ssl\/legacy\/fullchain\.pem with a renewed certificate/, topic);
    }
  });

  test('issuedNewer: deploy what certs issued, whatever the code and management', () => {
    for (const topic of TOPICS) {
      for (const ctx of [MANAGED, MONITOR]) {
        const s = fixFor(topic, { ...ctx, issuedNewer: true });
        assert.match(s, new RegExp(`^run \`certs nginx write ${ctx.domain.replace('.', '\\.')}\``), `${topic}: ${s}`);
        assert.ok(s.includes(ctx.endpoint as string), `${topic}: names the endpoint: ${s}`);
      }
    }
  });

  test('a topic whose fix does not depend on management keeps the problem\'s own, more specific hint', () => {
    const hint = hintFor('revocation-unknown', { variant: 'stale' });
    assert.equal(fixFor('revocation-unknown', { ...MANAGED, hint }), hint);
    assert.equal(fixFor('revocation-unknown', { ...MONITOR, hint }), hint);
    // An older stored hint with a trailing period is shown as a catalogue sentence.
    assert.equal(fixFor('unreachable', { ...MANAGED, hint: 'Check the firewall.' }), 'Check the firewall');
    // A topic that depends on management ignores it: the stored hint may be the managed wording.
    assert.equal(fixFor('expired', { ...MONITOR, hint: hintFor('expired') }), fixFor('expired', MONITOR));
  });

  test('hostname-mismatch takes the name from the endpoint', () => {
    assert.match(fixFor('hostname-mismatch', { ...MANAGED, endpoint: 'www.shop.example:443' }), /^add "www\.shop\.example" to the altNames of shop\.example and run `certs renew shop\.example`/);
    // The domain's own name is on every certificate certs issues for it: the server serves another one.
    assert.match(fixFor('hostname-mismatch', MANAGED), /^the server is not using certs' certificate for shop\.example: run `certs nginx write shop\.example`/);
    assert.match(fixFor('hostname-mismatch', { ...MONITOR, endpoint: 'www.legacy.example:443 @192.0.2.7' }), /subjectAltName includes "www\.legacy\.example"/);
    assert.match(fixFor('hostname-mismatch', { ...MONITOR, endpoint: '[2001:db8::1]:443' }), /includes "2001:db8::1"/);
    assert.match(fixFor('hostname-mismatch', MONITOR_FILE), /includes every name of legacy\.example/);
  });

  test('exact sentences, for review', () => {
    assert.equal(fixFor('expired', MANAGED),
      'run `certs renew shop.example` now (it deploys the new certificate too), then check that `certs run` runs on schedule (cron or `certs daemon`)');
    assert.equal(fixFor('expired', MONITOR),
      'obtain a renewed certificate where this certificate comes from (its CA, or whoever runs legacy.example:8443 @192.0.2.7) and install it there; certs only monitors legacy.example');
    assert.equal(fixFor('expiry', MONITOR_FILE),
      'replace /etc/ssl/legacy/fullchain.pem with a renewed certificate and reload the server that uses it before it expires');
    assert.equal(fixFor('expiry', MANAGED), 'renew now with `certs renew shop.example`, or let the next `certs run` do it');
    assert.equal(fixFor('incomplete-chain', MANAGED),
      'serve the fullchain.pem certs keeps for shop.example: run `certs nginx write shop.example` and include its snippet in the server block instead of your own ssl_certificate lines');
    assert.equal(fixFor('incomplete-chain', MONITOR_FILE),
      'put the full chain in /etc/ssl/legacy/fullchain.pem (leaf first, then its intermediates, as in fullchain.pem, not the leaf alone) and reload the server that uses it');
    assert.equal(fixFor('unreachable', MONITOR), 'check the host name, the address, the port and any firewall between this host and the server');
    assert.equal(fixFor('stale-deployment', { ...MANAGED, issuedNewer: true }),
      'run `certs nginx write shop.example` (tests and reloads nginx) so that shop.example:443 serves the newer certificate certs issued');
  });
});

describe('hintFor: the context-free sentences scan and lifecycle checks store', () => {
  test('every code has one, and variants differ from the default', () => {
    const params = { domain: 'd.test', endpoint: 'd.test:443', name: 'd.test' };
    for (const topic of TOPICS) assertSentence(hintFor(topic, params), `${topic} hint`);
    // Without parameters a command still reads as one, with a placeholder for the domain.
    assert.match(hintFor('deploy-failed'), /`certs nginx write <name>`/);
    const variants: Array<[AdviceTopic, string]> = [
      ['expiring-soon', 'intermediate'], ['handshake-failed', 'unparsable'], ['deploy-failed', 'nginx-not-running'], ['revoked', 'intermediate'],
      ...['blocked-address', 'unsupported-url', 'too-large', 'stale', 'bad-signature', 'not-a-crl', 'no-issuer'].map((v) => ['revocation-unknown', v] as [AdviceTopic, string]),
    ];
    for (const [topic, variant] of variants) {
      const s = hintFor(topic, { ...params, variant });
      assertSentence(s, `${topic}/${variant}`);
      assert.notEqual(s, hintFor(topic, params), `${topic}/${variant}`);
    }
    assert.equal(hintFor('revocation-unknown', { variant: 'network' }), hintFor('revocation-unknown'), 'an unknown variant gets the default');
  });

  test('parameters land in the sentence', () => {
    assert.equal(hintFor('renewal-failing', { domain: 'd.test', nextAttemptAt: '2030-01-01T09:17:44.000Z' }),
      'fix the cause, then run `certs renew d.test --force`; otherwise the next automatic attempt is after 2030-01-01 09:17 UTC');
    assert.equal(hintFor('stale-deployment', { domain: 'd.test', endpoint: 'd.test:443 at 192.0.2.1' }),
      'run `certs nginx write d.test` (tests and reloads nginx), or reload the server that answers on d.test:443 at 192.0.2.1');
    assert.match(hintFor('hostname-mismatch', { name: 'www.d.test' }), /includes "www\.d\.test"/);
    assert.match(hintFor('hostname-mismatch', { names: ['d.test', 'www.d.test'] }), /every configured name \(d\.test, www\.d\.test\)$/);
    assert.match(hintFor('revoked', { domain: 'd.test', keyCompromise: true }), /`certs issue d\.test`.*with a new private key/);
    assert.doesNotMatch(hintFor('revoked', { domain: 'd.test' }), /new private key/);
  });
});
