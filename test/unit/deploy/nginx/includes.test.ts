import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNginxDump } from '../../../../src/deploy/nginx/dump.js';
import { resolveNginxIncludes } from '../../../../src/deploy/nginx/includes.js';
import type { NginxDirective } from '../../../../src/deploy/nginx/tokenizer.js';
import { dump } from './dump-text.js';

describe('resolveNginxIncludes', () => {
  const names = (list: NginxDirective[]): string[] => {
    const out: string[] = [];
    const walk = (l: NginxDirective[]): void => {
      for (const d of l) {
        out.push(d.name === 'include' ? `include ${d.args[0]} [${(d.included ?? []).map((f) => f.file).join(' ')}]` : d.name);
        if (d.block) walk(d.block);
        for (const f of d.included ?? []) walk(f.directives);
      }
    };
    walk(list);
    return out;
  };

  it('relative paths against the main file\'s folder, globs sorted, hidden files and subfolders skipped, nested includes', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([
      ['/etc/nginx/nginx.conf', 'http { include sites/*.conf; include /etc/nginx/common.conf; }'],
      ['/etc/nginx/sites/b.conf', 'b;'],
      ['/etc/nginx/common.conf', 'include snippets/x?.conf;'],
      ['/etc/nginx/sites/a.conf', 'a; include ../nginx/./snippets//deep.conf;'],
      ['/etc/nginx/sites/.hidden.conf', 'hidden;'],
      ['/etc/nginx/sites/sub/c.conf', 'c;'],
      ['/etc/nginx/snippets/x1.conf', 'x1;'],
      ['/etc/nginx/snippets/deep.conf', 'deep;'],
    ])));
    assert.deepEqual(names(r.directives), [
      'http',
      'include sites/*.conf [/etc/nginx/sites/a.conf /etc/nginx/sites/b.conf]',
      'a',
      'include ../nginx/./snippets//deep.conf [/etc/nginx/snippets/deep.conf]',
      'deep',
      'b',
      'include /etc/nginx/common.conf [/etc/nginx/common.conf]',
      'include snippets/x?.conf [/etc/nginx/snippets/x1.conf]',
      'x1',
    ]);
    assert.deepEqual(r.warnings, []);
  });

  it('the same file included twice is spliced twice (nginx -T printed it once)', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([
      ['/n/nginx.conf', 'include s.conf; include /n/s.conf;'],
      ['/n/s.conf', 's;'],
    ])));
    assert.deepEqual(names(r.directives), ['include s.conf [/n/s.conf]', 's', 'include /n/s.conf [/n/s.conf]', 's']);
  });

  it('an empty glob is fine; a named file missing from the dump is a warning', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([['/n/nginx.conf', 'include none/*.conf;\ninclude gone.conf;\ninclude a b;']])));
    assert.deepEqual(r.warnings, [
      '/n/nginx.conf:2: include gone.conf: /n/gone.conf is not in the nginx -T output (was the dump taken from another configuration?)',
      '/n/nginx.conf:3: include takes one argument, not 2',
    ]);
  });

  it('refuses include cycles, include chains past the depth limit and exponential expansion', () => {
    assert.throws(() => resolveNginxIncludes(parseNginxDump(dump([['/n/nginx.conf', 'include a.conf;'], ['/n/a.conf', 'include b.conf;'], ['/n/b.conf', 'include a.conf;']]))), /includes itself \(\/n\/nginx\.conf → \/n\/a\.conf → \/n\/b\.conf → \/n\/a\.conf\)/);
    const chain: Array<[string, string]> = [['/n/nginx.conf', 'include f0.conf;']];
    for (let i = 0; i < 60; i++) chain.push([`/n/f${i}.conf`, `include f${i + 1}.conf;`]);
    chain.push(['/n/f60.conf', 'x;']);
    assert.throws(() => resolveNginxIncludes(parseNginxDump(dump(chain))), /nested deeper than 50/);
    const bomb: Array<[string, string]> = [['/n/nginx.conf', 'include f0.conf; include f0.conf;']];
    for (let i = 0; i < 30; i++) bomb.push([`/n/f${i}.conf`, `include f${i + 1}.conf; include f${i + 1}.conf;`]);
    bomb.push(['/n/f30.conf', 'x;']);
    assert.throws(() => resolveNginxIncludes(parseNginxDump(dump(bomb)), { maxDirectives: 100_000 }), /more than 100000 directives once includes are spliced in/);
  });
});
