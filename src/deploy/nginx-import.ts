/**
 * `certs import nginx`: the domains an nginx configuration serves over TLS, read from `nginx -T`
 * with the parser `certs nginx check` uses (nginx/analyse.ts). Pure: dump text in, domains out.
 *
 *   const { domains, skipped } = domainsFromNginxDump(await runNginxDump(argv, { timeoutMs }));
 *
 * Rules:
 * - A server block takes part when one of its listens is on an address:port that speaks TLS (some
 *   listen there has `ssl`, which makes every block there TLS, as in nginx). QUIC (UDP) listens and
 *   unix sockets are left out: the scanner dials TCP.
 * - Its certificate is its first `ssl_certificate` (server level, else inherited from `http`), its
 *   key the first `ssl_certificate_key`; relative paths resolve against the main file's folder, as
 *   nginx does. A certificate path with nginx variables (`$ssl_server_name`) or `data:` is skipped.
 * - One domain per certificate file: blocks sharing a file make one domain. Its name is the first
 *   server_name that is a DNS name (not `_`, not `~regex`, not `x.*`, not an IP, not a wildcard);
 *   the others (`*.x` kept, `.x` as x and `*.x`) are its altNames.
 * - One endpoint per TLS (address, port) of each block, dialled with the block's own first name as
 *   SNI; `address` is the listen's address unless it is a wildcard (`*`, `0.0.0.0`, `[::]`).
 * - What cannot be imported is reported in `skipped` with the reason, never an error.
 */
import { posix } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { Endpoint } from '../core/model.js';
import { isIpLiteral, normalizeDomainName, normalizeHost } from '../core/names.js';
import { analyseNginxDump, type NginxAnalysis } from './nginx/analyse.js';
import { expandIncludes } from './nginx/includes.js';
import type { NginxListen } from './nginx/listen.js';
import type { NginxServerBlock } from './nginx/servers.js';
import type { NginxLimits } from './nginx/tokenizer.js';

export interface ImportedDomain {
  /** Primary name (A-label form). */
  name: string;
  altNames: string[];
  endpoints: Endpoint[];
  files: { cert: string; key?: string };
  /** The server blocks it came from, as "file:line". */
  sources: string[];
}

export interface ImportSkip {
  /** What was not imported: a server block ("server at file:line"), a name, a listen. */
  what: string;
  reason: string;
  file?: string;
  line?: number;
}

export interface NginxImport {
  domains: ImportedDomain[];
  skipped: ImportSkip[];
  /** Server blocks read, and those of them that speak TLS. */
  serverBlocks: number;
  tlsServerBlocks: number;
  /** Include warnings of the parser (an include naming a file not in the dump, …). */
  warnings: string[];
}

const where = (s: { file: string; line: number }): string => `${s.file}:${s.line}`;

