import type { X509Certificate } from 'node:crypto';

const CHECK_OPTIONS = { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false } as const;

/**
 * The configured names the certificate does not cover. A configured wildcard `*.example.com`
 * is covered only by a matching wildcard SAN, so it is tested through a label no one would
 * list explicitly.
 */
export function uncoveredNames(leaf: X509Certificate, names: readonly string[]): string[] {
  return names.filter((name) => {
    const probe = name.startsWith('*.') ? `certs-wildcard-probe${name.slice(1)}` : name;
    return leaf.checkHost(probe, CHECK_OPTIONS) === undefined;
  });
}
