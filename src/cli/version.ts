/**
 * This build's version, from the package.json next to the code (src/ under tsx, dist/ when
 * built: both are two levels below it). npm_package_version is only set under `npm run`, and a
 * node records its version in the store for `certs status` (issue 16), so it must be right there.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function certsVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    cached = pkg.name === 'certs' && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    cached = process.env['npm_package_version'] ?? '0.0.0';
  }
  return cached;
}
