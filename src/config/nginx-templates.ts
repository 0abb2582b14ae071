/**
 * The nginx snippet templates: where they are, which variables each may use, and loading them
 * (a user's nginx.templateDir overrides the bundled templates/nginx, file by file).
 *
 * This lives in config/ rather than deploy/ because config load checks a user's templates
 * (an unknown variable is a config error, reported before anything runs) and config must not
 * depend on a feature folder; deploy/templates.ts re-exports it for the code that renders.
 */
import { fileURLToPath } from 'node:url';
import type { Template, VariableKind } from '../core/template.js';
import { loadTemplateSet } from './template-set.js';

/** templates/nginx of this package: two levels up from src/config (tsx) or dist/config (built). */
export const BUNDLED_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/nginx/', import.meta.url));

export const NGINX_TEMPLATE_FILES = { ssl: 'ssl.conf', acmeChallenge: 'acme-challenge.conf' } as const;
export type NginxTemplateName = keyof typeof NGINX_TEMPLATE_FILES;

/** The variables each template may use; anything else is an error at config load. */
export const KNOWN_VARIABLES: Readonly<Record<NginxTemplateName, Readonly<Record<string, VariableKind>>>> = {
  ssl: {
    generatedBy: 'value',
    name: 'value',
    names: 'value',
    certificate: 'value',
    certificateKey: 'value',
    hsts: 'flag',
    hstsMaxAge: 'value',
    hstsIncludeSubDomains: 'flag',
  },
  acmeChallenge: {
    generatedBy: 'value',
    webroot: 'value',
  },
};

export interface NginxTemplates {
  ssl: Template;
  acmeChallenge: Template;
}

/**
 * Parse and check both templates: each from `templateDir` when it has the file, else the
 * bundled one. Throws ValidationError "<file>:<line>: …" for a syntax error or a variable the
 * template may not use, IoError for a folder or file that cannot be read.
 */
export function loadNginxTemplates(templateDir?: string): NginxTemplates {
  return loadTemplateSet({ bundledDir: BUNDLED_TEMPLATE_DIR, files: NGINX_TEMPLATE_FILES, known: KNOWN_VARIABLES }, templateDir);
}

/** loadNginxTemplates for its errors only: called at config load. */
export function checkNginxTemplates(templateDir?: string): void {
  loadNginxTemplates(templateDir);
}
