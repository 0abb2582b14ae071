// How a probe's failures read (issue #11 §3: the errno → problem classification taken out of the
// probe's attempt as pure functions). Each row is one thing the network can do to a probe.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  alertMessage,
  connectFailure,
  connectTimeout,
  errnoOf,
  failedDuringHandshake,
  handshakeTimeout,
  isPeerClose,
  peerClosedMessage,
  tlsFailureMessage,
  unorderedChainNote,
  versionRefused,
  type DialState,
  type OfferedVersion,
  type ProbeProblem,
} from '../../../src/scan/probe-problems.js';
import type { TlsAlert } from '../../../src/scan/tls-records.js';

const byName: DialState = { dial: 'a.test', dialledLabel: '', lookedUp: true };
const dialled: DialState = { dial: '192.0.2.7', dialledLabel: ' (dialled 192.0.2.7)', lookedUp: true };
const resolving: DialState = { dial: 'a.test', dialledLabel: '', lookedUp: false };

describe('errnoOf', () => {
  const cases: Array<[string, Parameters<typeof errnoOf>[0], string]> = [
    ['the code when there is one', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'ECONNREFUSED'],
    ['happy eyeballs: the first inner code', { message: 'aggregate', errors: [{ message: 'x' }, { code: 'ENETUNREACH' }, { code: 'ECONNREFUSED' }] }, 'ENETUNREACH'],
    ['inner errors without codes: the message', { message: 'all failed', errors: [{}, undefined] }, 'all failed'],
    ['no code at all: the message', { message: 'something odd' }, 'something odd'],
  ];
  for (const [name, err, expected] of cases) it(name, () => assert.equal(errnoOf(err), expected));
});

describe('connectFailure: a socket error before TCP is up', () => {
  const cases: Array<[string, string, string | undefined, DialState, ProbeProblem]> = [
    ['ENOTFOUND from getaddrinfo', 'ENOTFOUND', 'getaddrinfo', byName, { code: 'unreachable', phase: 'dns', message: 'DNS lookup of "a.test" failed (ENOTFOUND)' }],
    ['any error before the lookup finished is a DNS failure', 'ECONNREFUSED', 'connect', resolving, { code: 'unreachable', phase: 'dns', message: 'DNS lookup of "a.test" failed (ECONNREFUSED)' }],
    ['getaddrinfo wins even after a lookup event', 'EAI_AGAIN', 'getaddrinfo', byName, { code: 'unreachable', phase: 'dns', message: 'DNS lookup of "a.test" failed (EAI_AGAIN)' }],
    ['ETIMEDOUT is a timeout', 'ETIMEDOUT', 'connect', byName, { code: 'timeout', phase: 'connect', message: 'TCP connect timed out (ETIMEDOUT)' }],
    ['ETIMEDOUT names the dialled address', 'ETIMEDOUT', 'connect', dialled, { code: 'timeout', phase: 'connect', message: 'TCP connect (dialled 192.0.2.7) timed out (ETIMEDOUT)' }],
    ['ECONNREFUSED', 'ECONNREFUSED', 'connect', byName, { code: 'unreachable', phase: 'connect', message: 'TCP connect failed: connection refused (nothing listens on this port, or a firewall rejects it) (ECONNREFUSED)' }],
    ['EHOSTUNREACH', 'EHOSTUNREACH', 'connect', dialled, { code: 'unreachable', phase: 'connect', message: 'TCP connect (dialled 192.0.2.7) failed: no route to host (EHOSTUNREACH)' }],
    ['ENETUNREACH', 'ENETUNREACH', 'connect', byName, { code: 'unreachable', phase: 'connect', message: 'TCP connect failed: network unreachable (ENETUNREACH)' }],
    ['EADDRNOTAVAIL', 'EADDRNOTAVAIL', 'connect', byName, { code: 'unreachable', phase: 'connect', message: 'TCP connect failed: address not available (EADDRNOTAVAIL)' }],
    ['ECONNRESET', 'ECONNRESET', 'read', byName, { code: 'unreachable', phase: 'connect', message: 'TCP connect failed: connection reset (ECONNRESET)' }],
    ['an errno without a text of its own', 'EPERM', 'connect', byName, { code: 'unreachable', phase: 'connect', message: 'TCP connect failed: error (EPERM)' }],
    ['no syscall given', 'ECONNREFUSED', undefined, byName, { code: 'unreachable', phase: 'connect', message: 'TCP connect failed: connection refused (nothing listens on this port, or a firewall rejects it) (ECONNREFUSED)' }],
  ];
  for (const [name, errno, syscall, at, expected] of cases) it(name, () => assert.deepEqual(connectFailure(errno, syscall, at), expected));
});

describe('timeouts', () => {
  it('connect budget spent while resolving: dns phase', () => {
    assert.deepEqual(connectTimeout(resolving, 1500), { code: 'timeout', phase: 'dns', message: 'DNS lookup of "a.test" did not finish within 1500 ms' });
  });
  it('connect budget spent after resolving: connect phase, naming the dialled address', () => {
    assert.deepEqual(connectTimeout(dialled, 1500), { code: 'timeout', phase: 'connect', message: 'no TCP connection (dialled 192.0.2.7) within 1500 ms' });
  });
  it('handshake budget, the peer silent', () => {
    assert.deepEqual(handshakeTimeout(0, 5000), { code: 'timeout', phase: 'handshake', message: 'no TLS handshake within 5000 ms: the peer accepted the TCP connection but sent nothing' });
  });
  it('handshake budget, the peer stalled', () => {
    assert.deepEqual(handshakeTimeout(517, 5000), { code: 'timeout', phase: 'handshake', message: 'no TLS handshake within 5000 ms: the handshake stalled after 517 bytes from the peer' });
  });
});

