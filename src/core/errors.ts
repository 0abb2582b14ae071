/**
 * One error family for the whole tool. Only src/cli turns these into exit codes and
 * messages; everything else throws or wraps them with context (keeping `cause`).
 */
export type ErrorKind = 'usage' | 'config' | 'validation' | 'scan' | 'store' | 'io' | 'internal';

export interface CertsErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class CertsError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options: CertsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.hint = options.hint;
  }
}

/** Bad input from the command line. */
export class UsageError extends CertsError {
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('usage', 'usage', message, options);
  }
}

/** A value that does not have the shape we need (a name, a port, a path). */
export class ValidationError extends CertsError {
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('validation', 'invalid', message, options);
  }
}

/** A config file problem: always names the file and, where known, the key path. */
export class ConfigError extends CertsError {
  readonly file: string | undefined;
  readonly keyPath: string | undefined;
  constructor(message: string, where: { file?: string; keyPath?: string } = {}, options: CertsErrorOptions = {}) {
    const prefix = [where.file, where.keyPath].filter(Boolean).join(': ');
    super('config', 'config', prefix ? `${prefix}: ${message}` : message, options);
    this.file = where.file;
    this.keyPath = where.keyPath;
  }
}

/** The database could not be opened, migrated or written. */
export class StoreError extends CertsError {
  constructor(code: string, message: string, options: CertsErrorOptions = {}) {
    super('store', code, message, options);
  }
}

/** A file could not be read or written. */
export class IoError extends CertsError {
  constructor(code: string, message: string, options: CertsErrorOptions = {}) {
    super('io', code, message, options);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
