/**
 * `certs import`: merge found domains into the config file, keeping its comments and layout.
 *
 *   const plan = planImport(configPath, entries);   // reads and validates; writes nothing
 *   if (plan.changed) applyImport(plan);            // atomic replace, refused if the file changed meanwhile
 *
 * Merge rules, per found entry, in order:
 * - It joins an existing domain (or one added earlier in the same import) that checks the same
 *   certificate file, else the one whose primary name or altNames contain its name, else any
 *   whose names contain one of its names.
 * - Joining adds the names and endpoints it lacks, and its certificate files when the entry has
 *   none; nothing else of the entry is touched.
 *   An entry without `endpoints:` gets its default endpoint written out before the new ones,
 *   so it keeps being scanned where it was.
 * - An endpoint (host, port, address) already listed anywhere in the file is never added again.
 * - Otherwise it becomes a new domain; one whose endpoints are all listed elsewhere already is
 *   skipped (the domain there covers it).
 * Existing entries are spliced in place (edit-text.ts), new ones appended after the last domain;
 * the result must parse to exactly what the Document edit means, else yaml renders the Document
 * (comments kept, spacing normalised). The new text is validated as `loadConfig` would.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isSeq, parseDocument, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import { ConfigError, ValidationError } from '../core/errors.js';
import type { Endpoint } from '../core/model.js';
import { isIpLiteral, normalizeDomainName, normalizeHost, toUnicode } from '../core/names.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { styleEntry } from './edit.js';
import { appendDomainText, detectIndentSeq, replaceDomainText } from './edit-text.js';
import { parseConfigDocument, parseConfigText, readConfigText } from './load.js';
import { formatEndpoint } from './schema-domains.js';
import type { DomainConfig } from './types.js';

export interface ImportEntry {
  name: string;
  altNames?: string[];
  endpoints: Endpoint[];
  /** Absolute paths. */
  files?: { cert: string; key?: string };
  /** false: written with `managed: false` (monitor only). */
  managed: boolean;
  /** Where it was found, for the report (e.g. "/etc/nginx/sites-enabled/a:3" or "hosts.txt:7"). */
  source?: string;
}

export type ImportAction = 'added' | 'extended' | 'unchanged' | 'skipped';

export interface ImportOutcome {
  /** The entry's own name. */
  name: string;
  /** The domain it went into, when that is another one (merged by certificate file or name). */
  into?: string;
  action: ImportAction;
  /** Endpoints and names this entry added. */
  endpoints: Endpoint[];
  altNames: string[];
  /** Certificate files it added (a new domain's, or an existing one's that had none). */
  files?: { cert: string; key?: string };
  /** Why it changed nothing. */
  reason?: string;
  source?: string;
}

export interface ImportPlan {
  file: string;
  before: string;
  after: string;
  mode: number;
  changed: boolean;
  outcomes: ImportOutcome[];
}

interface Slot {
  name: string;
  names: Set<string>;
  cert?: string;
  /** The endpoints it has (effective ones for an entry without `endpoints:`). */
  endpoints: Endpoint[];
  /** Index in the file's `domains:` list; null for one added by this import. */
  index: number | null;
  explicitEndpoints: boolean;
  added: { endpoints: Endpoint[]; altNames: string[]; files?: { cert: string; key?: string } };
  /** New entries: what will be written. */
  entry?: Record<string, unknown>;
}

const endpointNode = (e: Endpoint): Record<string, unknown> => ({ host: e.host, port: e.port, ...(e.address === undefined ? {} : { address: e.address }) });

function certName(n: string): string {
  const s = n.trim();
  return isIpLiteral(s) ? normalizeHost(s, { label: 'name' }) : normalizeDomainName(s, { allowWildcard: true, minLabels: 1, label: 'name' });
}

function slotsOf(domains: readonly DomainConfig[], doc: Document): Slot[] {
  const seq = doc.get('domains', true);
  return domains.map((d, i) => {
    const item = isSeq(seq) ? seq.items[i] : undefined;
    return {
      name: d.name,
      names: new Set([d.name, ...d.altNames]),
      ...(d.files ? { cert: d.files.cert } : {}),
      endpoints: [...d.endpoints],
      index: i,
      explicitEndpoints: isMap(item) && item.get('endpoints') != null,
      added: { endpoints: [], altNames: [] },
    };
  });
}

/** Short lists on one line, as `certs add` writes them, and the files mapping as well. */
function flowStyle(node: Node): Node {
  styleEntry(node);
  const files = isMap(node) ? node.get('files', true) : undefined;
  if (isMap(files)) files.flow = true;
  return node;
}

