import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../../src/core/errors.js';
import { assertNginxSafeName, assertNginxSafePath } from '../../../../src/deploy/nginx/values.js';

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, String(err));
    assert.match(err.message, message);
    return true;
  });
}

describe('assertNginxSafePath', () => {
  const ok = [
    '/etc/nginx/snippets/certs',
    '/var/lib/certs/certs/_.example.com/current/fullchain.pem',
    '/srv/xn--caf-dma/key.pem',
    '/srv/café/cert.pem',
    '/a-b_c.d/e~f@g+h=i,j%k',
    '/',
  ];
  for (const p of ok) it(`accepts ${JSON.stringify(p)}`, () => assert.equal(assertNginxSafePath(p, 'files.cert'), p));

  const bad: [string, RegExp][] = [
    ['/etc/ssl/a.pem;include /etc/passwd', /files\.cert "\/etc\/ssl\/a\.pem;include \/etc\/passwd": ";" is not allowed in a path/],
    ['/etc/ssl/$(reboot).pem', /"\$" is not allowed/],
    ['/etc/ssl/`reboot`.pem', /"`" is not allowed/],
    ['/etc/ssl/a.pem\ninclude /etc/passwd;', /files\.cert "\/etc\/ssl\/a\.pem\\ninclude \/etc\/passwd;": a newline is not allowed/],
    ['/etc/ssl/a.pem\r', /a carriage return is not allowed/],
    ['/etc/my certs/a.pem', /a space is not allowed/],
    ['/etc/ssl/a\tb', /a tab is not allowed/],
    ['/etc/ssl/a\0b', /a NUL character is not allowed/],
    ['/etc/ssl/a\x1bb', /the control character U\+001B is not allowed/],
    ['/etc/ssl/a\x7fb', /the control character U\+007F is not allowed/],
    ['/etc/ssl/a\u0085b', /the control character U\+0085 is not allowed/],
    ['/etc/ssl/a\u00a0b', /the whitespace character U\+00A0 is not allowed/],
    ['/etc/ssl/a\u2028b', /the whitespace character U\+2028 is not allowed/],
    ['/etc/ssl/{a}.pem', /"\{" is not allowed/],
    ['/etc/ssl/a}.pem', /"\}" is not allowed/],
    ['/etc/ssl/"a".pem', /"\\"" is not allowed/],
    ["/etc/ssl/'a'.pem", /"'" is not allowed/],
    ['/etc/ssl/a#b.pem', /"#" is not allowed/],
    ['/etc/ssl/a\\b.pem', /"\\\\" is not allowed/],
    ['/etc/nginx/snippets/*.conf', /"\*" is not allowed/],
    ['relative/cert.pem', /files\.cert "relative\/cert\.pem": expected an absolute path/],
    ['', /files\.cert: expected an absolute path, got an empty string/],
  ];
  for (const [p, message] of bad) it(`refuses ${JSON.stringify(p)}`, () => refused(() => assertNginxSafePath(p, 'files.cert'), message));

  it('names the first forbidden character', () => {
    refused(() => assertNginxSafePath('/a b;c', 'x'), /^x "\/a b;c": a space is not allowed/);
  });
  it('refuses a non-string', () => {
    refused(() => assertNginxSafePath(42 as unknown as string, 'x'), /x: expected an absolute path, got number/);
  });
});

describe('assertNginxSafeName', () => {
  const ok = ['example.com', 'www.example.com', '*.example.com', 'localhost', 'xn--caf-dma.example', '192.0.2.10', '2001:db8::1', '::ffff:192.0.2.1', 'a-b.example.com'];
  for (const n of ok) it(`accepts ${JSON.stringify(n)}`, () => assert.equal(assertNginxSafeName(n, 'domain'), n));

  const bad: [string, RegExp][] = [
    ['a.com;include /etc/passwd', /^domain "a\.com;include \/etc\/passwd": ";" is not allowed in a name written into nginx configuration/],
    ['$(reboot).example.com', /"\$" is not allowed/],
    ['`reboot`.example.com', /"`" is not allowed/],
    ['a.com\nserver_name evil.com', /domain "a\.com\\nserver_name evil\.com": a newline is not allowed/],
    ['a.com{', /"\{" is not allowed/],
    ['a.com#', /"#" is not allowed/],
    ['a.com"', /"\\"" is not allowed/],
    ['a.com\\', /"\\\\" is not allowed/],
    ['a com', /a space is not allowed/],
    ['a.com\0', /a NUL character is not allowed/],
    ['Example.com', /not a normalised name; expected "example\.com"/],
    ['example.com.', /not a normalised name; expected "example\.com"/],
    ['café.example', /not a normalised name; expected "xn--caf-dma\.example"/],
    ['2001:DB8::1', /not a normalised IPv6 address; expected "2001:db8::1"/],
    ['[2001:db8::1]', /domain "\[2001:db8::1\]": invalid name/],
    ['a_b.example.com', /underscores are not allowed/],
    ['a.*.example.com', /wildcard/],
    ['a/b', /not a URL or path/],
    ['-a.example.com', /starts or ends with a hyphen/],
    ['', /domain: expected a DNS name or IP address, got an empty string/],
  ];
  for (const [n, message] of bad) it(`refuses ${JSON.stringify(n)}`, () => refused(() => assertNginxSafeName(n, 'domain'), message));
});
