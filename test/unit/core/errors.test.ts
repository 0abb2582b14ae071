/**
 * The CertsError family: closed codes per kind (checked by the compiler), lock contention as its
 * own kind, unknown errors kept neutral, and a domain named once in front of a message.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { AcmeError, BusyError, CertsError, ConfigError, DeployError, InternalError, IoError, inDomain } from '../../../src/core/errors.js';
import { exitCodeFor } from '../../../src/cli/failure.js';
import { waitLease } from '../../../src/service/lease.js';
import { renewDomains } from '../../../src/service/renew.js';
import { openStore } from '../../../src/store/index.js';
import type { LockStore } from '../../../src/store/contract.js';
import { a as asyncStoreOf } from '../../helpers/async-store.js';
import { configFixture } from '../../helpers/config-fixture.js';

const fx = configFixture('certs-errors-');

/**
 * Type-checks each snippet as its own file (with errors.ts imported), all in one program because
 * building one costs about a second; returns the compiler's messages per snippet.
 */
function compile(snippets: readonly string[]): string[][] {
  const dir = mkdtempSync(join(tmpdir(), 'certs-errors-tsc-'));
  try {
    const errors = JSON.stringify(resolve('src/core/errors.ts').replace(/\.ts$/, '.js'));
    const files = snippets.map((body, i) => {
      const file = join(dir, `probe${i}.ts`);
      writeFileSync(file, `import { AcmeError, CertsError, DeployError, IoError, NotifyError, StoreError } from ${errors};\nexport const probe = [AcmeError, CertsError, DeployError, IoError, NotifyError, StoreError];\n${body}\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
      skipLibCheck: true,
    });
    return files.map((f) => ts.getPreEmitDiagnostics(program, program.getSourceFile(f)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('error codes are a closed list per kind', () => {
  const good = [
    "new AcmeError('acme-ca', 'x');",
    "new DeployError('nginx-test', 'x');",
    "new IoError('write-failed', 'x');",
    "new NotifyError('smtp-auth', 'x', false);",
    "new StoreError('locked', 'x');",
    "new CertsError('busy', 'locked', 'x');",
    "new CertsError('internal', 'run', 'x');",
    "export function f(e: DeployError): boolean { return e.code === 'nginx-not-running'; }",
  ];
  const bad = [
    "new AcmeError('acme-typo', 'x');",
    "new DeployError('nginx-tset', 'x');",
    "new IoError('webhook', 'x');",
    "new NotifyError('disk-full', 'x', true);",
    "new StoreError('busy', 'x');",
    // A valid code of another kind is refused too.
    "new CertsError('internal', 'locked', 'x');",
    "new CertsError('acme', 'write-failed', 'x');",
    // A caller comparing with a misspelt code is told so.
    "export function f(e: DeployError): boolean { return e.code === 'nginx-not-runing'; }",
  ];
  const results = compile([...good, ...bad]);

  for (const [i, line] of good.entries()) {
    it(`accepts ${line}`, () => assert.deepEqual(results[i], []));
  }
  for (const [i, line] of bad.entries()) {
    it(`rejects ${line}`, () => assert.notDeepEqual(results[good.length + i], [], 'expected a compile error'));
  }
  it('the misspelt comparison is refused for having no overlap', () => assert.match(results.at(-1)?.join('\n') ?? '', /no overlap/));
});

describe('lock contention is its own kind', () => {
  it('waitLease gives up with a BusyError (kind busy, code locked) naming the holder, exit code 1', async () => {
    const locks = { tryAcquire: async () => null, holder: async () => ({ owner: 'host:42:abcd', expiresAt: Date.parse('2026-01-02T03:04:05Z') }) } as unknown as LockStore;
    const err = await waitLease(locks, 'run', 'me', 0).then(() => assert.fail('expected a BusyError'), (e: unknown) => e);
    assert.ok(err instanceof BusyError, `expected BusyError, got ${String(err)}`);
    assert.equal(err.kind, 'busy');
    assert.equal(err.code, 'locked');
    assert.match(err.message, /^another certs process holds the run lock \(host:42:abcd, lease until 2026-01-02T03:04:05\.000Z\); try again when it has finished$/);
    assert.match(err.hint ?? '', /releases its lock when its lease expires/);
    assert.equal(exitCodeFor(err, 'plain'), 1);
    assert.equal(exitCodeFor(err, 'nagios'), 3);
  });

  it('exit codes per kind are unchanged: 2 for usage/config/validation, 1 otherwise, 3 for Nagios commands', async () => {
    assert.equal(exitCodeFor(new ConfigError('x'), 'plain'), 2);
    assert.equal(exitCodeFor(new CertsError('usage', 'usage', 'x'), 'plain'), 2);
    assert.equal(exitCodeFor(new CertsError('validation', 'invalid', 'x'), 'plain'), 2);
    assert.equal(exitCodeFor(new InternalError('internal', 'x'), 'plain'), 1);
    assert.equal(exitCodeFor(new AcmeError('acme-ca', 'x'), 'plain'), 1);
    assert.equal(exitCodeFor(new Error('x'), 'plain'), 1);
    assert.equal(exitCodeFor(new ConfigError('x'), 'nagios'), 3);
  });
});

describe('inDomain: the domain named once', () => {
  it('an error built for the domain passes through as is; one for another domain is wrapped', async () => {
    const own = new IoError('write-failed', 'domain "a.test": disk full', { domain: 'a.test' });
    assert.equal(inDomain(own, 'a.test'), own);
    const other = inDomain(own, 'b.test');
    assert.equal(other.message, 'domain "b.test": domain "a.test": disk full');
    assert.equal(other.domain, 'b.test');
    assert.equal(other.cause, own);
  });

  it('wraps exactly once, by construction: a wrapped error is not wrapped again', async () => {
    const first = inDomain(new DeployError('chain-invalid', 'the chain is broken', { hint: 'ask the CA' }), 'a.test');
    assert.equal(first.message, 'domain "a.test": the chain is broken');
    assert.equal(inDomain(first, 'a.test'), first);
    assert.equal(inDomain(inDomain(first, 'a.test'), 'a.test').message, 'domain "a.test": the chain is broken');
    assert.deepEqual([first.kind, first.code, first.hint], ['deploy', 'chain-invalid', 'ask the CA']);
  });

  it('does not trust the text: a message that merely starts with the domain is still named (the old startsWith test returned it as is)', async () => {
    // E.g. a store error quoting a lineage name: not built for the domain, so it gets the prefix.
    const quoted = new IoError('invalid-lineage', 'domain "a.test" cannot be used as a directory name');
    const wrapped = inDomain(quoted, 'a.test');
    assert.notEqual(wrapped, quoted);
    assert.equal(wrapped.message, 'domain "a.test": domain "a.test" cannot be used as a directory name');
  });

  it('an AcmeError keeps the CA details, hint and Retry-After', async () => {
    const retryAfter = new Date('2026-01-01T00:00:00Z');
    const ca = new AcmeError('acme-ca', 'new order: the CA refused (rateLimited, HTTP 429): slow down', {
      problemType: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down', status: 429, retryable: true, retryAfter,
    }, { hint: 'wait' });
    const e = inDomain(ca, 'a.test');
    assert.ok(e instanceof AcmeError);
    assert.equal(e.message, 'domain "a.test": new order: the CA refused (rateLimited, HTTP 429): slow down');
    assert.deepEqual([e.code, e.domain, e.problemType, e.detail, e.status, e.retryable, e.retryAfter, e.hint, e.cause],
      ['acme-ca', 'a.test', 'urn:ietf:params:acme:error:rateLimited', 'slow down', 429, true, retryAfter, 'wait', ca]);
  });

  it('an error that is not ours becomes an InternalError, not an AcmeError', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    const e = inDomain(bug, 'a.test');
    assert.ok(e instanceof InternalError);
    assert.ok(!(e instanceof AcmeError));
    assert.deepEqual([e.kind, e.code, e.domain, e.cause], ['internal', 'internal', 'a.test', bug]);
    assert.equal(e.message, `domain "a.test": Cannot read properties of undefined (reading 'x')`);
  });
});

describe('renew: a failure that is not the CA\'s', () => {
  it('is reported as an internal error of the domain, not an AcmeError (before: AcmeError code internal)', async () => {
    const dir = fx.caseDir();
    const config = fx.load(`dataDir: ${JSON.stringify(join(dir, 'data'))}\nacme: {directory: "https://127.0.0.1:1/dir", email: a@example.com, agreeToTerms: true, challenge: {type: http-01, webroot: /var/www/acme}}\ndomains:\n  - {name: a.test, managed: true}\n`, dir);
    const store = openStore(config.dataDir);
    try {
      const bug = new TypeError('clock broke');
      // The clock is read when deciding whether a renewal is due: a bug there is ours, not the CA's.
      const [outcome] = await renewDomains(config, asyncStoreOf(store), config.domains, { now: () => { throw bug; }, random: () => 0.5, owner: 'test' });
      assert.equal(outcome?.action, 'failed');
      const e = outcome?.error;
      assert.ok(e instanceof InternalError, `expected InternalError, got ${e?.name}`);
      assert.ok(!(e instanceof AcmeError));
      assert.deepEqual([e.kind, e.code, e.message, e.cause], ['internal', 'internal', 'domain "a.test": clock broke', bug]);
    } finally {
      store.close();
    }
  });
});