describe('versionRefused: worth a TLS 1.3-only retry', () => {
  const cases: Array<[OfferedVersion, number | null, string, boolean]> = [
    ['TLSv1.2', 40, '', true], // handshake_failure
    ['TLSv1.2', 70, '', true], // protocol_version
    ['TLSv1.2', 71, '', true], // insufficient_security
    ['TLSv1.2', 112, '', false], // unrecognized_name: not about versions
    ['TLSv1.2', 42, '', false],
    ['TLSv1.2', null, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', true],
    ['TLSv1.2', null, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', true],
    ['TLSv1.2', null, 'ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY', true],
    ['TLSv1.2', null, 'ERR_SSL_UNSUPPORTED_PROTOCOL', true],
    ['TLSv1.2', null, 'ECONNRESET', false],
    ['TLSv1.2', null, '', false],
    ['TLSv1.3', 70, '', false], // the retry itself is never retried
    ['TLSv1.3', null, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', false],
  ];
  for (const [offered, alert, code, expected] of cases) {
    it(`${offered}, alert ${alert ?? '-'}, code ${code || '-'} → ${expected}`, () => assert.equal(versionRefused(offered, alert, code), expected));
  }
});

describe('handshake messages', () => {
  it('alerts say what they most likely mean, per offered version', () => {
    const fatal = (description: number, name: string): TlsAlert => ({ level: 'fatal', levelCode: 2, description, name });
    const rows: Array<[TlsAlert, OfferedVersion, string]> = [
      [fatal(70, 'protocol_version'), 'TLSv1.2', 'the server sent a fatal alert protocol_version (70) (it does not accept TLS 1.2 or lower)'],
      [fatal(70, 'protocol_version'), 'TLSv1.3', 'the server sent a fatal alert protocol_version (70) (it does not accept TLS 1.3)'],
      [fatal(112, 'unrecognized_name'), 'TLSv1.2', 'the server sent a fatal alert unrecognized_name (112) (it has no certificate for this name: check the SNI host name)'],
      [fatal(40, 'handshake_failure'), 'TLSv1.3', 'the server sent a fatal alert handshake_failure (40) (no protocol version or cipher suite in common)'],
      [fatal(42, 'bad_certificate'), 'TLSv1.2', 'the server sent a fatal alert bad_certificate (42)'],
    ];
    for (const [alert, offered, expected] of rows) assert.equal(alertMessage(alert, offered), expected);
  });
  it('a socket error mid-handshake, with the bytes received', () => {
    assert.equal(failedDuringHandshake('EPIPE', 0), 'the connection failed during the TLS handshake: EPIPE');
    assert.equal(failedDuringHandshake('ECONNRESET', 1200), 'the connection failed during the TLS handshake: ECONNRESET (after 1200 bytes from the peer)');
  });
  it('what counts as the peer closing', () => {
    assert.equal(isPeerClose('ECONNRESET', 'read ECONNRESET'), true);
    assert.equal(isPeerClose('', 'Client network socket disconnected before secure TLS connection was established'), true);
    assert.equal(isPeerClose('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), false);
  });
  it('the peer closing: before answering, inside a record, between records', () => {
    assert.equal(peerClosedMessage(0, null), 'the peer closed the connection without answering the TLS ClientHello');
    assert.equal(peerClosedMessage(0, { message: 'ignored' }), 'the peer closed the connection without answering the TLS ClientHello');
    assert.equal(peerClosedMessage(90, { message: 'the stream ended inside a TLS record' }), 'the peer closed the connection during the TLS handshake: the stream ended inside a TLS record');
    assert.equal(peerClosedMessage(90, null), 'the peer closed the connection during the TLS handshake (after 90 bytes from the peer)');
  });
  it('other node:tls errors carry their code once', () => {
    assert.equal(tlsFailureMessage('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'), 'TLS handshake failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)');
    assert.equal(tlsFailureMessage('boom ERR_X happened', 'ERR_X'), 'TLS handshake failed: boom ERR_X happened');
    assert.equal(tlsFailureMessage('boom', ''), 'TLS handshake failed: boom');
  });
});

describe('unorderedChainNote: why the served order is unknown', () => {
  it('below TLS 1.3: no plaintext Certificate message', () => {
    assert.equal(unorderedChainNote('TLSv1.2', null, false), "no plaintext Certificate message was seen under TLSv1.2: the chain shown is Node's reconstruction");
  });
  const cases: Array<[string, string | null, boolean, string]> = [
    ['the parser says why', 'the server chose cipher suite 0x1304, which the probe cannot decrypt', true, 'the server chose cipher suite 0x1304, which the probe cannot decrypt'],
    ['secret seen, no Certificate message', null, true, 'no Certificate message was found in the decrypted flight'],
    ['no secret from Node', null, false, 'Node reported no server handshake secret for this connection'],
  ];
  for (const [name, failure, sawSecret, reason] of cases) {
    it(`TLS 1.3, ${name}`, () => {
      const note = unorderedChainNote('TLSv1.3', failure, sawSecret);
      assert.ok(note.startsWith(`TLS 1.3 encrypts the Certificate message and it could not be decrypted (${reason}): `), note);
      assert.match(note, /so the served order could not be judged$/);
    });
  }
});
