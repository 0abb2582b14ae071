/**
 * The nginx snippet templates: where they are, which variables each may use, and loading them
 * (a user's nginx.templateDir overrides the bundled templates/nginx, file by file).
 *
 * This lives in config/ rather than deploy/ because config load checks a user's templates
 * (an unknown variable is a config error, reported before anything runs) and config must not
 * depend on a feature folder; deploy/templates.ts re-exports it for the code that renders.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoError, ValidationError, errorMessage } from '../core/errors.js';
import { checkTemplateVariables, parseTemplate, type Template, type VariableKind } from '../core/template.js';

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

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The text of a template file, or undefined when `optional` and the file does not exist. */
function readTemplate(file: string, optional: boolean): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    if (!fstatSync(fd).isFile()) throw new IoError('template-unreadable', `template ${file} is not a regular file`);
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof IoError) throw err;
    const code = errno(err);
    if (code === 'ENOENT' && optional) return undefined;
    if (code === 'ENOENT') throw new IoError('template-missing', `template ${file} not found (is the certs installation complete?)`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new IoError('template-unreadable', `template ${file} is not readable (permission denied)`, { cause: err });
    throw new IoError('template-unreadable', `cannot read template ${file}: ${errorMessage(err)}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function checkTemplateDir(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new IoError('template-dir-missing', `template folder ${dir} not found; expected a folder holding ssl.conf and/or acme-challenge.conf`, { cause: err });
    throw new IoError('template-dir-unreadable', `cannot use template folder ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  if (!isDir) throw new IoError('template-dir-missing', `${dir} is not a folder; expected a folder holding ssl.conf and/or acme-challenge.conf`);
}

/**
 * Parse and check both templates: each from `templateDir` when it has the file, else the
 * bundled one. Throws ValidationError "<file>:<line>: …" for a syntax error or a variable the
 * template may not use, IoError for a folder or file that cannot be read.
 */
export function loadNginxTemplates(templateDir?: string): NginxTemplates {
  if (templateDir !== undefined) checkTemplateDir(templateDir);
  const found: string[] = [];
  const load = (which: NginxTemplateName): Template => {
    const fileName = NGINX_TEMPLATE_FILES[which];
    let file = join(BUNDLED_TEMPLATE_DIR, fileName);
    let text: string | undefined;
    if (templateDir !== undefined) {
      const own = join(templateDir, fileName);
      text = readTemplate(own, true);
      if (text !== undefined) {
        file = own;
        found.push(fileName);
      }
    }
    text ??= readTemplate(file, false) as string;
    try {
      const template = parseTemplate(text, file);
      checkTemplateVariables(template, KNOWN_VARIABLES[which]);
      return template;
    } catch (err) {
      if (err instanceof ValidationError) throw new ValidationError(`template ${err.message}`, { cause: err });
      throw err;
    }
  };
  const templates = { ssl: load('ssl'), acmeChallenge: load('acmeChallenge') };
  if (templateDir !== undefined && found.length === 0) {
    throw new IoError('template-dir-empty', `template folder ${templateDir} holds neither ${NGINX_TEMPLATE_FILES.ssl} nor ${NGINX_TEMPLATE_FILES.acmeChallenge}; expected at least one of them (the bundled ones are in ${BUNDLED_TEMPLATE_DIR})`);
  }
  return templates;
}

/** loadNginxTemplates for its errors only: called at config load. */
export function checkNginxTemplates(templateDir?: string): void {
  loadNginxTemplates(templateDir);
}
