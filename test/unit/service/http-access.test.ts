/** The daemon HTTP endpoint's access rules as pure functions: the token check and the Host check. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorized, hostAllowed, hostOf, sameSecret, WWW_AUTHENTICATE } from '../../../src/service/http-access.js';

const TOKEN = 'tok-3f9c2a7e';
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

describe('authorized', () => {
  const table: Array<[string, string | undefined, boolean]> = [
    ['no header', undefined, false],
    ['Bearer with the token', `Bearer ${TOKEN}`, true],
    ['scheme in any case', `bEaReR ${TOKEN}`, true],
    ['Bearer, trailing space', `Bearer ${TOKEN} `, true],
    ['Bearer with another token', 'Bearer tok-3f9c2a7f', false],
    ['Bearer with a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`, false],
    ['Bearer with the token and more', `Bearer ${TOKEN}x`, false],
    ['Bearer, nothing after', 'Bearer ', false],
    ['the bare token', TOKEN, false],
    ['Basic, any user, token as password', basic(`prometheus:${TOKEN}`), true],
    ['Basic, empty user', basic(`:${TOKEN}`), true],
    ['Basic, password containing the token after a colon', basic(`u:x:${TOKEN}`), false],
    ['Basic, token as user name', basic(`${TOKEN}:`), false],
    ['Basic, no colon', basic(TOKEN), false],
    ['Basic, wrong password', basic('u:nope'), false],
    ['Basic, not base64', `Basic ${TOKEN}!`, false],
    ['another scheme', `Token ${TOKEN}`, false],
    ['two credentials', `Bearer ${TOKEN} ${TOKEN}`, false],
  ];
  for (const [name, header, expected] of table) it(`${name} → ${expected}`, () => assert.equal(authorized(header, TOKEN), expected));

  it('a token with a colon works as a Basic password (only the first colon splits)', () => {
    assert.equal(authorized(basic('u:a:b'), 'a:b'), true);
  });

  it('the challenge names both schemes and the realm', () => {
    assert.equal(WWW_AUTHENTICATE, 'Bearer, Basic realm="certs"');
  });
});

describe('sameSecret', () => {
  it('is equality, whatever the lengths', () => {
    assert.equal(sameSecret('abc', 'abc'), true);
    assert.equal(sameSecret('abc', 'abd'), false);
    assert.equal(sameSecret('abc', 'abcd'), false);
    assert.equal(sameSecret('', 'a'), false);
    assert.equal(sameSecret('é', 'é'), true);
  });
});

describe('hostOf', () => {
  const table: Array<[string | undefined, string | null]> = [
    [undefined, null],
    ['', null],
    ['localhost', 'localhost'],
    ['localhost:9464', 'localhost'],
    ['127.0.0.1:9464', '127.0.0.1'],
    ['[::1]', '::1'],
    ['[::1]:9464', '::1'],
    ['::1', null],
    ['evil.example:80', 'evil.example'],
    ['a:b:c', null],
    ['user@127.0.0.1', null],
    ['127.0.0.1:99999999', null],
    ['127.0.0.1 ', null],
  ];
  for (const [header, expected] of table) it(`${JSON.stringify(header)} → ${JSON.stringify(expected)}`, () => assert.equal(hostOf(header), expected));
});

describe('hostAllowed', () => {
  const onLoopback: Array<[string | undefined, boolean]> = [
    ['127.0.0.1:9464', true],
    ['127.0.0.2', true],
    ['localhost:9464', true],
    ['LocalHost', true],
    ['prometheus.localhost:9464', true],
    ['[::1]:9464', true],
    ['evil.example', false],
    ['evil.example:9464', false],
    ['127.0.0.1.evil.example', false],
    ['localhost.evil.example', false],
    ['10.0.0.1:9464', false],
    ['[::ffff:10.0.0.1]', false],
    [undefined, false],
    ['', false],
  ];
  for (const bound of ['127.0.0.1', '::1']) {
    for (const [host, expected] of onLoopback) it(`bound to ${bound}, Host ${JSON.stringify(host)} → ${expected}`, () => assert.equal(hostAllowed(bound, host), expected));
  }
  it('off loopback (a token is required there) any Host is answered', () => {
    for (const bound of ['0.0.0.0', '::', '192.168.1.10']) {
      assert.equal(hostAllowed(bound, 'certs.example.com:9464'), true);
      assert.equal(hostAllowed(bound, undefined), true);
    }
  });
});