/** Plans the merge of `entries` into the config file at `path`; reads and validates, writes nothing. */
export function planImport(path: string, entries: readonly ImportEntry[], opts: { env?: NodeJS.ProcessEnv } = {}): ImportPlan {
  const file = resolve(path);
  const before = readConfigText(file);
  const mode = statSync(file).mode & 0o7777;
  const env = opts.env ?? process.env;
  const config = parseConfigText(before, file, { env, missingSecrets: 'keep' });
  const doc = parseConfigDocument(before, file).doc;
  const slots = slotsOf(config.domains, doc);
  const listed = new Map<string, Slot>();
  // Indexes, so that importing thousands of domains stays linear: certificate file → domain,
  // primary name → domain, any name → the first domain that has it.
  const byCert = new Map<string, Slot>();
  const byPrimary = new Map<string, Slot>();
  const byName = new Map<string, Slot>();
  const index = (s: Slot): void => {
    if (s.cert !== undefined && !byCert.has(s.cert)) byCert.set(s.cert, s);
    if (!byPrimary.has(s.name)) byPrimary.set(s.name, s);
    for (const n of s.names) if (!byName.has(n)) byName.set(n, s);
  };
  for (const s of slots) index(s);
  for (const s of slots) for (const e of s.endpoints) listed.set(formatEndpoint(e), s);
  const outcomes: ImportOutcome[] = [];

  for (const entry of entries) {
    const base = { name: entry.name, ...(entry.source ? { source: entry.source } : {}) };
    let names: string[];
    let endpoints: Endpoint[];
    try {
      names = [...new Set([entry.name, ...(entry.altNames ?? [])].map(certName))];
      endpoints = entry.endpoints.map((e) => ({ host: normalizeHost(e.host), port: e.port, ...(e.address === undefined ? {} : { address: normalizeHost(e.address, { label: 'address' }) }) }));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      outcomes.push({ ...base, action: 'skipped', endpoints: [], altNames: [], reason: err.message });
      continue;
    }
    const primary = names[0] as string;
    const slot =
      (entry.files ? byCert.get(entry.files.cert) : undefined) ??
      byPrimary.get(primary) ??
      byName.get(primary) ??
      names.map((n) => byName.get(n)).find((x) => x !== undefined);
    const fresh: Endpoint[] = [];
    const elsewhere = new Set<string>();
    for (const e of endpoints) {
      const key = formatEndpoint(e);
      const owner = listed.get(key);
      if (owner) {
        if (owner !== slot) elsewhere.add(owner.name);
        continue;
      }
      if (!fresh.some((f) => formatEndpoint(f) === key)) fresh.push(e);
    }
    const also = elsewhere.size > 0 ? `; ${[...elsewhere].map((n) => `"${toUnicode(n)}"`).join(', ')} already ${elsewhere.size === 1 ? 'lists' : 'list'} some of its endpoints` : '';

    if (!slot) {
      if (endpoints.length > 0 && fresh.length === 0) {
        outcomes.push({ ...base, action: 'skipped', endpoints: [], altNames: [], reason: `every endpoint is already listed${also.replace(/^; /, ': ')}` });
        continue;
      }
      const created: Slot = { name: primary, names: new Set(names), ...(entry.files ? { cert: entry.files.cert } : {}), endpoints: [...fresh], index: null, explicitEndpoints: true, added: { endpoints: [...fresh], altNames: names.slice(1) } };
      created.entry = {
        name: toUnicode(primary),
        ...(names.length > 1 ? { altNames: names.slice(1).map(toUnicode) } : {}),
        ...(entry.managed ? {} : { managed: false }),
        endpoints: fresh.map(endpointNode),
        ...(entry.files ? { files: { cert: entry.files.cert, ...(entry.files.key ? { key: entry.files.key } : {}) } } : {}),
      };
      slots.push(created);
      index(created);
      for (const e of fresh) listed.set(formatEndpoint(e), created);
      outcomes.push({ ...base, action: 'added', endpoints: fresh, altNames: names.slice(1), ...(entry.files ? { files: created.entry.files as { cert: string; key?: string } } : {}) });
      continue;
    }

    const newNames = names.filter((n) => !slot.names.has(n));
    const into = slot.name === primary ? {} : { into: slot.name };
    const files = entry.files && slot.cert === undefined ? { cert: entry.files.cert, ...(entry.files.key ? { key: entry.files.key } : {}) } : undefined;
    if (newNames.length === 0 && fresh.length === 0 && !files) {
      outcomes.push({ ...base, ...into, action: 'unchanged', endpoints: [], altNames: [], reason: `already in domain "${toUnicode(slot.name)}"${also}` });
      continue;
    }
    for (const n of newNames) slot.names.add(n);
    index(slot);
    slot.added.altNames.push(...newNames);
    slot.added.endpoints.push(...fresh);
    slot.endpoints.push(...fresh);
    for (const e of fresh) listed.set(formatEndpoint(e), slot);
    if (files) {
      slot.cert = files.cert;
      index(slot);
      slot.added.files = files;
    }
    if (slot.entry) {
      // Rebuilt, so the keys keep their order: name, altNames, managed, endpoints, files.
      const { name: n, altNames, ...rest } = slot.entry;
      const alts = [...((altNames as string[] | undefined) ?? []), ...newNames.map(toUnicode)];
      slot.entry = { name: n, ...(alts.length ? { altNames: alts } : {}), ...rest, endpoints: slot.endpoints.map(endpointNode), ...(files ? { files } : {}) };
    }
    outcomes.push({ ...base, ...into, action: slot.index === null ? 'added' : 'extended', endpoints: fresh, altNames: newNames, ...(files ? { files } : {}) });
  }

  const after = render(before, doc, slots);
  if (after !== before) parseConfigText(after, file, { env, missingSecrets: 'keep' });
  return { file, before, after, mode, changed: after !== before, outcomes };
}

