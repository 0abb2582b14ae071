import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import { checkTemplateVariables, parseTemplate, renderTemplate, templateVariables, type TemplateValues } from '../../../src/core/template.js';

const render = (text: string, values: TemplateValues): string => renderTemplate(parseTemplate(text, 't.conf'), values);

describe('renderTemplate', () => {
  const cases: { name: string; text: string; values: TemplateValues; out: string }[] = [
    { name: 'plain text passes through', text: 'ssl_protocols TLSv1.2;\n', values: {}, out: 'ssl_protocols TLSv1.2;\n' },
    { name: 'empty template', text: '', values: {}, out: '' },
    { name: 'a variable', text: 'ssl_certificate {{certificate}};\n', values: { certificate: '/c.pem' }, out: 'ssl_certificate /c.pem;\n' },
    { name: 'spaces inside the braces', text: 'x {{ name }} y', values: { name: 'a.com' }, out: 'x a.com y' },
    { name: 'the same variable twice', text: '{{a}}-{{a}}', values: { a: '1' }, out: '1-1' },
    { name: 'values are not re-parsed', text: '{{a}}', values: { a: '{{b}}' }, out: '{{b}}' },
    { name: 'inline section shown', text: 'max-age=1{{#sub}}; includeSubDomains{{/sub}}"', values: { sub: true }, out: 'max-age=1; includeSubDomains"' },
    { name: 'inline section hidden', text: 'max-age=1{{#sub}}; includeSubDomains{{/sub}}"', values: { sub: false }, out: 'max-age=1"' },
    { name: 'inverted section', text: '{{^on}}off{{/on}}{{#on}}on{{/on}}', values: { on: false }, out: 'off' },
    { name: 'standalone section lines vanish (shown)', text: 'a\n{{#f}}\nb\n{{/f}}\nc\n', values: { f: true }, out: 'a\nb\nc\n' },
    { name: 'standalone section lines vanish (hidden)', text: 'a\n{{#f}}\nb\n{{/f}}\nc\n', values: { f: false }, out: 'a\nc\n' },
    { name: 'indented standalone tags', text: 'a\n    {{#f}}  \n  b\n\t{{/f}}\nc', values: { f: true }, out: 'a\n  b\nc' },
    { name: 'standalone tag at the end without newline', text: '{{#f}}\nb\n{{/f}}', values: { f: true }, out: 'b\n' },
    { name: 'standalone tags with CRLF line ends', text: 'a\r\n{{#f}}\r\nb\r\n{{/f}}\r\nc\r\n', values: { f: true }, out: 'a\r\nb\r\nc\r\n' },
    { name: 'nested sections', text: '{{#a}}A{{#b}}B{{/b}}{{/a}}', values: { a: true, b: false }, out: 'A' },
    { name: 'variables inside a hidden section are not looked up', text: '{{#a}}{{x}}{{/a}}.', values: { a: false, x: 'v' }, out: '.' },
    { name: 'a lone }} is text', text: 'location / { return 200; }}', values: {}, out: 'location / { return 200; }}' },
    { name: 'nginx comments and variables', text: '# {{generatedBy}}\n', values: { generatedBy: 'managed by certs' }, out: '# managed by certs\n' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(render(c.text, c.values), c.out));
  }

  it('an unknown variable throws naming label:line, the variable and the known ones', () => {
    assert.throws(() => render('a\nb {{nmae}}\n', { name: 'x', names: 'x y' }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /^t\.conf:2: unknown variable "nmae" \(did you mean "name"\?\); known: name, names$/);
      return true;
    });
  });
  it('an unknown section throws too', () => {
    assert.throws(() => render('{{#hsts}}x{{/hsts}}', {}), /t\.conf:1: unknown variable "hsts"/);
  });
  it('a flag used as a value throws', () => {
    assert.throws(() => render('{{hsts}}', { hsts: true }), /t\.conf:1: "hsts" is a flag/);
  });
  it('a value used as a section throws', () => {
    assert.throws(() => render('{{#name}}x{{/name}}', { name: 'a' }), /t\.conf:1: "name" is a value, not a flag/);
  });
  it('does not take inherited properties as values', () => {
    assert.throws(() => render('{{toString}}', {}), /unknown variable "toString"/);
  });
});

