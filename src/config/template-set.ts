/**
 * Loading a set of templates (nginx snippets, email messages): each file from the user's folder
 * when it has it, else the bundled one; every file parsed and its variables checked, so a bad
 * template is a config-load error naming file and line, never a surprise at render time.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, ValidationError, errorMessage } from '../core/errors.js';
import { checkTemplateVariables, parseTemplate, type Template, type VariableKind } from '../core/template.js';

export interface TemplateSet<N extends string> {
  bundledDir: string;
  files: Readonly<Record<N, string>>;
  known: Readonly<Record<N, Readonly<Record<string, VariableKind>>>>;
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

function listOf(files: readonly string[]): string {
  return files.length === 2 ? `${files[0]} and/or ${files[1]}` : `some of ${files.join(', ')}`;
}

function noneOf(files: readonly string[]): string {
  return files.length === 2 ? `neither ${files[0]} nor ${files[1]}` : `none of ${files.join(', ')}`;
}

function checkTemplateDir(dir: string, fileList: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new IoError('template-dir-missing', `template folder ${dir} not found; expected a folder holding ${fileList}`, { cause: err });
    throw new IoError('template-dir-unreadable', `cannot use template folder ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  if (!isDir) throw new IoError('template-dir-missing', `${dir} is not a folder; expected a folder holding ${fileList}`);
}

/**
 * Parses and checks every template of the set. Throws ValidationError "template <file>:<line>: …"
 * for a syntax error or a variable the template may not use, IoError for a folder or file that
 * cannot be read, or a folder that holds none of the set's files.
 */
export function loadTemplateSet<N extends string>(set: TemplateSet<N>, templateDir?: string): Record<N, Template> {
  const names = Object.keys(set.files) as N[];
  const fileList = listOf(names.map((n) => set.files[n]));
  if (templateDir !== undefined) checkTemplateDir(templateDir, fileList);
  const found: string[] = [];
  const out = {} as Record<N, Template>;
  for (const which of names) {
    const fileName = set.files[which];
    let file = join(set.bundledDir, fileName);
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
      checkTemplateVariables(template, set.known[which]);
      out[which] = template;
    } catch (err) {
      if (err instanceof ValidationError) throw new ValidationError(`template ${err.message}`, { cause: err });
      throw err;
    }
  }
  if (templateDir !== undefined && found.length === 0) {
    throw new IoError('template-dir-empty', `template folder ${templateDir} holds ${noneOf(names.map((n) => set.files[n]))}; expected at least one of them (the bundled ones are in ${set.bundledDir})`);
  }
  return out;
}
