import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crossCheck } from '../../../src/core/cross-check.js';
import { overallStatus, summarise, targetsOf, endpointKey } from '../../../src/core/report.js';
import { nagiosExitCode, statusOf, worstStatus, type Problem, type Status } from '../../../src/core/problems.js';
import { nearest, editDistance } from '../../../src/core/nearest.js';
import { mapPool } from '../../../src/core/pool.js';
import type { EndpointReport } from '../../../src/core/model.js';

const p = (code: Problem['code'], severity: Problem['severity'] = 'critical'): Problem => ({ code, severity, message: code });

describe('statusOf / worstStatus / nagiosExitCode', () => {
  const cases: Array<[string, Problem[], boolean, Status, number]> = [
    ['no problems', [], true, 'ok', 0],
    ['a warning', [p('wrong-order', 'warning')], true, 'warning', 1],
    ['warning and critical', [p('wrong-order', 'warning'), p('expired')], true, 'critical', 2],
    ['never scanned', [], false, 'unknown', 3],
  ];
  for (const [name, problems, scanned, status, code] of cases) {
    test(name, () => {
      assert.equal(statusOf(problems, scanned), status);
      assert.equal(nagiosExitCode(status), code);
    });
  }
  test('critical outranks unknown, unknown outranks warning', () => {
    assert.equal(worstStatus('unknown', 'critical'), 'critical');
    assert.equal(worstStatus('warning', 'unknown'), 'unknown');
    assert.equal(worstStatus('ok', 'warning'), 'warning');
  });
});

describe('crossCheck', () => {
  const cases: Array<[string, Problem[], string | null, boolean]> = [
    ['both clean', [], null, true],
    ['order problems are not OpenSSL errors', [p('wrong-order', 'warning'), p('extra-certs', 'warning')], null, true],
    ['hostname is checked outside OpenSSL', [p('hostname-mismatch')], null, true],
    ['incomplete chain matches', [p('incomplete-chain')], 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', true],
    ['self-signed matches', [p('self-signed')], 'DEPTH_ZERO_SELF_SIGNED_CERT', true],
    ['untrusted root matches', [p('untrusted-root')], 'SELF_SIGNED_CERT_IN_CHAIN', true],
    ['expired matches', [p('expired')], 'CERT_HAS_EXPIRED', true],
    ['weak key may or may not be reported', [p('weak-key')], null, true],
    ['weak key explains EE_KEY_TOO_SMALL', [p('weak-key')], 'EE_KEY_TOO_SMALL', true],
    ['we say incomplete, OpenSSL verified', [p('incomplete-chain')], null, false],
    ['OpenSSL rejects, we found nothing', [], 'CERT_HAS_EXPIRED', false],
    ['different verdicts', [p('expired')], 'SELF_SIGNED_CERT_IN_CHAIN', false],
  ];
  for (const [name, problems, openssl, agrees] of cases) {
    test(name, () => {
      const r = crossCheck(problems, openssl);
      assert.equal(r.agrees, agrees);
      assert.equal(r.openssl, openssl);
      if (!agrees) assert.ok(r.note && r.note.length > 10, 'a disagreement is explained');
    });
  }
});

describe('summaries and targets', () => {
  const report = (status: Status): EndpointReport => ({
    domain: 'a.test', host: 'a.test', port: 443, source: 'tls', status, daysLeft: null, notAfter: null,
    fingerprint256: null, issuer: null, subject: null, problems: [], scannedAt: null,
  });
  test('summary counts each status', () => {
    assert.deepEqual(summarise([report('ok'), report('ok'), report('critical'), report('unknown')]), { ok: 2, warning: 0, critical: 1, unknown: 1 });
  });
  test('an empty inventory is unknown, not ok', () => {
    assert.equal(overallStatus([]), 'unknown');
    assert.equal(overallStatus([report('ok'), report('warning')]), 'warning');
  });
  test('targets: endpoints then files, keys distinct', () => {
    const targets = targetsOf([{ name: 'a.test', altNames: [], managed: false, endpoints: [{ host: 'a.test', port: 443 }, { host: 'a.test', port: 443, address: '::1' }], files: { cert: '/x.pem' } }]);
    assert.deepEqual(targets.map((t) => [t.source, t.port, t.address]), [['tls', 443, undefined], ['tls', 443, '::1'], ['file', 0, undefined]]);
    const keys = new Set(targets.map((t) => endpointKey({ ...t, domain: t.domain.name })));
    assert.equal(keys.size, 3);
  });
});

describe('nearest', () => {
  const cases: Array<[string, string[], string | undefined]> = [
    ['altnames', ['altNames', 'name', 'managed'], 'altNames'],
    ['endpoint', ['endpoints', 'files'], 'endpoints'],
    ['exmaple.com', ['example.com', 'other.org'], 'example.com'],
    ['zzzzzz', ['example.com'], undefined],
  ];
  for (const [input, candidates, want] of cases) test(`${input} → ${want}`, () => assert.equal(nearest(input, candidates), want));
  test('transposition counts once', () => assert.equal(editDistance('ab', 'ba'), 1));
});

describe('mapPool', () => {
  test('keeps input order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const run = mapPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight--;
      return n * 10;
    });
    // Release work one by one as it arrives; the pool must never hold more than 3.
    while (gates.length > 0 || inFlight > 0) {
      await Promise.resolve();
      const next = gates.shift();
      if (next) next();
      else await new Promise<void>((r) => setImmediate(r));
    }
    assert.deepEqual(await run, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(peak, 3);
  });
});