/** The new text: extended entries spliced in place, new ones appended; the Document's rendering if splicing cannot be trusted. */
function render(before: string, doc: Document.Parsed, slots: readonly Slot[]): string {
  const expected = doc.clone();
  const extended = slots.filter((s) => s.index !== null && (s.added.endpoints.length > 0 || s.added.altNames.length > 0 || s.added.files));
  const added = slots.filter((s) => s.index === null);
  if (extended.length === 0 && added.length === 0) return before;

  let seq = expected.get('domains', true) as YAMLSeq | undefined;
  for (const s of extended) {
    const node = (seq as YAMLSeq).items[s.index as number] as YAMLMap;
    if (s.added.altNames.length > 0) {
      const alt = node.get('altNames', true);
      const more = s.added.altNames.map(toUnicode);
      if (isSeq(alt)) for (const n of more) alt.items.push(expected.createNode(n));
      else {
        const created = expected.createNode(more) as YAMLSeq;
        created.flow = true;
        node.set('altNames', created);
      }
    }
    if (s.added.files) {
      const f = expected.createNode(s.added.files) as YAMLMap;
      f.flow = true;
      node.set('files', f);
    }
    if (s.added.endpoints.length > 0) {
      const list = node.get('endpoints', true);
      const fresh = s.added.endpoints.map((e) => {
        const n = expected.createNode(endpointNode(e)) as YAMLMap;
        n.flow = true;
        return n;
      });
      if (isSeq(list) && s.explicitEndpoints) list.items.push(...fresh);
      else {
        // No `endpoints:` (or an empty one): write the default out, so it is still scanned.
        const kept = s.endpoints.filter((e) => !s.added.endpoints.includes(e)).map((e) => {
          const n = expected.createNode(endpointNode(e)) as YAMLMap;
          n.flow = true;
          return n;
        });
        const created = expected.createNode([]) as YAMLSeq;
        created.items.push(...kept, ...fresh);
        node.set('endpoints', created);
      }
    }
  }
  for (const s of added) {
    const node = flowStyle(expected.createNode(s.entry) as Node);
    if (isSeq(seq)) {
      if (seq.items.length === 0) seq.flow = false;
      seq.items.push(node);
    } else {
      expected.set('domains', expected.createNode([]));
      seq = expected.get('domains', true) as YAMLSeq;
      seq.flow = false;
      seq.items.push(node);
    }
  }

  const spliced = splice(before, doc, expected, extended, added);
  if (spliced !== null) {
    const reparsed = parseDocument(spliced, { uniqueKeys: true });
    if (reparsed.errors.length === 0 && isDeepStrictEqual(reparsed.toJS(), expected.toJS())) return spliced;
  }
  return expected.toString({ indentSeq: detectIndentSeq(before), lineWidth: 0 });
}

function splice(before: string, doc: Document.Parsed, expected: Document, extended: readonly Slot[], added: readonly Slot[]): string | null {
  let text = before;
  const seq = expected.get('domains', true) as YAMLSeq;
  // Last first: splicing item k leaves the offsets of the items before it as they were.
  for (const s of [...extended].sort((a, b) => (b.index as number) - (a.index as number))) {
    const node = (seq.items[s.index as number] as YAMLMap).clone();
    node.commentBefore = null;
    node.spaceBefore = false;
    const item = new Document();
    item.contents = node as unknown as typeof item.contents;
    const next = replaceDomainText(text, doc, s.index as number, item);
    if (next === null) return null;
    text = next;
  }
  if (added.length === 0) return text;
  // All new entries in one splice: one parse of the text, however many there are.
  const items = added.map((s) => {
    const item = new Document(s.entry);
    item.contents = flowStyle(item.contents as Node) as typeof item.contents;
    return item;
  });
  return appendDomainText(text, parseDocument(text, { uniqueKeys: true }), items);
}

/** Replaces the config file with the planned text; refused when the file changed since it was planned. */
export function applyImport(plan: ImportPlan): void {
  if (!plan.changed) return;
  let now: string;
  try {
    now = readFileSync(plan.file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read it again before writing: ${(err as Error).message}`, { file: plan.file }, { cause: err });
  }
  if (now !== plan.before) throw new ConfigError('changed while the import was planned; nothing written — run the import again', { file: plan.file });
  writeFileAtomic(plan.file, plan.after, plan.mode);
}
