/**
 * `certs init`, `certs add`, `certs remove`: edit the config file in place, keeping comments and
 * layout, validating the whole result before an atomic write (a refused edit leaves the file as it was).
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isSeq, parseDocument, type Node, type YAMLSeq } from 'yaml';
import { ConfigError, IoError, ValidationError } from '../core/errors.js';
import type { Endpoint } from '../core/model.js';
import { normalizeDomainName, toUnicode } from '../core/names.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { appendDomainText, detectIndentSeq, removeDomainText } from './edit-text.js';
import { parseConfigDocument, parseConfigText, readConfigText } from './load.js';
import { STARTER_CONFIG } from './starter.js';
import { nearest } from '../core/nearest.js';
import type { DomainConfig } from './types.js';

export { STARTER_CONFIG } from './starter.js';

export interface AddDomainInput {
  name: string;
  altNames?: string[];
  endpoints?: Endpoint[];
  /** Write `managed: false`: check it, never renew it. */
  monitorOnly?: boolean;
  /** Relative paths are taken from `EditOptions.cwd` (the user's shell) and written relative to the config's folder. */
  files?: { cert: string; key?: string };
}

export interface EditOptions {
  /** For checking ${env:…} references; unresolvable ones are tolerated while editing. */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative `files` paths are relative to (default process.cwd()). */
  cwd?: string;
}

/** Write a small commented starter config; refuses to replace an existing file unless `force`. */
export function initConfig(path: string, opts: { force?: boolean } = {}): void {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  try {
    // 0600: the config is where SMTP passwords and EAB keys end up, even if via ${file:…}.
    writeFileAtomic(file, STARTER_CONFIG, 0o600, { overwrite: opts.force === true });
  } catch (err) {
    if (err instanceof IoError && err.code === 'exists') {
      throw new ConfigError('already exists; pass --force to overwrite it', { file }, { cause: err });
    }
    throw err;
  }
}

interface Loaded {
  file: string;
  text: string;
  mode: number;
  doc: Document.Parsed;
}

function open(path: string): Loaded {
  const file = resolve(path);
  const text = readConfigText(file);
  return { file, text, mode: statSync(file).mode & 0o7777, doc: parseConfigDocument(text, file).doc };
}

/** Names of the entries under `domains:` as the validator would see them (raw text when invalid). */
function domainNames(doc: Document): string[] {
  const seq = doc.get('domains', true);
  if (!isSeq(seq)) return [];
  return seq.items.map((item) => {
    const raw = isMap(item) ? item.get('name') : undefined;
    return typeof raw === 'string' ? lenientName(raw) : '';
  });
}

function lenientName(name: string): string {
  try {
    return normalizeDomainName(name, { allowWildcard: true, minLabels: 1 });
  } catch (err) {
    if (err instanceof ValidationError) return name.trim().toLowerCase();
    throw err;
  }
}

/** Check the edited text exactly as `loadConfig` would, then replace the file. */
function commit(loaded: Loaded, text: string, env: NodeJS.ProcessEnv | undefined) {
  const config = parseConfigText(text, loaded.file, { ...(env ? { env } : {}), missingSecrets: 'keep' });
  writeFileAtomic(loaded.file, text, loaded.mode);
  return config;
}

/** The spliced text when it means exactly what the Document edit means; else the Document's own rendering. */
function chooseText(original: string, spliced: string | null, expected: Document): string {
  if (spliced !== null) {
    const reparsed = parseDocument(spliced, { uniqueKeys: true });
    if (reparsed.errors.length === 0 && isDeepStrictEqual(reparsed.toJS(), expected.toJS())) return spliced;
  }
  return expected.toString({ indentSeq: detectIndentSeq(original), lineWidth: 0 });
}

