import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigError } from '../../../src/core/errors.js';
import { configFixture } from '../../helpers/config-fixture.js';
import type { Config, PreflightConfig } from '../../../src/config/types.js';

const fx = configFixture('certs-acme-config-');

/** Each case gets its own file so messages can name it. */
const write = (text: string): string => fx.write(fx.caseDir(), text);
const load = (text: string): Config => fx.load(text);
const assertConfigError = (text: string, keyPath: string, message: RegExp): ConfigError => fx.assertConfigError(write(text), keyPath, message);

const DNS_HOOK = '{type: dns-01, hook: [/usr/local/bin/dns-hook]}';
const WEBROOT = '{type: http-01, webroot: /var/www/acme}';
const label = (n: number, c: string): string => c.repeat(n);
/** 63 + 63 + 63 + `last` characters and three dots. */
const longName = (last: number): string => `${label(63, 'a')}.${label(63, 'b')}.${label(63, 'c')}.${label(last, 'd')}`;

describe('acme: defaults and new keys', () => {
  it('fills every default for an empty acme section', () => {
    assert.deepEqual(load('acme: {}\n').acme, {
      issuers: [{ directory: 'letsencrypt' }],
      stickyIssuer: false,
      agreeToTerms: false,
      reuseKey: false,
      concurrency: 4,
      preflight: { enabled: true, httpPort: 80, timeoutMs: 10_000 },
      timeoutMs: 30_000,
    });
  });

  it('takes every new key as written', () => {
    const acme = load('acme: {reuseKey: true, concurrency: 16, timeoutMs: 60000, profile: shortlived, renewBeforeDays: 3, keyType: rsa3072}\n').acme;
    assert.deepEqual(acme, {
      issuers: [{ directory: 'letsencrypt' }],
      stickyIssuer: false,
      agreeToTerms: false,
      reuseKey: true,
      concurrency: 16,
      preflight: { enabled: true, httpPort: 80, timeoutMs: 10_000 },
      timeoutMs: 60_000,
      profile: 'shortlived',
      renewBeforeDays: 3,
      keyType: 'rsa3072',
    });
  });

  const preflight: Array<[string, PreflightConfig]> = [
    ['false', { enabled: false, httpPort: 80, timeoutMs: 10_000 }],
    ['true', { enabled: true, httpPort: 80, timeoutMs: 10_000 }],
    ['{}', { enabled: true, httpPort: 80, timeoutMs: 10_000 }],
    ['{enabled: false}', { enabled: false, httpPort: 80, timeoutMs: 10_000 }],
    ['{httpPort: 5002, timeoutMs: 2000}', { enabled: true, httpPort: 5002, timeoutMs: 2000 }],
    ['{resolver: 127.0.0.1}', { enabled: true, httpPort: 80, timeoutMs: 10_000, resolver: '127.0.0.1:53' }],
    ['{resolver: "127.0.0.1:8053"}', { enabled: true, httpPort: 80, timeoutMs: 10_000, resolver: '127.0.0.1:8053' }],
    ['{resolver: "[::1]:5353"}', { enabled: true, httpPort: 80, timeoutMs: 10_000, resolver: '[::1]:5353' }],
    ['{resolver: "::1"}', { enabled: true, httpPort: 80, timeoutMs: 10_000, resolver: '[::1]:53' }],
  ];
  for (const [text, expected] of preflight) {
    it(`preflight: ${text}`, () => assert.deepEqual(load(`acme: {preflight: ${text}}\n`).acme?.preflight, expected));
  }
});

