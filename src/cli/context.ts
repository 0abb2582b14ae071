import type { Config } from '../config/types.js';
import { loadConfig, resolveConfigPath } from '../config/load.js';

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
  return loadConfig(resolveConfigPath(opts.config));
}
