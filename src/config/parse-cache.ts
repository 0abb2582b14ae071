/**
 * A cache of the parsed tree of a large config, keyed by the config text's SHA-256. Only the
 * tree is cached, never the validated Config: validation reads files outside the text (caFile,
 * nginx and email templates), and a hand-kept list of what to re-check on a hit had already
 * missed one. So `validateConfig` runs on every load, cached or not.
 *
 * The one exception is domains[] when every domain took validation's fast path
 * (schema-domains.ts plainDomain) and no ${…} expression was expanded in it: that result is a
 * function of the list's own text and nothing else (no files, no environment, no other key), so
 * the validated list is cached in place of its tree. At 100,000 domains it is half the load.
 * DOMAINS_FAST_PATH (with the certs version) names the validation code that made it.
 *
 * The cache lives in a directory other users may reach ($XDG_CACHE_HOME, $CERTS_CACHE_DIR), and
 * a planted tree would become our config. A directory or file not owned by us, or writable by
 * group or others, is neither read nor written to.
 * Any problem with the cache falls back to parsing: it can make a run faster, never wrong.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { DOMAINS_FAST_PATH, packPlainDomains, unpackPlainDomains } from './schema-domains.js';
import type { DomainConfig } from './types.js';

/** What a hit gives: the tree, and domains[] validated when they could be (then absent from the tree). */
export interface CachedConfig {
  tree: unknown;
  domains?: DomainConfig[];
}

/** Bump when parsing changes what a given text loads to. */
const VERSION = 5;
/** Small files load in a few milliseconds: not worth a cache file. */
const MIN_BYTES = 64 * 1024;

function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env['CERTS_CACHE_DIR']) return env['CERTS_CACHE_DIR'];
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'certs');
}

/** The bytes of the file, or the text (hashed as its UTF-8, the same bytes for a UTF-8 file). */
function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function jsonSafe(value: unknown): boolean {
  let safe = true;
  JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) safe = false;
    return v;
  });
  return safe;
}

/** Ours alone: owned by this user and not writable by group or others. */
export function trustworthy(st: Stats, uid: number | undefined = process.getuid?.()): boolean {
  return (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

function dirTrusted(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && trustworthy(st);
  } catch (err) {
    void err; // missing: nothing to read, and put() creates it
    return false;
  }
}

export class ConfigCache {
  private readonly path: string | null;
  private readonly digest: string;

  /** `content`: the config text, or the file's bytes. */
  constructor(private readonly file: string, content: string | Buffer, env: NodeJS.ProcessEnv = process.env) {
    const enabled = content.length >= MIN_BYTES && !env['CERTS_NO_CACHE'];
    this.path = enabled ? join(cacheDir(env), `config-${sha256(file).slice(0, 24)}.json`) : null;
    this.digest = enabled ? sha256(content) : '';
  }

  /** The cached tree for this text, or undefined. */
  get(): CachedConfig | undefined {
    if (!this.path || !dirTrusted(dirname(this.path))) return undefined;
    try {
      // fstat the descriptor we read, so a file swapped after a check is not trusted.
      const fd = openSync(this.path, 'r');
      let body: string;
      try {
        const st = fstatSync(fd);
        if (!st.isFile() || !trustworthy(st)) return undefined;
        body = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
      const cached = JSON.parse(body) as { v?: number; sha256?: string; file?: string; tree?: unknown; domains?: unknown; validation?: string };
      if (cached.v !== VERSION || cached.sha256 !== this.digest || cached.file !== this.file) return undefined;
      if (cached.domains === undefined) return { tree: cached.tree };
      // Validated by other code: its tree without domains[] is of no use either.
      const domains = cached.validation === DOMAINS_FAST_PATH ? unpackPlainDomains(cached.domains) : undefined;
      return domains ? { tree: cached.tree, domains } : undefined;
    } catch (err) {
      void err; // a missing or unreadable cache is the normal first run
    }
    return undefined;
  }

  /** `domains`: the validated domains[] (see the top), kept in place of the tree's. */
  put(tree: unknown, domains?: DomainConfig[]): void {
    if (!this.path || !jsonSafe(tree)) return;
    let entry: object = { v: VERSION, sha256: this.digest, file: this.file, tree };
    if (domains !== undefined && tree !== null && typeof tree === 'object' && !Array.isArray(tree)) {
      const { domains: _raw, ...rest } = tree as Record<string, unknown>;
      entry = { v: VERSION, sha256: this.digest, file: this.file, tree: rest, validation: DOMAINS_FAST_PATH, domains: packPlainDomains(domains) };
    }
    try {
      const dir = dirname(this.path);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!dirTrusted(dir)) return;
      writeFileAtomic(this.path, JSON.stringify(entry), 0o600);
    } catch (err) {
      void err; // read-only home, full disk: the cache is an optimisation, the run goes on without it
    }
  }
}
