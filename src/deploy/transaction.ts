/**
 * Snippet files, `nginx -t` and the reload as one transaction: nginx keeps serving exactly what it
 * served before unless every step succeeded.
 *
 *   precheck (every target writable, no two domains on one path) → write changed snippets
 *   atomically (previous content kept as <file>.prev) → testCommand → reloadCommand
 *
 * A failed test or reload puts every previous file back (or removes a new one), so what is on
 * disk is again what nginx runs; nginx's own message is reported verbatim. A reload that fails
 * because nginx is not running keeps the tested files: nginx will start with them.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { DeployError, errorMessage } from '../core/errors.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { runProcess } from '../lib/process.js';

export interface SnippetTarget {
  /** The domain the snippet is for (named in every message). */
  domain: string;
  path: string;
  content: string;
}

export interface PlannedSnippet extends SnippetTarget {
  previous: string | null;
  changed: boolean;
  sha256: string;
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Checks everything that can be checked without writing: distinct paths, an existing writable
 * directory, readable previous files. Throws DeployError('deploy-precheck') naming domain and path.
 */
export function assertDistinctPaths(targets: readonly Pick<SnippetTarget, 'domain' | 'path'>[]): void {
  const byPath = new Map<string, string>();
  for (const t of targets) {
    const other = byPath.get(t.path);
    if (other !== undefined) throw new DeployError('deploy-precheck', `domains "${other}" and "${t.domain}" would both write ${t.path}; nothing was written`);
    byPath.set(t.path, t.domain);
  }
}

export function planSnippets(targets: readonly SnippetTarget[]): PlannedSnippet[] {
  assertDistinctPaths(targets);
  return targets.map((t) => {
    const dir = dirname(t.path);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DeployError('deploy-precheck', `domain "${t.domain}": snippet directory ${dir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? errorMessage(err)})`}; create it (and include ${dir}/*.conf in nginx) or fix nginx.snippetDir; nothing was written`, { cause: err });
    }
    if (!isDir) throw new DeployError('deploy-precheck', `domain "${t.domain}": nginx.snippetDir ${dir} is not a directory; nothing was written`);
    try {
      accessSync(dir, constants.W_OK);
    } catch (err) {
      throw new DeployError('deploy-precheck', `domain "${t.domain}": snippet directory ${dir} is not writable by uid ${process.getuid?.() ?? '?'}; nothing was written`, { cause: err });
    }
    let previous: string | null;
    try {
      previous = readIfExists(t.path);
    } catch (err) {
      throw new DeployError('deploy-precheck', `domain "${t.domain}": cannot read the current snippet ${t.path}: ${errorMessage(err)}; nothing was written`, { cause: err });
    }
    return { ...t, previous, changed: previous !== t.content, sha256: sha256(t.content) };
  });
}

function restore(written: readonly PlannedSnippet[]): string[] {
  const problems: string[] = [];
  for (const s of written) {
    try {
      if (s.previous === null) unlinkSync(s.path);
      else writeFileAtomic(s.path, s.previous);
    } catch (err) {
      problems.push(`could not restore ${s.path}: ${errorMessage(err)}`);
    }
  }
  return problems;
}

export interface ApplyOptions {
  testCommand: readonly string[];
  reloadCommand: readonly string[];
  /** Reload even when no snippet changed (the certificate files behind them did). */
  reload: boolean;
  timeoutMs?: number;
}

export interface ApplyResult {
  written: string[];
  reloaded: boolean;
}

/**
 * Whether a failed reload means that no nginx master runs: `nginx -s reload` without a pid file
 * ("open() ".../nginx.pid" failed"), with an empty or garbled one ("invalid PID number"), or
 * naming a dead process ("kill(…) failed (3: No such process)"); systemctl on a stopped unit.
 */
export function nginxNotRunning(message: string): boolean {
  return /open\(\) "[^"]*\.pid" failed|invalid PID number|kill\(\d+, \d+\) failed \(3: No such process\)|is not active, cannot reload/i.test(message);
}

/**
 * Writes the changed snippets, tests, reloads; on failure restores every previous file, except
 * when the reload failed because nginx is not running (DeployError `nginx-not-running`): then
 * the tested files stay.
 */
export async function applySnippets(plan: readonly PlannedSnippet[], opts: ApplyOptions): Promise<ApplyResult> {
  const changed = plan.filter((s) => s.changed);
  if (changed.length === 0 && !opts.reload) return { written: [], reloaded: false };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const names = [...new Set(plan.map((s) => s.domain))].map((d) => `"${d}"`).join(', ');
  const written: PlannedSnippet[] = [];
  try {
    for (const s of changed) {
      if (s.previous !== null) writeFileAtomic(`${s.path}.prev`, s.previous);
      written.push(s);
      writeFileAtomic(s.path, s.content, 0o644);
    }
  } catch (err) {
    const left = restore(written);
    throw new DeployError('write', `${names}: writing snippets failed: ${errorMessage(err)}; previous files restored${left.length ? ` except: ${left.join('; ')}` : ''}`, { cause: err });
  }
  try {
    await runProcess(opts.testCommand, { env: {}, timeoutMs, what: `nginx test (${opts.testCommand.join(' ')})` });
  } catch (err) {
    const left = restore(written);
    throw new DeployError('nginx-test', `${names}: nginx refused the new configuration, so nothing was reloaded and the previous snippets are back${left.length ? ` (except: ${left.join('; ')})` : ''}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    await runProcess(opts.reloadCommand, { env: {}, timeoutMs, what: `nginx reload (${opts.reloadCommand.join(' ')})` });
  } catch (err) {
    // No nginx runs: there is no old configuration to stay consistent with, and the files
    // nginx -t accepted are exactly what it should start with. Keep them.
    if (nginxNotRunning(errorMessage(err))) {
      throw new DeployError('nginx-not-running', `${names}: nginx is not running; the tested snippet is in place; start nginx (${errorMessage(err)})`, {
        cause: err,
        hint: 'start nginx; the next certs run (or certs nginx write) reloads and verifies',
      });
    }
    // nginx still runs its old configuration: put the files back so disk says the same.
    const left = restore(written);
    throw new DeployError('reload', `${names}: the reload failed, nginx keeps its previous configuration and the previous snippets are back${left.length ? ` (except: ${left.join('; ')})` : ''}: ${errorMessage(err)}`, { cause: err });
  }
  return { written: written.map((s) => s.path), reloaded: true };
}
