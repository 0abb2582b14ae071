/**
 * A cache of the loaded config, keyed by the config text's SHA-256. The `yaml` package keeps
 * every comment and position (which `certs add`/`remove` and our error messages need), and
 * pays for it: over a second for a 10,000-domain inventory, against a 0.5 s budget for
 * `certs status`, and validation of 10,000 domains costs another ~200 ms.
 *
 * What is cached depends on what the result can depend on:
 * - text without `${…}`: the validated Config itself — it depends only on the text and the
 *   file's location (both in the key) and on files that still exist (the caller re-checks);
 * - text with expressions: only the parsed tree, since secrets and the environment change;
 *   expansion and validation then run every time.
 * Any problem with the cache falls back to the full path: it can make a run faster, never wrong.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import type { Config } from './types.js';

/** Bump when parsing or validation changes what a given text loads to. */
const VERSION = 3;
/** Small files load in a few milliseconds: not worth a cache file. */
const MIN_BYTES = 64 * 1024;

export interface CacheEntry {
  tree: unknown;
  config?: Config;
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env['CERTS_CACHE_DIR']) return env['CERTS_CACHE_DIR'];
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'certs');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function jsonSafe(value: unknown): boolean {
  let safe = true;
  JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) safe = false;
    return v;
  });
  return safe;
}

export class ConfigCache {
  private readonly path: string | null;
  private readonly digest: string;

  constructor(private readonly file: string, text: string, private readonly env: NodeJS.ProcessEnv = process.env) {
    const enabled = text.length >= MIN_BYTES && !env['CERTS_NO_CACHE'];
    this.path = enabled ? join(cacheDir(env), `config-${sha256(file).slice(0, 24)}.json`) : null;
    this.digest = enabled ? sha256(text) : '';
  }

  get(): CacheEntry | undefined {
    if (!this.path) return undefined;
    try {
      const cached = JSON.parse(readFileSync(this.path, 'utf8')) as { v?: number; sha256?: string; file?: string } & CacheEntry;
      if (cached.v === VERSION && cached.sha256 === this.digest && cached.file === this.file) return cached;
    } catch (err) {
      // A missing or unreadable cache is the normal first run.
      void err;
    }
    return undefined;
  }

  put(entry: CacheEntry): void {
    if (!this.path || !jsonSafe(entry)) return;
    try {
      mkdirSync(join(this.path, '..'), { recursive: true, mode: 0o700 });
      writeFileAtomic(this.path, JSON.stringify({ v: VERSION, sha256: this.digest, file: this.file, ...entry }), 0o600);
    } catch (err) {
      // Read-only home, full disk: the cache is an optimisation, the run goes on without it.
      void err;
    }
  }
}
