/**
 * A tiny template language for the nginx snippets (templates/nginx/*.conf), pure: no I/O.
 *
 *   {{name}}              the value of a variable, inserted as is (no escaping: every value is
 *                         validated before it gets here, see deploy/nginx/values.ts)
 *   {{#flag}}…{{/flag}}   the inside only when flag is true
 *   {{^flag}}…{{/flag}}   the inside only when flag is false
 *
 * Names are letters, digits and underscores, starting with a letter; spaces inside the braces
 * are allowed (`{{ name }}`). A section tag alone on its line takes the whole line with it, so
 * sections do not leave blank lines behind. There is no escape for a literal `{{`: nginx
 * configuration never needs one. Comments are nginx `#` comments (variables in them are
 * rendered too).
 *
 * Errors are ValidationErrors that start with "<label>:<line>: ".
 */
import { ValidationError } from './errors.js';
import { nearest } from './nearest.js';

export type TemplateNode =
  | { type: 'text'; text: string }
  | { type: 'variable'; name: string; line: number }
  | { type: 'section'; name: string; inverted: boolean; line: number; children: TemplateNode[] };

export interface Template {
  /** How messages name the template, usually its file path. */
  label: string;
  nodes: TemplateNode[];
}

export type TemplateValues = Record<string, string | boolean>;

/** What a variable is: a value inserted with {{name}}, or a flag that drives {{#name}} sections. */
export type VariableKind = 'value' | 'flag';