describe('acme.challenge: propagation and hookTimeoutMs', () => {
  it('gives dns-01 the propagation defaults, and http-01 none', () => {
    assert.deepEqual(load(`acme: {challenge: ${DNS_HOOK}}\n`).acme?.challenge, {
      type: 'dns-01',
      hook: ['/usr/local/bin/dns-hook'],
      propagation: { timeoutMs: 120_000, intervalMs: 2000 },
    });
    assert.deepEqual(load('acme: {challenge: {type: dns-01, rfc2136: {server: 192.0.2.53}}}\n').acme?.challenge, {
      type: 'dns-01',
      rfc2136: { server: '192.0.2.53', port: 53 },
      propagation: { timeoutMs: 120_000, intervalMs: 2000 },
    });
    assert.deepEqual(load(`acme: {challenge: ${WEBROOT}}\n`).acme?.challenge, { type: 'http-01', webroot: '/var/www/acme' });
  });

  it('takes hookTimeoutMs with a hook', () => {
    assert.equal(load('acme: {challenge: {type: dns-01, hook: [h], hookTimeoutMs: 5000}}\n').acme?.challenge?.hookTimeoutMs, 5000);
    assert.equal(load(`acme: {challenge: ${DNS_HOOK}}\n`).acme?.challenge?.hookTimeoutMs, undefined, 'no default filled in: the solver has its own');
  });

  it('takes propagation timings', () => {
    const p = load('acme: {challenge: {type: dns-01, hook: [h], propagation: {timeoutMs: 30000, intervalMs: 500}}}\n').acme?.challenge?.propagation;
    assert.deepEqual(p, { timeoutMs: 30_000, intervalMs: 500 });
  });

  const servers: Array<[string, string]> = [
    ['ns1.example.com', 'ns1.example.com:53'],
    ['NS1.Example.COM.', 'ns1.example.com:53'],
    ['localhost', 'localhost:53'],
    ['" 192.0.2.53 "', '192.0.2.53:53'],
    ['"192.0.2.53:5353"', '192.0.2.53:5353'],
    ['"ns2.example.net:1053"', 'ns2.example.net:1053'],
    ['"[::1]:5353"', '[::1]:5353'],
    ['"[::1]"', '[::1]:53'],
    ['"::1"', '[::1]:53'],
    ['"2001:DB8:0:0:0:0:0:1"', '[2001:db8::1]:53'],
    ['"[2001:db8::53]:53"', '[2001:db8::53]:53'],
  ];
  for (const [input, expected] of servers) {
    it(`propagation server ${input} → ${expected}`, () => {
      const p = load(`acme: {challenge: {type: dns-01, hook: [h], propagation: {servers: [${input}]}}}\n`).acme?.challenge?.propagation;
      assert.deepEqual(p, { timeoutMs: 120_000, intervalMs: 2000, servers: [expected] });
    });
  }

  it('keeps the order of several servers', () => {
    const p = load('acme: {challenge: {type: dns-01, hook: [h], propagation: {servers: [b.example, "[::1]:5353", "192.0.2.1"]}}}\n').acme?.challenge?.propagation;
    assert.deepEqual(p?.servers, ['b.example:53', '[::1]:5353', '192.0.2.1:53']);
  });
});