describe('parseTemplate syntax errors', () => {
  const cases: { name: string; text: string; error: RegExp }[] = [
    { name: 'unclosed section', text: 'a\n{{#hsts}}\nb\n', error: /^t\.conf:2: unclosed section \{\{#hsts\}\}/ },
    { name: 'close without open', text: 'a\n\n{{/hsts}}', error: /^t\.conf:3: \{\{\/hsts\}\} closes a section that was never opened/ },
    { name: 'mismatched close', text: '{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}', error: /^t\.conf:3: \{\{\/a\}\} does not match the open section \{\{#b\}\} of line 2/ },
    { name: 'stray {{ without }}', text: 'x\ny {{name\n}}', error: /^t\.conf:2: unclosed tag/ },
    { name: 'stray {{ at the end', text: 'x {{', error: /^t\.conf:1: unclosed tag/ },
    { name: 'stray {{ inside a tag', text: 'x {{ {{name}}', error: /^t\.conf:1: stray "\{\{"/ },
    { name: 'empty tag', text: '{{}}', error: /^t\.conf:1: bad tag \{\{\}\}/ },
    { name: 'bad name (dash)', text: '\n{{ssl-cert}}', error: /^t\.conf:2: bad tag \{\{ssl-cert\}\}/ },
    { name: 'bad name (leading digit)', text: '{{1a}}', error: /bad tag/ },
    { name: 'bad name (dotted)', text: '{{a.b}}', error: /bad tag/ },
    { name: 'bad name (triple mustache)', text: '{{{name}}}', error: /bad tag|stray/ },
    { name: 'section without a name', text: '{{#}}x{{/}}', error: /bad tag \{\{#\}\}/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(() => parseTemplate(c.text, 't.conf'), (err: unknown) => {
        assert.ok(err instanceof ValidationError, String(err));
        assert.match(err.message, c.error);
        return true;
      });
    });
  }
});

describe('templateVariables and checkTemplateVariables', () => {
  const t = parseTemplate('# {{generatedBy}}\n{{#hsts}}\nmax-age={{hstsMaxAge}}{{^sub}}!{{/sub}}\n{{/hsts}}\n', 'ssl.conf');

  it('lists every use with its kind and line, in order', () => {
    assert.deepEqual(templateVariables(t), [
      { name: 'generatedBy', kind: 'value', line: 1 },
      { name: 'hsts', kind: 'flag', line: 2 },
      { name: 'hstsMaxAge', kind: 'value', line: 3 },
      { name: 'sub', kind: 'flag', line: 3 },
    ]);
  });
  it('accepts a template that uses known variables the right way', () => {
    checkTemplateVariables(t, { generatedBy: 'value', hsts: 'flag', hstsMaxAge: 'value', sub: 'flag', unused: 'value' });
  });
  it('refuses an unknown variable naming label:line and the known ones', () => {
    assert.throws(() => checkTemplateVariables(t, { generatedBy: 'value', hsts: 'flag', sub: 'flag' }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.message, 'ssl.conf:3: unknown variable "hstsMaxAge" (did you mean "hsts"?); this template knows: generatedBy, hsts, sub');
      return true;
    });
  });
  it('refuses a flag inserted as a value and a value used as a section', () => {
    assert.throws(() => checkTemplateVariables(t, { generatedBy: 'flag', hsts: 'flag', hstsMaxAge: 'value', sub: 'flag' }), /^ValidationError: ssl\.conf:1: "generatedBy" is a flag/);
    assert.throws(() => checkTemplateVariables(t, { generatedBy: 'value', hsts: 'value', hstsMaxAge: 'value', sub: 'flag' }), /ssl\.conf:2: "hsts" is a value, not a flag/);
  });
});
