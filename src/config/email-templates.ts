/**
 * The notification email templates: where they are, which variables each may use, and loading
 * them (a user's notify.templateDir overrides the bundled templates/email, file by file).
 *
 * Mirrors config/nginx-templates.ts: it lives in config/ because config load checks a user's
 * templates (an unknown variable is a config error, reported before anything runs), and
 * notify/render.ts renders what loadEmailTemplates returns.
 */
import { fileURLToPath } from 'node:url';
import type { Template, VariableKind } from '../core/template.js';
import { loadTemplateSet } from './template-set.js';

/** templates/email of this package: two levels up from src/config (tsx) or dist/config (built). */
export const BUNDLED_EMAIL_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/email/', import.meta.url));

export const EMAIL_TEMPLATE_FILES = { digestText: 'digest.txt', digestHtml: 'digest.html', test: 'test.txt' } as const;
export type EmailTemplateName = keyof typeof EMAIL_TEMPLATE_FILES;

/** hasRows, hasRest, hasStory and the table variables are additive (issue 14): templates written for the per-severity blocks keep working. */
const DIGEST_FLAGS = { hasCritical: 'flag', hasWarning: 'flag', hasRecovered: 'flag', hasInfo: 'flag', hasRows: 'flag', hasRest: 'flag', hasStory: 'flag' } as const;

/**
 * The variables each template may use; anything else is an error at config load. Every value is
 * a pre-rendered string (those of digest.html already HTML-escaped); flags are true or false.
 */
export const KNOWN_EMAIL_VARIABLES: Readonly<Record<EmailTemplateName, Readonly<Record<string, VariableKind>>>> = {
  digestText: {
    subject: 'value',
    story: 'value',
    summary: 'value',
    table: 'value',
    rest: 'value',
    criticalLines: 'value',
    warningLines: 'value',
    recoveredLines: 'value',
    infoLines: 'value',
    ...DIGEST_FLAGS,
    generatedAt: 'value',
    footer: 'value',
  },
  digestHtml: {
    subject: 'value',
    story: 'value',
    summary: 'value',
    tableHtml: 'value',
    rest: 'value',
    criticalHtml: 'value',
    warningHtml: 'value',
    recoveredHtml: 'value',
    infoHtml: 'value',
    ...DIGEST_FLAGS,
    generatedAt: 'value',
    footer: 'value',
  },
  test: {
    host: 'value',
    generatedAt: 'value',
  },
};

export type EmailTemplates = Record<EmailTemplateName, Template>;

/**
 * Parse and check every email template: each from `templateDir` when it has the file, else the
 * bundled one. Throws ValidationError "template <file>:<line>: …" for a syntax error or a variable
 * the template may not use, IoError for a folder or file that cannot be read, or a folder that
 * holds none of the template files.
 */
export function loadEmailTemplates(templateDir?: string): EmailTemplates {
  return loadTemplateSet({ bundledDir: BUNDLED_EMAIL_TEMPLATE_DIR, files: EMAIL_TEMPLATE_FILES, known: KNOWN_EMAIL_VARIABLES }, templateDir);
}

/** loadEmailTemplates for its errors only: called at config load. */
export function checkEmailTemplates(templateDir?: string): void {
  loadEmailTemplates(templateDir);
}
