// A snippet that does not exist yet, included through a glob (issue #10 §2): nginx -T lists only
// files that exist, so the check must match the snippet's path against the include patterns the
// way nginx's glob(3) does, relative patterns resolved against nginx's conf folder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSnippetIncludes, type SnippetDomain } from '../../../src/deploy/nginx-check.js';
import { includeWouldMatch } from '../../../src/deploy/nginx/glob.js';

const NEW: SnippetDomain = { name: 'n.test', names: ['n.test'], snippet: '/etc/nginx/certs/n.test.conf' };

/** A dump whose nginx.conf has one TLS server block for n.test with `inServer` inside it; no snippet file exists. */
function dump(inServer: string, atHttp = ''): string {
  const conf = `events {}\nhttp {\n${atHttp}\n  ssl_certificate /etc/ssl/placeholder.pem;\n  ssl_certificate_key /etc/ssl/placeholder.key;\n  server {\n    listen 443 ssl;\n    server_name n.test;\n    ${inServer}\n  }\n}\n`;
  return `# configuration file /etc/nginx/nginx.conf:\n${conf}\n`;
}

const check = (text: string) => checkSnippetIncludes({ dump: text, domains: [NEW] }).domains[0]!;

describe('glob includes of a snippet not written yet', () => {
  for (const [label, line] of [
    ['absolute *.conf', 'include /etc/nginx/certs/*.conf;'],
    ['relative to the conf folder', 'include certs/*.conf;'],
    ['? and a class', 'include /etc/nginx/certs/n.tes[st]?conf;'],
    ['negated class', 'include /etc/nginx/certs/[!x]*.conf;'],
  ] as const) {
    it(`${label}: "${line}" counts as including it`, () => {
      const r = check(dump(line));
      assert.equal(r.included, true, JSON.stringify(r.problems));
      assert.deepEqual(r.problems, []);
      assert.deepEqual(r.servers.map((s) => s.includes), [1]);
    });
  }

  for (const [label, line] of [
    ['another folder', 'include /etc/nginx/other/*.conf;'],
    ['another extension', 'include /etc/nginx/certs/*.inc;'],
    ['* does not cross /', 'include /etc/nginx/*/*/*.conf;'],
    ['a class that excludes it', 'include /etc/nginx/certs/[!n]*.conf;'],
  ] as const) {
    it(`${label}: "${line}" does not`, () => {
      const r = check(dump(line));
      assert.equal(r.included, false);
      assert.deepEqual(r.problems.map((p) => p.code), ['not-included']);
    });
  }

  it('a glob at http level, outside the server block, is the outside-server warning, as for an existing file', () => {
    const r = check(dump('', '  include /etc/nginx/certs/*.conf;'));
    assert.deepEqual(r.problems.map((p) => p.code).sort(), ['included-outside-server', 'not-included']);
  });

  it('glob(3) details: a leading dot is matched literally, * never crosses /', () => {
    assert.equal(includeWouldMatch('/etc/nginx/certs/*.conf', '/etc/nginx/certs/.hidden.conf'), false);
    assert.equal(includeWouldMatch('/etc/nginx/certs/.*.conf', '/etc/nginx/certs/.hidden.conf'), true);
    assert.equal(includeWouldMatch('/etc/nginx/*/n.test.conf', '/etc/nginx/certs/n.test.conf'), true);
    assert.equal(includeWouldMatch('/etc/nginx/*', '/etc/nginx/certs/n.test.conf'), false);
    assert.equal(includeWouldMatch('/etc/nginx/certs/n.test.conf', '/etc/nginx/certs/n.test.conf'), true);
  });
});