function entryFor(input: AddDomainInput, name: string, configDir: string, cwd: string): Record<string, unknown> {
  const relPath = (p: string): string => {
    if (isAbsolute(p)) return p;
    const rel = relative(configDir, resolve(cwd, p));
    return rel.startsWith('..') ? rel : `./${rel}`;
  };
  const entry: Record<string, unknown> = { name: toUnicode(name) };
  if (input.altNames?.length) {
    entry.altNames = input.altNames.map((a) => toUnicode(normalizeDomainName(a, { allowWildcard: true, minLabels: 1, label: 'altName' })));
  }
  if (input.monitorOnly) entry.managed = false;
  if (input.endpoints) {
    entry.endpoints = input.endpoints.map((e) => ({ host: e.host, port: e.port, ...(e.address === undefined ? {} : { address: e.address }), ...(e.protocol === undefined || e.protocol === 'tls' ? {} : { protocol: e.protocol }) }));
  }
  if (input.files) entry.files = { cert: relPath(input.files.cert), ...(input.files.key ? { key: relPath(input.files.key) } : {}) };
  return entry;
}

/** Short lists on one line, as people write them by hand (`certs add`; `certs import` too). */
export function styleEntry(node: Node): Node {
  if (!isMap(node)) return node;
  const alt = node.get('altNames', true);
  if (isSeq(alt)) alt.flow = true;
  const endpoints = node.get('endpoints', true);
  if (isSeq(endpoints)) for (const e of endpoints.items) if (isMap(e)) e.flow = true;
  return node;
}

/** Add a domain to the config file. Returns it as the loader now sees it. */
export function addDomain(path: string, input: AddDomainInput, opts: EditOptions = {}): DomainConfig {
  const loaded = open(path);
  const name = normalizeDomainName(input.name, { allowWildcard: true, minLabels: 1 });
  const index = domainNames(loaded.doc).indexOf(name);
  if (index >= 0) {
    throw new ConfigError(`domain "${name}" is already in the config; edit it there or remove it first`, { file: loaded.file, keyPath: `domains[${index}].name` });
  }
  const entry = entryFor(input, name, dirname(loaded.file), opts.cwd ?? process.cwd());

  const expected = loaded.doc.clone();
  const domains = expected.get('domains', true);
  const node = styleEntry(expected.createNode(entry) as Node);
  if (isSeq(domains)) {
    if (domains.items.length === 0) domains.flow = false;
    domains.items.push(node);
  } else {
    expected.set('domains', expected.createNode([entry]));
    styleEntry((expected.get('domains', true) as YAMLSeq).items[0] as Node);
  }
  const rendered = new Document(entry);
  rendered.contents = styleEntry(rendered.contents as Node) as typeof rendered.contents;
  const text = chooseText(loaded.text, appendDomainText(loaded.text, loaded.doc, rendered), expected);

  const config = commit(loaded, text, opts.env);
  const added = config.domains.find((d) => d.name === name);
  if (!added) throw new ConfigError(`domain "${name}" was not found after adding it`, { file: loaded.file });
  return added;
}

/** Remove a domain (by primary name, any spelling that normalizes to it) and the comments right above it. */
export function removeDomain(path: string, name: string, opts: EditOptions = {}): void {
  const loaded = open(path);
  const names = domainNames(loaded.doc);
  const wanted = lenientName(name);
  const index = names.indexOf(wanted);
  if (index < 0) {
    // Suggest in the spelling people type (bücher.example, not xn--bcher-kva.example).
    const known = names.filter(Boolean).map(toUnicode);
    const near = nearest(toUnicode(wanted), known);
    const tail = near ? `; did you mean "${near}"?` : known.length ? `; the config has: ${known.join(', ')}` : '; the config has no domains';
    throw new ConfigError(`no domain "${toUnicode(wanted)}" to remove${tail}`, { file: loaded.file });
  }
  const expected = loaded.doc.clone();
  const seq = expected.get('domains', true) as YAMLSeq;
  seq.items.splice(index, 1);
  if (seq.items.length === 0) seq.flow = true;
  const text = chooseText(loaded.text, removeDomainText(loaded.text, loaded.doc, index), expected);
  commit(loaded, text, opts.env);
}