describe('domains: new keys', () => {
  it('takes keyType, profile, renewBeforeDays and hooks, filling the hook timeout', () => {
    const [d] = load(
      'domains:\n' +
        '  - name: a.example\n' +
        '    keyType: ecdsa-p384\n' +
        '    profile: classic\n' +
        '    renewBeforeDays: 20\n' +
        '    hooks:\n' +
        '      pre: [/usr/local/bin/stop-haproxy]\n' +
        '      post: [/usr/local/bin/start-haproxy, --quiet]\n' +
        '      deploy: [systemctl, reload, haproxy]\n',
    ).domains;
    assert.deepEqual(d, {
      name: 'a.example',
      altNames: [],
      managed: true,
      endpoints: [{ host: 'a.example', port: 443 }],
      nginx: true,
      keyType: 'ecdsa-p384',
      profile: 'classic',
      renewBeforeDays: 20,
      hooks: {
        pre: ['/usr/local/bin/stop-haproxy'],
        post: ['/usr/local/bin/start-haproxy', '--quiet'],
        deploy: ['systemctl', 'reload', 'haproxy'],
        timeoutMs: 60_000,
      },
    });
  });

  it('takes a hook timeout and leaves unset hooks out', () => {
    assert.deepEqual(load('domains: [{name: a.example, hooks: {deploy: [x], timeoutMs: 5000}}]\n').domains[0]?.hooks, { deploy: ['x'], timeoutMs: 5000 });
  });

  it('leaves the new keys out when not set', () => {
    const [d] = load('domains: [{name: a.example}]\n').domains;
    for (const key of ['keyType', 'profile', 'renewBeforeDays', 'hooks', 'challenge']) assert.equal(key in d!, false, key);
  });

  it('takes a domain challenge with hookTimeoutMs and propagation', () => {
    const [d] = load(`acme: {challenge: ${WEBROOT}}\ndomains: [{name: a.example, challenge: {type: dns-01, hook: [h], hookTimeoutMs: 9000, propagation: {servers: ["[::1]:5353"]}}}]\n`).domains;
    assert.deepEqual(d?.challenge, { type: 'dns-01', hook: ['h'], hookTimeoutMs: 9000, propagation: { timeoutMs: 120_000, intervalMs: 2000, servers: ['[::1]:5353'] } });
  });

  const accepted: Array<[string, string]> = [
    ['a wildcard with dns-01 from acme.challenge', `acme: {challenge: ${DNS_HOOK}}\ndomains: [{name: "*.a.example", files: {cert: c.pem}}]\n`],
    ['a wildcard altName with dns-01 on the domain, over an http-01 default', `acme: {challenge: ${WEBROOT}}\ndomains: [{name: a.example, altNames: ["*.a.example"], challenge: ${DNS_HOOK}}]\n`],
    ['a monitor-only wildcard under an http-01 default', `acme: {challenge: ${WEBROOT}}\ndomains: [{name: "*.a.example", managed: false, files: {cert: c.pem}}]\n`],
    ['an IPv4 name with a domain profile', 'domains: [{name: 192.0.2.1, profile: shortlived}]\n'],
    ['an IPv6 name with a domain profile', 'domains: [{name: "2001:db8::1", profile: shortlived}]\n'],
    ['an IP altName under acme.profile', 'acme: {profile: shortlived}\ndomains: [{name: a.example, altNames: [192.0.2.1]}]\n'],
    ['a monitor-only IP name without a profile', 'domains: [{name: 192.0.2.1, managed: false}]\n'],
    ['a 253-character name', `domains: [{name: ${longName(61)}}]\n`],
    ['a 253-character name with its trailing dot', `domains: [{name: "${longName(61)}."}]\n`],
  ];
  for (const [what, text] of accepted) it(`accepts ${what}`, () => assert.ok(load(text).domains.length >= 1));

  it('stores an IP name in canonical form with its profile', () => {
    const domains = load('domains: [{name: "2001:DB8:0::1", profile: shortlived}, {name: 192.0.2.1, profile: shortlived}]\n').domains;
    assert.deepEqual(domains.map((d) => [d.name, d.profile]), [['2001:db8::1', 'shortlived'], ['192.0.2.1', 'shortlived']]);
  });
});