/** A server_name value as certificate names: [] when it is not one (with the reason). */
export function certNamesOf(raw: string): { names: string[]; reason?: string } {
  if (raw === '' || raw === '_') return { names: [], reason: 'a catch-all name' };
  if (raw.startsWith('~')) return { names: [], reason: 'a regular expression' };
  if (raw.includes('$')) return { names: [], reason: 'an nginx variable' };
  const v = raw.toLowerCase();
  if (v.endsWith('.*')) return { names: [], reason: 'a trailing wildcard (certificates have none)' };
  const check = (s: string, allowWildcard: boolean): string => normalizeDomainName(s, { allowWildcard, minLabels: 1, label: 'server_name' });
  try {
    if (isIpLiteral(v)) return { names: [], reason: 'an IP address' };
    if (v.startsWith('*.')) return { names: [check(v, true)] };
    if (v.startsWith('.') && v.length > 1) {
      const base = check(v.slice(1), false);
      return { names: [base, `*.${base}`] };
    }
    return { names: [check(v, false)] };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { names: [], reason: err.message.replace(/^server_name "[^"]*": /, '') };
  }
}

/** The address to dial for a listen: undefined for wildcards; null when it cannot be dialled. */
function dialAddress(l: NginxListen): string | undefined | null {
  if (l.port === null || l.address.startsWith('unix:')) return null;
  if (l.address === '*' || l.address === '[::]') return undefined;
  try {
    return normalizeHost(l.address, { label: 'listen address' });
  } catch (err) {
    if (err instanceof ValidationError) return null;
    throw err;
  }
}

/** A path as nginx would open it: variables and `data:` refused (null), relative ones resolved. */
function filePath(value: string, confPrefix: string): string | null {
  if (value === '' || value.includes('$') || value.startsWith('data:') || value.startsWith('engine:')) return null;
  return posix.normalize(value.startsWith('/') ? value : confPrefix + value);
}

/** ssl_certificate / ssl_certificate_key written at http level (inherited by server blocks without their own). */
function httpLevelSsl(analysis: NginxAnalysis): Array<{ name: string; value: string; file: string; line: number }> {
  const out: Array<{ name: string; value: string; file: string; line: number }> = [];
  for (const top of expandIncludes(analysis.resolved.directives)) {
    if (top.name !== 'http' || !top.block) continue;
    for (const d of expandIncludes(top.block)) {
      if (d.name === 'ssl_certificate' || d.name === 'ssl_certificate_key') out.push({ name: d.name, value: d.args[0] ?? '', file: d.file, line: d.line });
    }
  }
  return out;
}

const endpointKey = (e: Endpoint): string => `${e.host}|${e.port}|${e.address ?? ''}`;

/** The domains of a parsed dump (see the file comment for the rules). */
export function domainsFromNginx(analysis: NginxAnalysis): NginxImport {
  const tlsKeys = new Set(analysis.groups.filter((g) => g.tls).map((g) => g.key));
  const inherited = httpLevelSsl(analysis);
  const byCert = new Map<string, ImportedDomain>();
  const skipped: ImportSkip[] = [];
  let tlsServerBlocks = 0;

  for (const s of analysis.servers) {
    const tlsListens = s.listens.filter((l) => !l.implicit && !l.quic && tlsKeys.has(l.key));
    if (tlsListens.length === 0) continue;
    tlsServerBlocks++;
    const block = `server at ${where(s)}`;
    const skip = (reason: string, what = block, at: { file: string; line: number } = s): void => {
      skipped.push({ what, reason, file: at.file, line: at.line });
    };
    const ssl = s.sslDirectives.length > 0 ? s.sslDirectives : inherited;
    const certs = ssl.filter((d) => d.name === 'ssl_certificate');
    const keys = ssl.filter((d) => d.name === 'ssl_certificate_key');
    const certDirective = certs[0];
    if (!certDirective) {
      skip('listens with ssl but has no ssl_certificate');
      continue;
    }
    const cert = filePath(certDirective.value, analysis.dump.confPrefix);
    if (cert === null) {
      skip(`ssl_certificate ${JSON.stringify(certDirective.value)} is chosen at run time (nginx variables or data:); certs can only check a fixed file`);
      continue;
    }
    const names = namesOf(s, skip);
    const primary = names.find((n) => !n.startsWith('*.'));
    if (primary === undefined) {
      skip(`no server_name certs can scan (${s.serverNames.map((n) => JSON.stringify(n)).join(', ')}): a domain needs a DNS name that is not a wildcard`);
      continue;
    }
    const endpoints: Endpoint[] = [];
    for (const l of tlsListens) {
      const address = dialAddress(l);
      if (address === null) {
        skip(`listen ${l.args.join(' ')} cannot be dialled over TCP`, `listen at ${where(l)}`, l);
        continue;
      }
      endpoints.push({ host: primary, port: l.port as number, ...(address === undefined ? {} : { address }) });
    }
    if (endpoints.length === 0) {
      skip('none of its TLS listens can be dialled');
      continue;
    }
    const keyDirective = keys[0];
    const key = keyDirective ? filePath(keyDirective.value, analysis.dump.confPrefix) : null;
    if (keyDirective && key === null) skip(`ssl_certificate_key ${JSON.stringify(keyDirective.value)} is not a fixed file; importing the certificate without its key`, `key at ${where(keyDirective)}`, keyDirective);
    if (certs.length > 1) skip(`more than one ssl_certificate; importing the first (${cert})`, `ssl_certificate at ${where(certs[1] as { file: string; line: number })}`, certs[1]);

    const existing = byCert.get(cert);
    if (!existing) {
      byCert.set(cert, { name: primary, altNames: names.filter((n) => n !== primary), endpoints: dedupe(endpoints), files: { cert, ...(key ? { key } : {}) }, sources: [where(s)] });
      continue;
    }
    existing.sources.push(where(s));
    for (const n of names) if (n !== existing.name && !existing.altNames.includes(n)) existing.altNames.push(n);
    existing.endpoints = dedupe([...existing.endpoints, ...endpoints]);
    if (key && existing.files.key && key !== existing.files.key) skip(`uses ${cert} with another key (${key}); keeping ${existing.files.key}`);
    if (key && !existing.files.key) existing.files.key = key;
  }
  return { domains: [...byCert.values()], skipped, serverBlocks: analysis.servers.length, tlsServerBlocks, warnings: analysis.resolved.warnings };
}

/** The block's server_names as certificate names, in order, each once; the unusable ones reported. */
function namesOf(s: NginxServerBlock, skip: (reason: string, what?: string) => void): string[] {
  const out: string[] = [];
  for (const raw of s.serverNames) {
    const { names, reason } = certNamesOf(raw);
    if (reason && raw !== '' && raw !== '_') skip(`not a certificate name: ${reason}`, `server_name ${JSON.stringify(raw)} at ${where(s)}`);
    for (const n of names) if (!out.includes(n)) out.push(n);
  }
  return out;
}

function dedupe(endpoints: readonly Endpoint[]): Endpoint[] {
  const seen = new Set<string>();
  return endpoints.filter((e) => {
    const k = endpointKey(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** domainsFromNginx over `nginx -T` output. Throws ValidationError when the text is not a dump. */
export function domainsFromNginxDump(text: string, limits?: Partial<NginxLimits>): NginxImport {
  return domainsFromNginx(analyseNginxDump(text, limits));
}
