import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import {
  normalizeDomainNameFully,
  isIpLiteral,
  normalizeDomainName,
  normalizeHost,
  toUnicode,
  validatePort,
  type NameOptions,
} from '../../../src/core/names.js';
import { parseEndpointSpec } from '../../../src/lib/host-port.js';

const W: NameOptions = { allowWildcard: true };
const label63 = 'a'.repeat(63);
// 4 × 63 + 3 dots = 255 > 253; trim to exactly 253 for the longest valid name.
const name253 = [label63, label63, label63, 'b'.repeat(61)].join('.');

describe('normalizeDomainName', () => {
  const valid: Array<[string, NameOptions, string]> = [
    ['example.com', {}, 'example.com'],
    ['  Example.COM  ', {}, 'example.com'],
    ['example.com.', {}, 'example.com'],
    ['a-b.example.com', {}, 'a-b.example.com'],
    ['bücher.example', {}, 'xn--bcher-kva.example'],
    ['Bücher.Example.', {}, 'xn--bcher-kva.example'],
    ['XN--BCHER-KVA.example', {}, 'xn--bcher-kva.example'],
    ['faß.de', {}, 'xn--fa-hia.de'],
    ['ａｂｃ.com', {}, 'abc.com'],
    ['*.example.com', W, '*.example.com'],
    ['*.bücher.example', W, '*.xn--bcher-kva.example'],
    ['localhost', { minLabels: 1 }, 'localhost'],
    [`${label63}.com`, {}, `${label63}.com`],
    [name253, {}, name253],
    ['1password.com', {}, '1password.com'],
    ['xn--zca.com', {}, 'xn--zca.com'],
    ['XN--LS8H.la', {}, 'xn--ls8h.la'],
    ['*.xn--bcher-kva.example', W, '*.xn--bcher-kva.example'],
  ];
  for (const [input, opts, expected] of valid) {
    it(`accepts ${JSON.stringify(input)} ${JSON.stringify(opts)}`, () => {
      assert.equal(normalizeDomainName(input, opts), expected);
    });
  }

  const invalid: Array<[string, NameOptions, RegExp]> = [
    ['exa mple.com', {}, /^domain "exa mple\.com": invalid name: spaces are not allowed$/],
    ['exa\tmple.com', {}, /whitespace characters .* are not allowed/],
    ['a_b.example.com', {}, /underscores are not allowed in certificate host names \(only letters, digits and hyphens: LDH\)/],
    ['', {}, /the name is empty; expected a DNS name/],
    ['   ', {}, /the name is empty/],
    ['ex..com', {}, /empty label/],
    ['.example.com', {}, /empty label/],
    ['example.com..', {}, /empty label/],
    ['-a.example.com', {}, /label "-a" starts or ends with a hyphen/],
    ['a-.example.com', {}, /starts or ends with a hyphen/],
    [`${'a'.repeat(64)}.com`, {}, /is 64 characters long; expected at most 63/],
    [`${name253}a`, {}, /the name is 254 characters long; expected at most 253/],
    ['a!b.com', {}, /character "!" is not allowed; expected a DNS name/],
    ['com', {}, /expected at least two labels, like "example\.com"/],
    ['*.example.com', {}, /wildcards are not allowed here/],
    ['a*.example.com', W, /must be the whole left-most label/],
    ['*a.example.com', W, /must be the whole left-most label/],
    ['*.*.example.com', W, /only one wildcard is allowed/],
    ['foo.*.com', W, /allowed only as the whole left-most label/],
    ['*', W, /a bare "\*" is not a name/],
    ['*.com', W, /at least two labels after "\*\."/],
    ['1.2.3.4', {}, /an IP address is not a domain name/],
    ['[::1]', {}, /an IP address is not a domain name/],
    ['0x7f.1', {}, /last label "1" is numeric/],
    ['example.123', {}, /last label "123" is numeric/],
    // "xn--" labels are judged by our own punycode decoder: the same verdict and words on Node 20, 22
    // and 24 (Node 24's domainToASCII passes "xn--abc" through; Node 20 accepted "xn--ab-" as "ab").
    ['xn--abc.com', {}, /^domain "xn--abc\.com": invalid name: the "xn--" label "xn--abc" decodes to "\\u\{82\}\\u\{81\}\\u\{80\}", which IDNA does not allow in a host name$/],
    ['xn--0.com', {}, /an "xn--" label is not valid punycode: "xn--0" \(the last encoded character is cut short\)$/],
    ['xn--ab-.com', {}, /the "xn--" label "xn--ab-" decodes to the plain ASCII "ab"; an "xn--" label must stand for non-ASCII characters$/],
    ['xn--.com', {}, /the "xn--" label "xn--" decodes to nothing/],
    ['xn--wca.com', {}, /the "xn--" label "xn--wca" is not the IDNA form of "Ü" \(that is "xn--tda"\)$/],
    ['xn--ab-m1t.com', {}, /the "xn--" label "xn--ab-m1t" decodes to "a\\u\{200d\}b", which IDNA does not allow/],
    ['bücher.xn--abc.com', {}, /the "xn--" label "xn--abc" decodes to/],
    ['*.xn--a.com', W, /the "xn--" label "xn--a" decodes to "\\u\{80\}"/],
    [`xn--${'a'.repeat(60)}.com`, {}, /label "xn--a{60}" is 64 characters long; expected at most 63$/],
    ['https://example.com', {}, /not a URL or path/],
  ];
  for (const [input, opts, message] of invalid) {
    it(`refuses ${JSON.stringify(input)} ${JSON.stringify(opts)}`, () => {
      assert.throws(() => normalizeDomainName(input, opts), (err: unknown) => {
        assert.ok(err instanceof ValidationError, 'a ValidationError');
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('refuses a huge "xn--" label at once (no quadratic decoding)', () => {
    const started = process.hrtime.bigint();
    assert.throws(() => normalizeDomainName(`xn--${'a'.repeat(200_000)}.com`), /is 200004 characters long; expected at most 63/);
    assert.equal(toUnicode(`xn--${'a'.repeat(200_000)}.com`).length, 200_008);
    assert.ok(process.hrtime.bigint() - started < 1_000_000_000n, 'well under a second');
  });

  it('names the value with the given label', () => {
    assert.throws(() => normalizeDomainName('a b.com', { label: 'altName' }), { message: 'altName "a b.com": invalid name: spaces are not allowed' });
  });
});

describe('toUnicode', () => {
  const table: Array<[string, string]> = [
    ['xn--bcher-kva.example', 'bücher.example'],
    ['*.xn--bcher-kva.example', '*.bücher.example'],
    ['example.com', 'example.com'],
    ['*.xn--ls8h.la', '*.💩.la'],
    // Invalid A-labels stay as they are (Node 20's domainToUnicode turned "xn--ab-" into "ab").
    ['xn--ab-.com', 'xn--ab-.com'],
    ['xn--abc.com', 'xn--abc.com'],
    ['xn--bcher-kva.xn--abc.example', 'bücher.xn--abc.example'],
  ];
  for (const [input, expected] of table) it(`${input} → ${expected}`, () => assert.equal(toUnicode(input), expected));
});

describe('isIpLiteral', () => {
  const table: Array<[string, boolean]> = [
    ['192.0.2.1', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['256.1.1.1', false],
    ['01.2.3.4', false],
    ['1.2.3', false],
    ['::1', true],
    ['[::1]', true],
    ['2001:db8::1', true],
    ['::ffff:192.0.2.1', true],
    ['1:2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1::2::3', false],
    ['fe80::1%eth0', false],
    ['[1.2.3.4]', false],
    ['example.com', false],
    ['', false],
  ];
  for (const [input, expected] of table) it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(isIpLiteral(input), expected));
});

describe('normalizeHost', () => {
  const valid: Array<[string, string]> = [
    ['192.0.2.1', '192.0.2.1'],
    ['[::1]', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:db8:1:1:1:1:1:0', '2001:db8:1:1:1:1:1:0'],
    ['::FFFF:192.0.2.1', '::ffff:192.0.2.1'],
    ['localhost', 'localhost'],
    [' Example.COM ', 'example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
  ];
  for (const [input, expected] of valid) it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(normalizeHost(input), expected));

  const invalid: Array<[string, RegExp]> = [
    ['256.1.1.1', /invalid IPv4 address; expected four numbers from 0 to 255/],
    ['01.2.3.4', /invalid IPv4 address/],
    ['[1.2.3.4]', /expected an IPv6 address inside the brackets/],
    ['[::g]', /expected an IPv6 address inside the brackets/],
    ['example.com:443', /expected a host without a port/],
    ['1::2::3', /invalid IPv6 address/],
    ['bad host', /spaces are not allowed/],
    ['a_b.example', /underscores/],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${JSON.stringify(input)}`, () => assert.throws(() => normalizeHost(input), (e: unknown) => e instanceof ValidationError && message.test(e.message)));
  }
});

describe('validatePort', () => {
  for (const [input, expected] of [[1, 1], [443, 443], [65535, 65535], ['8443', 8443]] as const) {
    it(`accepts ${JSON.stringify(input)}`, () => assert.equal(validatePort(input), expected));
  }
  for (const input of [0, 65536, -1, 1.5, Number.NaN, 'abc', '', null, undefined, '1e3']) {
    it(`refuses ${JSON.stringify(input)}`, () => assert.throws(() => validatePort(input), /expected an integer from 1 to 65535/));
  }
});

describe('parseEndpointSpec', () => {
  const valid: Array<[string, object]> = [
    ['example.com:443', { host: 'example.com', port: 443 }],
    ['example.com', { host: 'example.com', port: 443 }],
    ['Example.com:8443', { host: 'example.com', port: 8443 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['[2001:db8::1]', { host: '2001:db8::1', port: 443 }],
    ['192.0.2.1:993', { host: '192.0.2.1', port: 993 }],
    ['example.com:443@[::1]', { host: 'example.com', port: 443, address: '::1' }],
    ['example.com:443@::1', { host: 'example.com', port: 443, address: '::1' }],
    ['example.com:443@192.0.2.7', { host: 'example.com', port: 443, address: '192.0.2.7' }],
    ['example.com@lb.internal', { host: 'example.com', port: 443, address: 'lb.internal' }],
    ['bücher.example:443', { host: 'xn--bcher-kva.example', port: 443 }],
    // Schemes (issue 12 §2): the protocol and its default port; implicit-TLS schemes stay tls.
    ['smtp://mail.example.com:587', { host: 'mail.example.com', port: 587, protocol: 'smtp' }],
    ['smtp://mail.example.com', { host: 'mail.example.com', port: 25, protocol: 'smtp' }],
    ['SUBMISSION://mail.example.com/', { host: 'mail.example.com', port: 587, protocol: 'smtp' }],
    ['imap://mail.example.com@192.0.2.9', { host: 'mail.example.com', port: 143, address: '192.0.2.9', protocol: 'imap' }],
    ['pop3://[2001:db8::5]', { host: '2001:db8::5', port: 110, protocol: 'pop3' }],
    ['ftp://ftp.example.com', { host: 'ftp.example.com', port: 21, protocol: 'ftp' }],
    ['ldap://dir.example.com', { host: 'dir.example.com', port: 389, protocol: 'ldap' }],
    ['postgres://db.example.com', { host: 'db.example.com', port: 5432, protocol: 'postgres' }],
    ['xmpp://chat.example.com', { host: 'chat.example.com', port: 5222, protocol: 'xmpp' }],
    ['imaps://mail.example.com', { host: 'mail.example.com', port: 993 }],
    ['smtps://mail.example.com', { host: 'mail.example.com', port: 465 }],
    ['https://example.com:8443', { host: 'example.com', port: 8443 }],
  ];
  for (const [input, expected] of valid) it(`parses ${input}`, () => assert.deepEqual(parseEndpointSpec(input), expected));

  const invalid: Array<[string, RegExp]> = [
    ['', /empty; expected \[scheme:\/\/\]host\[:port\]\[@address\]/],
    ['smtpp://mail.example.com', /unknown scheme "smtpp"; expected one of https, tls, smtp, submission/],
    ['smtp://mail.example.com/inbox', /a path is not part of an endpoint/],
    ['::1:443', /IPv6 addresses need brackets/],
    ['[::1:443', /missing "\]"/],
    ['[::1]x', /unexpected "x" after "\]"/],
    ['example.com:0', /port "0": expected an integer from 1 to 65535/],
    ['example.com:http', /port "http": expected an integer/],
    ['example.com:443@', /nothing after "@"/],
    ['a@b@c', /more than one "@"/],
    [':443', /the host is missing/],
    ['bad_host.example:443', /underscores/],
    ['example.com:443@300.1.1.1', /address "300\.1\.1\.1": invalid IPv4 address/],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${JSON.stringify(input)}`, () => assert.throws(() => parseEndpointSpec(input), (e: unknown) => e instanceof ValidationError && message.test(e.message)));
  }
});

describe('normalizeDomainName: the plain-name shortcut agrees with the full check', () => {
  // A seeded generator (xorshift), so a failure names an input that can be replayed.
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed % n;
  };
  const ALPHABET = 'abcxyz0129-.-..*_AZ ';
  const outcome = (f: () => string): string => {
    try {
      return `ok ${f()}`;
    } catch (err) {
      return `error ${(err as Error).message}`;
    }
  };
  const samples: string[] = ['a', 'a.b', 'xn--bcher-kva.example', 'xn--abc.example', '1.2.3.4', 'a.0x7f', 'a.123', `${'a'.repeat(63)}.com`, `${'a'.repeat(64)}.com`,
    `${'a.'.repeat(126)}b`, `${'a.'.repeat(127)}b`, 'ab--cd.example', '-a.example', 'a-.example', 'a.example.', 'A.example', ' a.example'];
  for (let i = 0; i < 20_000; i++) {
    const len = 1 + rand(i % 100 === 0 ? 260 : 24);
    let s = '';
    for (let j = 0; j < len; j++) s += ALPHABET[rand(ALPHABET.length)];
    samples.push(s);
  }
  for (const minLabels of [1, 2, 3]) {
    it(`${samples.length} names, minLabels ${minLabels}`, () => {
      for (const s of samples) {
        const opts = { minLabels, allowWildcard: true, label: 'domain' };
        assert.equal(outcome(() => normalizeDomainName(s, opts)), outcome(() => normalizeDomainNameFully(s, opts)), JSON.stringify(s));
        // normalizeHost takes the same shortcut; where it returns a name unchanged, the full check must agree.
        const host = outcome(() => normalizeHost(s));
        if (host === `ok ${s}` && !isIpLiteral(s)) assert.equal(outcome(() => normalizeDomainNameFully(s, { label: 'host', minLabels: 1 })), host, JSON.stringify(s));
      }
    });
  }
});
