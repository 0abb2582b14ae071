import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchNginxGlob } from '../../../../src/deploy/nginx/glob.js';

describe('matchNginxGlob', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/e/conf.d/*.conf', '/e/conf.d/a.conf', true],
    ['/e/conf.d/*.conf', '/e/conf.d/a.conf.bak', false],
    ['/e/conf.d/*.conf', '/e/conf.d/sub/a.conf', false],
    ['/e/conf.d/*.conf', '/e/conf.d/.hidden.conf', false],
    ['/e/conf.d/.*.conf', '/e/conf.d/.hidden.conf', true],
    ['/e/conf.d/*', '/e/conf.d/a', true],
    ['/e/*/x.conf', '/e/sites/x.conf', true],
    ['/e/s?.conf', '/e/s1.conf', true],
    ['/e/s?.conf', '/e/s12.conf', false],
    ['/e/[ab].conf', '/e/b.conf', true],
    ['/e/[!ab].conf', '/e/b.conf', false],
    ['/e/[!ab].conf', '/e/c.conf', true],
    ['/e/a+b(1).conf', '/e/a+b(1).conf', true],
    ['/e/*.conf', '/e/a.conf', true],
  ];
  for (const [p, path, want] of cases) it(`${p} ~ ${path} → ${want}`, () => assert.equal(matchNginxGlob(p, path), want));
});