describe('errors name the key path', () => {
  const table: Array<[string, string, string, RegExp]> = [
    // unknown keys, with the nearest valid one
    ['acme.reusekey', 'acme: {reusekey: true}\n', 'acme.reusekey', /unknown key; did you mean "reuseKey"\?/],
    ['acme.preflight.httport', 'acme: {preflight: {httport: 80}}\n', 'acme.preflight.httport', /unknown key; did you mean "httpPort"\?/],
    ['acme.challenge.propogation', `acme: {challenge: {type: dns-01, hook: [h], propogation: {}}}\n`, 'acme.challenge.propogation', /did you mean "propagation"\?/],
    ['propagation.server', 'acme: {challenge: {type: dns-01, hook: [h], propagation: {server: [a.example]}}}\n', 'acme.challenge.propagation.server', /did you mean "servers"\?/],
    ['domain renewBefore', 'domains: [{name: a.example, renewBefore: 3}]\n', 'domains[0].renewBefore', /did you mean "renewBeforeDays"\?/],
    ['domain keytype', 'domains: [{name: a.example, keytype: rsa2048}]\n', 'domains[0].keytype', /did you mean "keyType"\?/],
    ['domain hook', 'domains: [{name: a.example, hook: {deploy: [x]}}]\n', 'domains[0].hook', /did you mean "hooks"\?/],
    ['hooks.deplyo', 'domains: [{name: a.example, hooks: {deplyo: [x]}}]\n', 'domains[0].hooks.deplyo', /did you mean "deploy"\?/],
    ['hooks.timeout', 'domains: [{name: a.example, hooks: {deploy: [x], timeout: 5}}]\n', 'domains[0].hooks.timeout', /did you mean "timeoutMs"\?/],

    // profile names
    ['profile with a space', 'acme: {profile: "short lived"}\n', 'acme.profile', /profile "short lived": expected letters, digits, "\.", "_" or "-"/],
    ['profile with ;', 'domains: [{name: a.example, profile: "classic; rm -rf /"}]\n', 'domains[0].profile', /profile "classic; rm -rf \/": expected letters, digits/],
    ['profile with $()', 'domains: [{name: a.example, profile: "$(id)"}]\n', 'domains[0].profile', /profile "\$\(id\)": expected letters/],
    ['profile with a newline', 'domains: [{name: a.example, profile: "classic\\nX-Evil: 1"}]\n', 'domains[0].profile', /profile "classic\\nX-Evil: 1": expected letters/],
    ['profile with a leading hyphen', 'acme: {profile: "-x"}\n', 'acme.profile', /profile "-x"/],
    ['profile of 65 characters', `acme: {profile: ${label(65, 'p')}}\n`, 'acme.profile', /expected letters, digits/],
    ['profile empty', 'acme: {profile: ""}\n', 'acme.profile', /expected an ACME profile name like "classic", got ""/],
    ['profile a number', 'acme: {profile: 7}\n', 'acme.profile', /expected an ACME profile name like "classic", got 7/],

    // hooks
    ['hooks with an empty argv', 'domains: [{name: a.example, hooks: {deploy: []}}]\n', 'domains[0].hooks.deploy', /empty; expected a command as a list of strings/],
    ['hooks with an empty argument', 'domains: [{name: a.example, hooks: {pre: [""]}}]\n', 'domains[0].hooks.pre[0]', /expected a non-empty string \(one argument\), got ""/],
    ['hooks with a shell string', 'domains: [{name: a.example, hooks: {post: "systemctl reload haproxy"}}]\n', 'domains[0].hooks.post', /expected a command as a list of strings.*got "systemctl reload haproxy"/],
    ['hooks timeout too short', 'domains: [{name: a.example, hooks: {deploy: [x], timeoutMs: 50}}]\n', 'domains[0].hooks.timeoutMs', /expected an integer from 100 to 3600000, got 50/],
    ['hooks not a mapping', 'domains: [{name: a.example, hooks: [x]}]\n', 'domains[0].hooks', /expected a mapping \(keys: pre, post, deploy, timeoutMs\), got a list/],

    // hookTimeoutMs and propagation where they do not belong
    ['hookTimeoutMs on http-01', 'acme: {challenge: {type: http-01, webroot: /w, hookTimeoutMs: 500}}\n', 'acme.challenge.hookTimeoutMs', /not used by http-01/],
    ['hookTimeoutMs on rfc2136', 'acme: {challenge: {type: dns-01, rfc2136: {server: 192.0.2.53}, hookTimeoutMs: 500}}\n', 'acme.challenge.hookTimeoutMs', /set without a hook/],
    ['hookTimeoutMs on a domain rfc2136', 'domains: [{name: a.example, challenge: {type: dns-01, rfc2136: {server: ns.example}, hookTimeoutMs: 500}}]\n', 'domains[0].challenge.hookTimeoutMs', /set without a hook/],
    ['hookTimeoutMs too small', 'acme: {challenge: {type: dns-01, hook: [h], hookTimeoutMs: 5}}\n', 'acme.challenge.hookTimeoutMs', /expected an integer from 100 to 3600000, got 5/],
    ['propagation on http-01', 'acme: {challenge: {type: http-01, standalone: {port: 5002}, propagation: {timeoutMs: 1000}}}\n', 'acme.challenge.propagation', /not used by http-01/],
    ['propagation on a domain http-01', 'domains: [{name: a.example, challenge: {type: http-01, webroot: /w, propagation: {}}}]\n', 'domains[0].challenge.propagation', /not used by http-01/],
    ['propagation servers empty', 'acme: {challenge: {type: dns-01, hook: [h], propagation: {servers: []}}}\n', 'acme.challenge.propagation.servers', /empty; leave it out/],
    ['propagation servers a string', 'acme: {challenge: {type: dns-01, hook: [h], propagation: {servers: ns1.example}}}\n', 'acme.challenge.propagation.servers', /expected a list of name servers/],
    ['propagation server a:b:c', 'acme: {challenge: {type: dns-01, hook: [h], propagation: {servers: [ns.example, "a:b:c"]}}}\n', 'acme.challenge.propagation.servers[1]', /server "a:b:c": invalid IPv6 address/],
    ['propagation server port 70000', 'acme: {challenge: {type: dns-01, hook: [h], propagation: {servers: ["[::1]:70000"]}}}\n', 'acme.challenge.propagation.servers[0]', /expected a port from 1 to 65535 after the colon, got "\[::1\]:70000"/],
    ['propagation interval too short', 'acme: {challenge: {type: dns-01, hook: [h], propagation: {intervalMs: 5}}}\n', 'acme.challenge.propagation.intervalMs', /expected an integer from 10 to 600000, got 5/],

    // renewBeforeDays, concurrency, timeouts
    ['domain renewBeforeDays 0', 'domains: [{name: a.example, renewBeforeDays: 0}]\n', 'domains[0].renewBeforeDays', /expected an integer from 1 to 3650, got 0/],
    ['domain renewBeforeDays 2.5', 'domains: [{name: a.example, renewBeforeDays: 2.5}]\n', 'domains[0].renewBeforeDays', /got 2\.5/],
    ['domain keyType typo', 'domains: [{name: a.example, keyType: ecdsa-256}]\n', 'domains[0].keyType', /did you mean "ecdsa-p256"\?/],
    ['concurrency 0', 'acme: {concurrency: 0}\n', 'acme.concurrency', /expected an integer from 1 to 64, got 0/],
    ['concurrency 65', 'acme: {concurrency: 65}\n', 'acme.concurrency', /got 65/],
    ['reuseKey "yes"', 'acme: {reuseKey: "yes"}\n', 'acme.reuseKey', /expected true or false, got "yes"/],
    ['acme timeoutMs 500', 'acme: {timeoutMs: 500}\n', 'acme.timeoutMs', /expected an integer from 1000 to 600000, got 500/],
    ['preflight a string', 'acme: {preflight: "off"}\n', 'acme.preflight', /expected a mapping \(keys: enabled, httpPort, resolver, timeoutMs\), got "off"/],
    ['preflight httpPort 0', 'acme: {preflight: {httpPort: 0}}\n', 'acme.preflight.httpPort', /expected an integer from 1 to 65535, got 0/],
    ['preflight timeoutMs 50', 'acme: {preflight: {timeoutMs: 50}}\n', 'acme.preflight.timeoutMs', /expected an integer from 100 to 600000, got 50/],
    ['resolver a:b:c', 'acme: {preflight: {resolver: "a:b:c"}}\n', 'acme.preflight.resolver', /server "a:b:c": invalid IPv6 address/],
    ['resolver port 70000', 'acme: {preflight: {resolver: "ns.example:70000"}}\n', 'acme.preflight.resolver', /expected a port from 1 to 65535 after the colon, got "ns\.example:70000"/],
    ['resolver port 0', 'acme: {preflight: {resolver: "127.0.0.1:0"}}\n', 'acme.preflight.resolver', /expected a port from 1 to 65535 after the colon/],
    ['resolver with a space', 'acme: {preflight: {resolver: "name server"}}\n', 'acme.preflight.resolver', /server "name server": invalid name: spaces are not allowed/],

    // wildcards need dns-01
    ['wildcard with http-01 from acme.challenge', `acme: {challenge: ${WEBROOT}}\ndomains: [{name: "*.a.example", files: {cert: c.pem}}]\n`, 'domains[0].name', /"\*\.a\.example": CAs issue wildcard names only through dns-01, but this domain uses http-01 \(from acme\.challenge\)/],
    ['wildcard altName with http-01 from acme.challenge', `acme: {challenge: ${WEBROOT}}\ndomains: [{name: a.example, altNames: [www.a.example, "*.a.example"]}]\n`, 'domains[0].altNames[1]', /"\*\.a\.example": CAs issue wildcard names only through dns-01.*\(from acme\.challenge\)/],
    ['wildcard with http-01 on the domain', `acme: {challenge: ${DNS_HOOK}}\ndomains: [{name: "*.a.example", files: {cert: c.pem}, challenge: {type: http-01, standalone: {}}}]\n`, 'domains[0].challenge.type', /only through dns-01, but this domain uses http-01; add challenge/],
    ['wildcard with an acme section but no challenge', 'acme: {email: ops@example.com}\ndomains: [{name: "*.a.example", files: {cert: c.pem}}]\n', 'domains[0].name', /"\*\.a\.example": CAs issue wildcard names only through dns-01, and no challenge is configured/],
    ['wildcard altName with an acme section but no challenge', 'acme: {}\ndomains: [{name: a.example, altNames: ["*.a.example"]}]\n', 'domains[0].altNames[0]', /no challenge is configured/],

    // IP names need a profile
    ['managed IPv4 name without a profile', 'acme: {}\ndomains: [{name: 192.0.2.1}]\n', 'domains[0].name', /"192\.0\.2\.1": public CAs issue for IP addresses only under a profile that allows them \(Let's Encrypt: "shortlived"\)/],
    ['managed IPv6 name without a profile', 'domains: [{name: "[2001:db8::1]"}]\n', 'domains[0].name', /"2001:db8::1": public CAs issue for IP addresses only under a profile/],
    ['managed IP altName without a profile', 'domains: [{name: a.example, altNames: [b.example, 192.0.2.7]}]\n', 'domains[0].altNames[1]', /"192\.0\.2\.7": public CAs issue for IP addresses only under a profile/],

    // managed-only keys on a monitor-only domain
    ...(['challenge: {type: http-01, webroot: /w}', 'keyType: rsa2048', 'profile: classic', 'renewBeforeDays: 10', 'hooks: {deploy: [x]}'].map((kv): [string, string, string, RegExp] => {
      const key = kv.split(':', 1)[0]!;
      return [`${key} on managed: false`, `domains: [{name: a.example, managed: false, ${kv}}]\n`, `domains[0].${key}`, /set on a monitor-only domain \(managed: false\), which is never renewed; remove it or set managed: true/];
    })),

    // names
    ['underscore name', 'domains: [{name: _acme-challenge.a.example}]\n', 'domains[0].name', /domain "_acme-challenge\.a\.example": invalid name: underscores are not allowed in certificate host names/],
    ['underscore altName', 'domains: [{name: a.example, altNames: [my_host.a.example]}]\n', 'domains[0].altNames[0]', /underscores are not allowed/],
    ['254-character name', `domains: [{name: ${longName(62)}}]\n`, 'domains[0].name', /invalid name: the name is 254 characters long; expected at most 253/],
    ['254-character altName', `domains: [{name: a.example, altNames: [${longName(62)}]}]\n`, 'domains[0].altNames[0]', /254 characters long; expected at most 253/],
  ];
  for (const [what, text, keyPath, message] of table) it(what, () => void assertConfigError(text, keyPath, message));

  it('points the line at the offending altName', () => {
    const err = assertConfigError('domains:\n  - name: a.example\n    altNames:\n      - b.example\n      - 192.0.2.7\n', 'domains[0].altNames[1]', /public CAs issue for IP addresses/);
    assert.match(err.message, /\(line 5, column \d+\)$/);
  });

  it('sanity: the long names are as long as their titles say', () => {
    assert.equal(longName(61).length, 253);
    assert.equal(longName(62).length, 254);
  });
});

describe('acme.issuers and stickyIssuer (issue 17)', () => {
  it('acme.directory and eab are a list of one issuer', () => {
    const acme = load('acme: {directory: "https://ca.test/dir", eab: {kid: k1, hmacKey: aGVsbG8}}\n').acme!;
    assert.deepEqual(acme.issuers, [{ directory: 'https://ca.test/dir', eab: { kid: 'k1', hmacKey: 'aGVsbG8' } }]);
    assert.equal(acme.directory, 'https://ca.test/dir');
    assert.equal(acme.stickyIssuer, false);
  });

  it('takes an ordered list, each with its own settings; directory is the first one', () => {
    const acme = load(
      'acme:\n  stickyIssuer: true\n  profile: classic\n  issuers:\n' +
        '    - {directory: letsencrypt, profile: shortlived, caaIdentities: [LetsEncrypt.org]}\n' +
        '    - {directory: zerossl, eab: {kid: k, hmacKey: c2VjcmV0}, email: ops@example.com, caFile: /etc/certs/zerossl-extra.pem}\n',
    ).acme!;
    assert.deepEqual(acme.issuers, [
      { directory: 'letsencrypt', profile: 'shortlived', caaIdentities: ['letsencrypt.org'] },
      { directory: 'zerossl', eab: { kid: 'k', hmacKey: 'c2VjcmV0' }, email: 'ops@example.com', caFile: '/etc/certs/zerossl-extra.pem' },
    ]);
    assert.equal(acme.directory, 'letsencrypt');
    assert.equal(acme.stickyIssuer, true);
    assert.equal(acme.profile, 'classic');
  });

  it('refuses directory or eab beside issuers', () => {
    assertConfigError('acme: {directory: letsencrypt, issuers: [{directory: zerossl}]}\n', 'acme.directory', /beside acme\.issuers/);
    assertConfigError('acme: {eab: {kid: k, hmacKey: aGVsbG8}, issuers: [{directory: zerossl}]}\n', 'acme.eab', /beside acme\.issuers/);
  });

  it('refuses an empty list, the same CA twice (shortcut and URL alike), unknown keys and bad values', () => {
    assertConfigError('acme: {issuers: []}\n', 'acme.issuers', /empty/);
    assertConfigError('acme: {issuers: [{directory: letsencrypt}, {directory: "https://acme-v02.api.letsencrypt.org/directory"}]}\n', 'acme.issuers[1].directory', /already issuer 0/);
    assertConfigError('acme: {issuers: [{directory: letsencrypt, dir: x}]}\n', 'acme.issuers[0].dir', /./);
    assertConfigError('acme: {issuers: [{profile: classic}]}\n', 'acme.issuers[0].directory', /directory/);
    assertConfigError('acme: {issuers: [{directory: letsencrpyt}]}\n', 'acme.issuers[0].directory', /did you mean "letsencrypt"/);
    assertConfigError('acme: {issuers: [{directory: letsencrypt, caaIdentities: ["not a name"]}]}\n', 'acme.issuers[0].caaIdentities[0]', /CAA/);
    assertConfigError('acme: {stickyIssuer: maybe}\n', 'acme.stickyIssuer', /./);
  });
});