export interface VariableUse {
  name: string;
  kind: VariableKind;
  line: number;
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

function fail(label: string, line: number, message: string): never {
  throw new ValidationError(`${label}:${line}: ${message}`);
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

interface Tag {
  op: '' | '#' | '^' | '/';
  name: string;
  line: number;
  /** Source range the tag takes, widened to its whole line for a standalone section tag. */
  start: number;
  end: number;
}

/** Spaces, tabs, and the \r of a CRLF line end. */
function isBlank(s: string): boolean {
  return /^[ \t\r]*$/.test(s);
}

function scanTags(text: string, label: string): Tag[] {
  const tags: Tag[] = [];
  let pos = 0;
  for (;;) {
    const open = text.indexOf('{{', pos);
    if (open === -1) return tags;
    const line = lineAt(text, open);
    const close = text.indexOf('}}', open + 2);
    const newline = text.indexOf('\n', open);
    if (close === -1 || (newline !== -1 && newline < close)) {
      fail(label, line, 'unclosed tag: "{{" without "}}" on the same line (a tag is {{name}}, {{#name}}, {{^name}} or {{/name}})');
    }
    const raw = text.slice(open + 2, close);
    const inner = raw.trim();
    const op = inner[0] === '#' || inner[0] === '^' || inner[0] === '/' ? inner[0] : '';
    const name = inner.slice(op.length).trim();
    if (inner.includes('{{')) fail(label, line, `stray "{{" inside the tag {{${raw}}}`);
    if (!NAME.test(name)) {
      fail(label, line, `bad tag {{${raw}}}: expected a name of letters, digits and underscores starting with a letter, like {{name}}, {{#name}} or {{/name}}`);
    }
    let start = open;
    let end = close + 2;
    if (op !== '') {
      // A section tag alone on its line removes the line, indentation and newline included.
      const lineStart = text.lastIndexOf('\n', open - 1) + 1;
      const nl = text.indexOf('\n', end);
      const lineEnd = nl === -1 ? text.length : nl;
      if (isBlank(text.slice(lineStart, open)) && isBlank(text.slice(end, lineEnd))) {
        start = lineStart;
        end = nl === -1 ? text.length : nl + 1;
      }
    }
    tags.push({ op, name, line, start, end });
    pos = close + 2;
  }
}

/** Parse template text; throws ValidationError "<label>:<line>: …" for a syntax error. */
export function parseTemplate(text: string, label: string): Template {
  const tags = scanTags(text, label);
  const root: TemplateNode[] = [];
  const stack: { name: string; line: number; children: TemplateNode[] }[] = [];
  const current = (): TemplateNode[] => stack[stack.length - 1]?.children ?? root;
  let pos = 0;
  for (const tag of tags) {
    if (tag.start > pos) current().push({ type: 'text', text: text.slice(pos, tag.start) });
    pos = tag.end;
    if (tag.op === '') {
      current().push({ type: 'variable', name: tag.name, line: tag.line });
    } else if (tag.op === '/') {
      const open = stack.pop();
      if (!open) fail(label, tag.line, `{{/${tag.name}}} closes a section that was never opened`);
      if (open.name !== tag.name) {
        fail(label, tag.line, `{{/${tag.name}}} does not match the open section {{#${open.name}}} of line ${open.line}; close that one first`);
      }
    } else {
      const node: TemplateNode = { type: 'section', name: tag.name, inverted: tag.op === '^', line: tag.line, children: [] };
      current().push(node);
      stack.push({ name: tag.name, line: tag.line, children: node.children });
    }
  }
  const unclosed = stack[stack.length - 1];
  if (unclosed) fail(label, unclosed.line, `unclosed section {{#${unclosed.name}}}: expected {{/${unclosed.name}}} before the end of the file`);
  if (pos < text.length) root.push({ type: 'text', text: text.slice(pos) });
  return { label, nodes: root };
}

/** Every use of a variable, in the order it appears. */
export function templateVariables(template: Template): VariableUse[] {
  const out: VariableUse[] = [];
  const walk = (nodes: TemplateNode[]): void => {
    for (const n of nodes) {
      if (n.type === 'variable') out.push({ name: n.name, kind: 'value', line: n.line });
      else if (n.type === 'section') {
        out.push({ name: n.name, kind: 'flag', line: n.line });
        walk(n.children);
      }
    }
  };
  walk(template.nodes);
  return out;
}

function listKnown(known: readonly string[]): string {
  return known.length === 0 ? 'none' : known.join(', ');
}

/**
 * Check a template against the variables it may use: every name must be known, values used as
 * {{name}} and flags as sections. Throws ValidationError "<label>:<line>: …" naming the variable
 * and the known ones.
 */
export function checkTemplateVariables(template: Template, known: Readonly<Record<string, VariableKind>>): void {
  const names = Object.keys(known);
  for (const use of templateVariables(template)) {
    const kind = known[use.name];
    if (kind === undefined) {
      const near = nearest(use.name, names);
      fail(template.label, use.line, `unknown variable "${use.name}"${near ? ` (did you mean "${near}"?)` : ''}; this template knows: ${listKnown(names)}`);
    }
    if (kind !== use.kind) fail(template.label, use.line, misuse(use.name, kind));
  }
}

function misuse(name: string, kind: VariableKind): string {
  return kind === 'flag'
    ? `"${name}" is a flag (true or false): use it as a section {{#${name}}}…{{/${name}}}, not as {{${name}}}`
    : `"${name}" is a value, not a flag: insert it with {{${name}}} instead of opening a section with it`;
}

/**
 * Render with the given values. A variable without a value, a flag used as a value or the other
 * way round throws ValidationError "<label>:<line>: …" (checkTemplateVariables catches all of
 * these before any rendering).
 */
export function renderTemplate(template: Template, values: TemplateValues): string {
  const known = Object.keys(values);
  const lookup = (name: string, line: number): string | boolean => {
    if (!Object.hasOwn(values, name)) {
      const near = nearest(name, known);
      fail(template.label, line, `unknown variable "${name}"${near ? ` (did you mean "${near}"?)` : ''}; known: ${listKnown(known)}`);
    }
    return values[name] as string | boolean;
  };
  const render = (nodes: TemplateNode[]): string => {
    let out = '';
    for (const n of nodes) {
      if (n.type === 'text') out += n.text;
      else if (n.type === 'variable') {
        const v = lookup(n.name, n.line);
        if (typeof v !== 'string') fail(template.label, n.line, misuse(n.name, 'flag'));
        out += v;
      } else {
        const v = lookup(n.name, n.line);
        if (typeof v !== 'boolean') fail(template.label, n.line, misuse(n.name, 'value'));
        if (v !== n.inverted) out += render(n.children);
      }
    }
    return out;
  };
  return render(template.nodes);
}
