/**
 * Source-preserving edits of the `domains:` list. yaml's Document.toString() keeps comments but
 * re-spaces the whole file (inline comment columns, flow padding), which makes noisy diffs in a
 * git-tracked config; these functions splice text at the list's lines and leave every other byte
 * alone. They return null when the layout is unusual, and callers check every result by parsing
 * it again, falling back to the Document API.
 */
import { Document, isMap, isScalar, isSeq, type Node, type Pair, type YAMLSeq } from 'yaml';

class Lines {
  readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n' && i + 1 < text.length) this.starts.push(i + 1);
  }
  get count(): number {
    return this.starts.length;
  }
  start(i: number): number {
    return this.starts[i] ?? this.text.length;
  }
  /** Offset just past line i, including its newline. */
  end(i: number): number {
    return this.starts[i + 1] ?? this.text.length;
  }
  line(i: number): string {
    return this.text.slice(this.start(i), this.end(i)).replace(/\r?\n$/, '');
  }
  indexOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.start(mid) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  blank(i: number): boolean {
    return this.line(i).trim() === '';
  }
  comment(i: number): boolean {
    return this.line(i).trimStart().startsWith('#');
  }
  indent(i: number): number {
    return this.line(i).length - this.line(i).trimStart().length;
  }
}

interface ItemSpan {
  /** First line (attached comments included), last content line, column of the dash. */
  first: number;
  last: number;
  indent: number;
}

type Ranged = { range?: [number, number, number] | null };

/**
 * Lines of item k of a block sequence: comment lines right above its dash at the dash's column,
 * the dash line, and the following lines indented deeper (trailing blank lines excluded).
 */
function itemSpan(lines: Lines, seq: YAMLSeq, k: number): ItemSpan | null {
  const offset = (seq.items[k] as Ranged | undefined)?.range?.[0];
  if (offset === undefined) return null;
  let dash = offset - 1;
  while (dash >= 0 && /\s/.test(lines.text[dash] ?? '')) dash--;
  if (lines.text[dash] !== '-') return null;
  const dashLine = lines.indexOf(dash);
  const indent = dash - lines.start(dashLine);
  if (lines.line(dashLine).slice(0, indent).trim() !== '') return null;
  let first = dashLine;
  while (first > 0 && lines.comment(first - 1) && lines.indent(first - 1) === indent) first--;
  let last = dashLine;
  for (let j = dashLine + 1; j < lines.count; j++) {
    if (lines.blank(j)) continue;
    if (lines.indent(j) <= indent) break;
    last = j;
  }
  return { first, last, indent };
}

function domainsPair(doc: Document): Pair<unknown, unknown> | undefined {
  if (!isMap(doc.contents)) return undefined;
  return doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'domains');
}

