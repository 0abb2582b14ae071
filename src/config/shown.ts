/**
 * The config as it may be shown (`certs list --json`, and anywhere else a part of it is printed):
 * a value that came from `${env:…}`/`${file:…}` is shown as written (the reference, never what it
 * expanded to), and a secret written inline is shown as "<redacted>".
 *
 * Which strings were expanded is known only while loading, by key path of the file; load.ts
 * records it here per Config object. Config keeps the file's key names and list order, so the
 * same key path finds a value in both.
 */
import type { Config } from './types.js';
import { formatKeyPath, type KeyPath } from './kit.js';

/** Keys whose value is a secret wherever they appear (see `secret()` in schema-common.ts). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['tsigSecret', 'hmacKey', 'pass', 'password', 'secret', 'token', 'accessToken', 'routingKey', 'keyEncryptionKey']);

/** Key paths whose value is a secret though their key name is not: a database URL may hold its password. */
export const SECRET_PATHS: ReadonlySet<string> = new Set(['store.url']);

export const REDACTED = '<redacted>';

/**
 * A notify.channels URL written inline: Discord and Teams put the credential in the path, ntfy
 * the topic (which is the only access control of a public ntfy server).
 */
function isChannelUrl(p: KeyPath): boolean {
  return p.length === 4 && p[0] === 'notify' && p[1] === 'channels' && typeof p[2] === 'number' && p[3] === 'url';
}

const expansions = new WeakMap<Config, ReadonlyMap<string, string>>();

/** Called by the loader: key path → text as written, for every string that held an expression. */
export function rememberExpansions(config: Config, expanded: ReadonlyMap<string, string>): void {
  if (expanded.size > 0) expansions.set(config, new Map(expanded));
}

/** Names of the environment variables the config reads through `${env:NAME}`. */
export function envReferences(config: Config): string[] {
  const names = new Set<string>();
  for (const text of expansions.get(config)?.values() ?? []) {
    for (const m of text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) names.add(m[1] as string);
  }
  return [...names];
}

/**
 * A JSON-ready copy of `value`, found at `path` in `config` (e.g. `config.domains` at
 * ['domains']), with expanded strings shown as written and inline secrets redacted.
 */
export function shownConfig(config: Config, value: unknown, path: KeyPath): unknown {
  const expanded = expansions.get(config);
  const walk = (v: unknown, p: KeyPath): unknown => {
    const last = p[p.length - 1];
    if (typeof v === 'string') {
      const written = expanded?.get(formatKeyPath(p));
      if (written !== undefined) return written;
      return (typeof last === 'string' && SECRET_KEYS.has(last)) || SECRET_PATHS.has(formatKeyPath(p)) || isChannelUrl(p) ? REDACTED : v;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...p, i]));
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...p, k])]));
    }
    return v;
  };
  return walk(value, path);
}
