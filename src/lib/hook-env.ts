/**
 * The environment of programs we run: hooks (dns-01, pre/post/deploy) and nginx's test, reload and
 * dump commands. Not our whole environment: the daemon's holds SMTP passwords, webhook secrets and
 * TSIG keys, and a hook is often a third-party script. A program gets PATH, HOME, LANG, TZ, every
 * CERTS_* variable, the names listed in `hooks.passEnv`, and what the caller adds.
 */

/** Always passed when set. LC_* are not: LANG is enough for messages, and the list stays short. */
export const BASE_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'TZ'] as const;

export interface HookEnvPolicy {
  /** hooks.passEnv: passed when set. */
  passEnv: readonly string[];
  /** Variables the config reads secrets from: never passed as CERTS_* (passEnv still wins). */
  withhold: readonly string[];
}

let policy: HookEnvPolicy = { passEnv: [], withhold: [] };

/**
 * The policy of the config in effect, for every program run afterwards in this process. Set where
 * the CLI and the daemon load their config, so call sites deep in renew and deploy need not carry it.
 */
export function setHookEnvPolicy(p: HookEnvPolicy): void {
  policy = { passEnv: [...p.passEnv], withhold: [...p.withhold] };
}

/**
 * The environment for one program: the allowed part of `from` (default process.env), then `extra`
 * (CERTS_DOMAIN and the like), which wins.
 */
export function programEnv(extra: Record<string, string> = {}, p: HookEnvPolicy = policy, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  const allowed = new Set<string>([...BASE_ENV_NAMES, ...p.passEnv]);
  const withheld = new Set(p.withhold);
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (allowed.has(name) || (name.startsWith('CERTS_') && !withheld.has(name))) out[name] = value;
  }
  // Without PATH, spawn would look programs up in a default path; keep that explicit.
  out.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return { ...out, ...extra };
}
