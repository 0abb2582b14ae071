/**
 * A cache of the parsed YAML tree, keyed by the config text's SHA-256. The `yaml` package
 * keeps every comment and position (which `certs add`/`remove` and our error messages need),
 * and pays for it: about 1.3 s for a 10,000-domain inventory, against a 0.5 s budget for
 * `certs status`. Only parsing is cached; expansion of secrets and validation run every
 * time, so a changed environment or file is always seen. Any problem with the cache falls
 * back to parsing: it can make a run faster, never wrong.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

const VERSION = 1;
/** Small files parse in a few milliseconds: not worth a cache file. */
const MIN_BYTES = 64 * 1024;

function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env['CERTS_CACHE_DIR']) return env['CERTS_CACHE_DIR'];
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'certs');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function jsonSafe(tree: unknown): boolean {
  let safe = true;
  JSON.stringify(tree, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) safe = false;
    return v;
  });
  return safe;
}

export function cachedParse(file: string, text: string, parse: () => unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  if (text.length < MIN_BYTES || env['CERTS_NO_CACHE']) return parse();
  const dir = cacheDir(env);
  const path = join(dir, `config-${sha256(file).slice(0, 24)}.json`);
  const digest = sha256(text);
  try {
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { v?: number; sha256?: string; tree?: unknown };
    if (cached.v === VERSION && cached.sha256 === digest) return cached.tree;
  } catch (err) {
    // A missing or unreadable cache is the normal first run; parse below.
    void err;
  }
  const tree = parse();
  if (jsonSafe(tree)) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path, JSON.stringify({ v: VERSION, sha256: digest, tree }), 0o600);
    } catch (err) {
      // Read-only home, full disk: the cache is an optimisation, the run goes on without it.
      void err;
    }
  }
  return tree;
}