/** Whether lists in this file are indented under their key (`key:\n  - a`) or not (`key:\n- a`). */
export function detectIndentSeq(text: string): boolean {
  const m = /^( *)[^\s#-][^\n]*:[ \t]*(#[^\n]*)?\r?\n( *)- /m.exec(text);
  return m ? (m[3] ?? '').length > (m[1] ?? '').length : true;
}

/** One domain entry as block YAML at the given dash column, ending with a newline. */
export function renderItem(item: Document, indent: number, indentSeq: boolean, flowCollectionPadding = false): string {
  const body = item.toString({ indent: 2, indentSeq, flowCollectionPadding, lineWidth: 0 });
  const pad = ' '.repeat(indent);
  return body
    .replace(/\n$/, '')
    .split('\n')
    .map((line, i) => (i === 0 ? `${pad}- ${line}` : line === '' ? '' : `${pad}  ${line}`))
    .join('\n')
    .concat('\n');
}

function keyLineInfo(lines: Lines, pair: Pair<unknown, unknown>): { line: number; indent: number; colon: number } | null {
  const keyRange = (pair.key as Ranged).range;
  if (!keyRange) return null;
  const colon = lines.text.indexOf(':', keyRange[1]);
  if (colon < 0) return null;
  const line = lines.indexOf(keyRange[0]);
  return { line, indent: keyRange[0] - lines.start(line), colon };
}

const withNewline = (s: string): string => (s === '' || s.endsWith('\n') ? s : `${s}\n`);

/** Append rendered domains (one, or several at once) to `domains:`, or null when the layout needs the Document API. */
export function appendDomainText(text: string, doc: Document, item: Document | readonly Document[]): string | null {
  const items = Array.isArray(item) ? (item as readonly Document[]) : [item as Document];
  const render = (indent: number, indentSeq: boolean, spaced = false): string => items.map((i) => renderItem(i, indent, indentSeq)).join(spaced ? '\n' : '');
  const lines = new Lines(text);
  const indentSeq = detectIndentSeq(text);
  const pair = domainsPair(doc);
  if (!pair) {
    if (!isMap(doc.contents) || doc.contents.flow) return null;
    return `${withNewline(text)}${text.trim() === '' ? '' : '\n'}domains:\n${render(indentSeq ? 2 : 0, indentSeq)}`;
  }
  const key = keyLineInfo(lines, pair);
  if (!key) return null;
  const childIndent = indentSeq ? key.indent + 2 : key.indent;
  const value = pair.value as Node | null;

  if (isSeq(value) && !value.flow && value.items.length > 0) {
    const n = value.items.length;
    const last = itemSpan(lines, value, n - 1);
    if (!last) return null;
    const spaced = n >= 2 && last.first > 0 && lines.blank(last.first - 1);
    const at = lines.end(last.last);
    const head = withNewline(text.slice(0, at));
    return `${head}${spaced ? '\n' : ''}${render(last.indent, indentSeq, spaced)}${text.slice(at)}`;
  }
  if (isSeq(value) && value.flow && value.items.length === 0 && value.range) {
    // `domains: []  # comment` → `domains:  # comment` followed by the new block item.
    let from = value.range[0];
    while (from > key.colon + 1 && text[from - 1] === ' ') from--;
    const to = value.range[1];
    const lineEnd = lines.end(lines.indexOf(to));
    const rest = text.slice(to, lineEnd);
    return `${text.slice(0, from)}${withNewline(rest)}${render(childIndent, indentSeq)}${text.slice(lineEnd)}`;
  }
  if (value === null || (isScalar(value) && value.value === null && value.source === '')) {
    // `domains:` with nothing after it: keep a commented-out example below it in place.
    let last = key.line;
    for (let j = key.line + 1; j < lines.count; j++) {
      if (lines.blank(j)) continue;
      if (!lines.comment(j) || lines.indent(j) <= key.indent) break;
      last = j;
    }
    const at = lines.end(last);
    return `${withNewline(text.slice(0, at))}${render(childIndent, indentSeq)}${text.slice(at)}`;
  }
  return null;
}

/** Remove item k of `domains:` with the comments directly above it, or null when the layout needs the Document API. */
export function removeDomainText(text: string, doc: Document, k: number): string | null {
  const lines = new Lines(text);
  const pair = domainsPair(doc);
  const seq = pair?.value;
  if (!pair || !isSeq(seq) || seq.flow) return null;
  const span = itemSpan(lines, seq, k);
  const key = keyLineInfo(lines, pair);
  if (!span || !key) return null;
  const from = lines.start(span.first);
  let toLine = span.last;
  // Keep the spacing pattern: do not leave two blank runs meeting, or a blank right under the key.
  if (k === 0 || (span.first > 0 && lines.blank(span.first - 1))) {
    while (toLine + 1 < lines.count && lines.blank(toLine + 1)) toLine++;
  }
  const to = lines.end(toLine);
  const spliced = `${text.slice(0, from)}${text.slice(to)}`;
  if (seq.items.length > 1) return spliced;
  // The list is now empty: say so, rather than leave `domains:` meaning null.
  return `${spliced.slice(0, key.colon + 1)} []${spliced.slice(key.colon + 1)}`;
}

/**
 * Replace item k of `domains:` (from its dash to its last line; the comments above it stay) with
 * a rendered entry, or null when the layout needs the Document API. `certs import` uses it to add
 * endpoints and names to an existing entry without re-spacing the rest of the file.
 */
export function replaceDomainText(text: string, doc: Document, k: number, item: Document): string | null {
  const lines = new Lines(text);
  const pair = domainsPair(doc);
  const seq = pair?.value;
  if (!pair || !isSeq(seq) || seq.flow) return null;
  const span = itemSpan(lines, seq, k);
  if (!span) return null;
  let dashLine = span.first;
  while (dashLine < span.last && lines.comment(dashLine)) dashLine++;
  const from = lines.start(dashLine);
  const to = lines.end(span.last);
  // yaml re-spaces what it renders (flow padding, the gap before an inline comment): a rendered
  // line that differs from an original line of the item only in spaces is replaced by the original.
  const original = new Map<string, string>();
  let padded = false;
  for (let j = dashLine; j <= span.last; j++) {
    original.set(lines.line(j).replace(/\s+/g, ''), lines.line(j));
    if (/[{[] [^\s#]/.test(lines.line(j))) padded = true;
  }
  const rendered = renderItem(item, span.indent, detectIndentSeq(text), padded)
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => original.get(l.replace(/\s+/g, '')) ?? l)
    .join('\n');
  return `${text.slice(0, from)}${rendered}\n${text.slice(to)}`;
}
