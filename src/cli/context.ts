import type { Config } from '../config/types.js';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { envReferences } from '../config/shown.js';
import { setHookEnvPolicy } from '../lib/hook-env.js';

/** What every command gets from the global options. */
export interface GlobalOptions {
  config?: string;
  debug?: boolean;
  color?: boolean;
}

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  now: () => Date;
}

export function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, now: () => new Date() };
}

export function configFrom(opts: GlobalOptions): Config {
  const config = loadConfig(resolveConfigPath(opts.config));
  // Hooks and nginx commands run from now on see only what this config allows (lib/hook-env.ts).
  setHookEnvPolicy({ passEnv: config.hooks.passEnv, withhold: envReferences(config) });
  return config;
}
