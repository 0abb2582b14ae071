/**
 * Config files for config-load tests: each case gets its own folder (so templates and messages
 * can name their files), removed after the file's tests; and one assertion for "a ConfigError
 * naming the file, the key path and the line".
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

export interface ConfigFixture {
  caseDir(): string;
  /** Writes certs.yaml into `folder`; returns its path. */
  write(folder: string, text: string): string;
  load(text: string, folder?: string): Config;
  /** Loads `file` and asserts a ConfigError "<file>: <keyPath>: …(line L, column C)" matching `message`. */
  assertConfigError(file: string, keyPath: string, message: RegExp): ConfigError;
}

/** Call at the top level of a test file: registers its own before/after. */
export function configFixture(prefix: string): ConfigFixture {
  let dir = '';
  let seq = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const caseDir = (): string => {
    const d = join(dir, `case${++seq}`);
    mkdirSync(d);
    return d;
  };
  const write = (folder: string, text: string): string => {
    const file = join(folder, 'certs.yaml');
    writeFileSync(file, text);
    return file;
  };
  return {
    caseDir,
    write,
    load: (text, folder = caseDir()) => loadConfig(write(folder, text), { env: {} }),
    assertConfigError(file, keyPath, message) {
      let caught: unknown;
      try {
        loadConfig(file, { env: {} });
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
      assert.equal(caught.file, file);
      assert.equal(caught.keyPath, keyPath, caught.message);
      const prefixText = `${file}: ${keyPath}: `;
      assert.ok(caught.message.startsWith(prefixText), `message starts with ${JSON.stringify(prefixText)}: ${caught.message}`);
      assert.match(caught.message, message);
      assert.match(caught.message, /\(line \d+, column \d+\)$/, 'points at the line');
      return caught;
    },
  };
}
