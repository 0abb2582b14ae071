import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../../src/core/errors.js';
import { parseNginxDump } from '../../../../src/deploy/nginx/dump.js';
import { dump, shape } from './dump-text.js';

describe('parseNginxDump', () => {
  it('splits files, keeps each file\'s own line numbers and the main file\'s folder', () => {
    const d = parseNginxDump(dump([
      ['/etc/nginx/nginx.conf', 'events {}\nhttp {\n  include conf.d/*.conf;\n}'],
      ['/etc/nginx/conf.d/a.conf', '\nserver { listen 80; }'],
    ]));
    assert.equal(d.main, '/etc/nginx/nginx.conf');
    assert.equal(d.confPrefix, '/etc/nginx/');
    assert.deepEqual(d.files.map((f) => [f.path, f.dumpLine]), [['/etc/nginx/nginx.conf', 1], ['/etc/nginx/conf.d/a.conf', 6]]);
    assert.equal(d.files[1]?.directives[0]?.line, 2);
    assert.equal(d.files[1]?.directives[0]?.file, '/etc/nginx/conf.d/a.conf');
  });

  it('a header line repeating a printed path is a comment inside the file', () => {
    const d = parseNginxDump(dump([
      ['/n/nginx.conf', 'a;\n'],
      ['/n/b.conf', '# configuration file /n/nginx.conf:\nb;'],
    ]));
    assert.equal(d.files.length, 2);
    assert.deepEqual(shape(d.files[1]?.directives ?? []), [['b']]);
  });

  it('a file without a trailing newline and an empty file', () => {
    const d = parseNginxDump('# configuration file /n/nginx.conf:\na;\n# configuration file /n/empty.conf:\n\n# configuration file /n/c.conf:\nc;');
    assert.deepEqual(d.files.map((f) => shape(f.directives)), [[['a']], [], [['c']]]);
  });

  it('refuses text that is not nginx -T output, and oversized input', () => {
    assert.throws(() => parseNginxDump('events {}\n'), /does not look like the output of nginx -T/);
    assert.throws(() => parseNginxDump(`nginx: [emerg] x\n${dump([['/n/nginx.conf', 'a;']])}`), /text before the first/);
    assert.throws(() => parseNginxDump(dump([['/n/nginx.conf', 'a;']]), { maxChars: 10 }), /refusing more than 10/);
    assert.throws(() => parseNginxDump(dump([['/n/nginx.conf', 'http {']])), (e: unknown) => e instanceof ValidationError && /\/n\/nginx\.conf:\d+: unexpected end of file/.test(e.message));
  });
});
