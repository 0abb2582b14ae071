import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { shownConfig } from '../../../src/config/shown.js';

const FILE = '/etc/certs/certs.yaml';
const parse = (yaml: string) => parseConfigText(yaml, FILE);
const KEK = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w='; // 32 bytes
const URL_ = 'postgres://certs:Hunter2-pw@db.example:5432/certs?sslmode=verify-full';

describe('config: store.engine, store.url, store.keyEncryptionKey', () => {
  it('defaults to sqlite with nothing else set', () => {
    const c = parse('domains: []\n');
    assert.equal(c.store.engine, 'sqlite');
    assert.equal(c.store.url, undefined);
    assert.equal(c.store.keyEncryptionKey, undefined);
  });

  it('accepts postgres with a URL and a 32-byte key; shows neither', () => {
    const c = parse(`store: {engine: postgres, url: "${URL_}", keyEncryptionKey: "${KEK}"}\n`);
    assert.equal(c.store.engine, 'postgres');
    assert.equal(c.store.url, URL_);
    assert.equal(c.store.keyEncryptionKey, KEK);
    const shown = JSON.stringify(shownConfig(c, c.store, ['store']));
    assert.ok(!shown.includes('Hunter2') && !shown.includes(KEK), shown);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['postgres without a url', `store: {engine: postgres, keyEncryptionKey: "${KEK}"}\n`, /store\.url: store\.engine postgres needs store\.url/],
    ['postgres without a key', `store: {engine: postgres, url: "${URL_}"}\n`, /store\.keyEncryptionKey: store\.engine postgres needs store\.keyEncryptionKey: 32 bytes in base64/],
    ['a key of 16 bytes', `store: {engine: postgres, url: "${URL_}", keyEncryptionKey: "q83vEjRWeJq83vEjRWeJqw=="}\n`, /store\.keyEncryptionKey: .*decodes to 16 bytes/],
    ['a url of another scheme', `store: {engine: postgres, url: "mysql://u:Hunter2-pw@h/d", keyEncryptionKey: "${KEK}"}\n`, /store\.url: .*postgres:\/\//],
    ['sslmode allow', `store: {engine: postgres, url: "postgres://u:Hunter2-pw@h/d?sslmode=allow", keyEncryptionKey: "${KEK}"}\n`, /store\.url: .*sslmode "allow"/],
    ['a url for sqlite', `store: {url: "${URL_}"}\n`, /store\.url: store\.url is for store\.engine postgres/],
    ['an unknown engine', 'store: {engine: mysql}\n', /store\.engine: expected one of sqlite, postgres/],
  ];
  for (const [what, yaml, re] of bad) {
    it(`refuses ${what}, without showing the password or the key`, () => {
      assert.throws(() => parse(yaml), (err: Error) => {
        assert.match(err.message, re);
        assert.ok(!err.message.includes('Hunter2') && !err.message.includes('q83vEjRW'), err.message);
        return true;
      });
    });
  }
});

describe('config shown: channel credentials written inline (issue 17)', () => {
  it('are redacted: tokens, the Matrix access token, the PagerDuty routing key, channel URLs', () => {
    const c = parse([
      'notify:',
      '  channels:',
      '    - { name: chat, format: discord, url: "https://discord.com/api/webhooks/1/DISCORDSECRETPATH" }',
      '    - { name: tg, format: telegram, token: "123:TELEGRAMSECRET", chatId: 42 }',
      '    - { name: room, format: matrix, homeserver: "https://matrix.example.org", roomId: "!a:example.org", accessToken: "MATRIXSECRET" }',
      '    - { name: pager, format: pagerduty, routingKey: "PDSECRETROUTINGKEY0000000000000" }',
      '',
    ].join('\n'));
    const shown = JSON.stringify(shownConfig(c, c.notify, ['notify']));
    for (const secret of ['DISCORDSECRETPATH', 'TELEGRAMSECRET', 'MATRIXSECRET', 'PDSECRETROUTINGKEY']) assert.ok(!shown.includes(secret), `${secret} in ${shown}`);
    assert.ok(shown.includes('"homeserver":"https://matrix.example.org"'), 'what is not a credential stays readable');
  });
});
