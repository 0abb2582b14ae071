/** Read, parse, expand and validate the config file. Synchronous: it runs before anything else. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigCache } from './parse-cache.js';
import { fastTree } from './fast-yaml.js';
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import { ConfigError, errorMessage } from '../core/errors.js';
import { expandTree } from './expand.js';
import { rememberExpansions } from './shown.js';
import type { KeyPath } from './kit.js';
import { validateConfig } from './schema.js';
import type { Config, DomainConfig } from './types.js';

export const DEFAULT_CONFIG_PATH = 'config/certs.yaml';

export interface LoadOptions {
  /** Source of ${env:…} values (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** "keep" leaves unresolvable ${…} as written instead of failing (for editing without the service's secrets). */
  missingSecrets?: 'error' | 'keep';
}

/** --config, else $CERTS_CONFIG, else ./config/certs.yaml; always absolute. */
export function resolveConfigPath(cliOpt?: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const chosen = cliOpt !== undefined && cliOpt !== '' ? cliOpt : env.CERTS_CONFIG || DEFAULT_CONFIG_PATH;
  return resolve(cwd, chosen);
}

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;
/**
 * `yaml` takes ~50 ms to load; a large config without errors (fast path or cache) never needs
 * it, so it is loaded on first use (synchronously: config loading runs before anything else).
 */
function yaml(): YamlModule {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule);
}

export interface ParsedConfigDocument {
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

function describeNode(node: unknown): string {
  if (yaml().isScalar(node)) return node.value === null ? 'nothing' : `a ${typeof node.value} (${JSON.stringify(node.value)})`;
  return Array.isArray((node as { items?: unknown }).items) ? 'a list' : 'something else';
}

/** Parse YAML text into a Document, failing on syntax errors, warnings, an empty file or a non-mapping top level. */
export function parseConfigDocument(text: string, file: string): ParsedConfigDocument {
  const { LineCounter: Counter, parseDocument } = yaml();
  const lineCounter = new Counter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const pos = problem.linePos?.[0] ?? lineCounter.linePos(problem.pos[0]);
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const line = pos ? text.split(/\r?\n/)[pos.line - 1] : undefined;
    const snippet = line === undefined ? '' : `\n    ${line}\n    ${' '.repeat(Math.max(0, (pos?.col ?? 1) - 1))}^`;
    throw new ConfigError(`invalid YAML${where}: ${problem.message}${snippet}`, { file });
  }
  const contents = doc.contents;
  if (contents === null || (yaml().isScalar(contents) && contents.value === null)) {
    throw new ConfigError('the file is empty; expected a mapping of settings such as "domains:" (see config/certs.example.yaml)', { file });
  }
  if (!yaml().isMap(contents)) {
    throw new ConfigError(`the top level must be a mapping of settings (key: value), got ${describeNode(contents)}`, { file });
  }
  return { doc, lineCounter };
}

type Ranged = { range?: [number, number, number] | null } | null | undefined;

/** Where a key path starts: the key itself for mapping entries, the item for list entries. */
function offsetOf(doc: Document.Parsed, path: KeyPath): number | undefined {
  const last = path[path.length - 1];
  if (typeof last === 'string') {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    const { isMap, isScalar } = yaml();
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === last);
      const offset = (pair?.key as Ranged)?.range?.[0];
      if (offset !== undefined) return offset;
    }
  }
  return (doc.getIn(path, true) as Ranged)?.range?.[0];
}

/** " (line L, column C)" for the deepest node of `path` present in the document. */
function locator(getParsed: () => ParsedConfigDocument): (path: KeyPath) => string {
  return (path) => {
    const parsed = getParsed();
    for (let n = path.length; n > 0; n--) {
      const offset = offsetOf(parsed.doc, path.slice(0, n));
      if (offset === undefined) continue;
      const { line, col } = parsed.lineCounter.linePos(offset);
      return ` (line ${line}, column ${col})`;
    }
    return '';
  };
}

function domainsOf(tree: unknown): unknown {
  return tree !== null && typeof tree === 'object' ? (tree as Record<string, unknown>)['domains'] : undefined;
}

function toTree(parsed: ParsedConfigDocument, file: string): unknown {
  try {
    return parsed.doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml refuses alias bombs ("billion laughs") here rather than at parse time.
    throw new ConfigError(`invalid YAML: ${errorMessage(err)}`, { file }, { cause: err });
  }
}

/** Validate YAML text as the config file `file` (absolute) would be, without reading it. */
export function parseConfigText(text: string, file: string, opts: LoadOptions = {}): Config {
  return parseConfigSource(text, () => text, file, opts);
}

/**
 * `content` is the text, or the file's bytes: a large config found in the parse cache is never
 * decoded (12 MB of UTF-8 at 100,000 domains), `text()` is called only when it must be parsed.
 */
function parseConfigSource(content: string | Buffer, text: () => string, file: string, opts: LoadOptions): Config {
  const env = opts.env ?? process.env;
  // Without expressions the result depends on nothing but the text and the file's place.
  const plain = !content.includes('${');
  const cache = new ConfigCache(file, content, env);
  const cached = cache.get();

  // The document (with positions) is parsed only when needed: for the tree on a cache miss,
  // and for line numbers when something is wrong.
  let parsed: ParsedConfigDocument | undefined;
  const getParsed = () => (parsed ??= parseConfigDocument(text(), file));
  const raw = cached !== undefined ? cached.tree : (fastTree(text()) ?? toTree(getParsed(), file));
  const locate = locator(getParsed);
  const baseDir = dirname(file);
  const { value, expanded } = plain ? { value: raw, expanded: new Map<string, string>() } : expandTree(raw, {
    file,
    baseDir,
    env,
    missing: opts.missingSecrets ?? 'error',
    locate,
  });
  const domains: { validated?: DomainConfig[]; allPlain?: boolean } = cached?.domains ? { validated: cached.domains } : {};
  const config = validateConfig(value, { file, baseDir, expanded, locate, domains });
  // So that showing the config prints `${env:…}` as written, never the secret (config/shown.ts).
  rememberExpansions(config, expanded);
  // Only once validation passed: a tree that fails is parsed again, for its line numbers.
  // domains[] is kept validated when nothing in it came from ${…} (expandTree returns a subtree
  // it changed nothing in as it was) and every domain took the fast path.
  if (cached === undefined) cache.put(raw, domains.allPlain && domainsOf(value) === domainsOf(raw) ? config.domains : undefined);
  return config;
}

export function readConfigText(file: string): string {
  return readConfigBytes(file).toString('utf8');
}

function readConfigBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = 'create one with `certs init`, or pass --config or set CERTS_CONFIG';
    if (code === 'ENOENT') throw new ConfigError('config file not found', { file }, { hint, cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new ConfigError('config file is not readable (permission denied)', { file }, { cause: err });
    if (code === 'EISDIR') throw new ConfigError('is a directory; expected a YAML config file', { file }, { cause: err });
    throw new ConfigError(`cannot read the config file: ${errorMessage(err)}`, { file }, { cause: err });
  }
}

export function loadConfig(path: string, opts: LoadOptions = {}): Config {
  const file = resolve(path);
  const bytes = readConfigBytes(file);
  let text: string | undefined;
  return parseConfigSource(bytes, () => (text ??= bytes.toString('utf8')), file, opts);
}
