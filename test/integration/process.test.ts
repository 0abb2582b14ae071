// The one process runner (src/lib/process.ts) with real programs (node -e): what it returns, how
// each failure is told apart (reason, exit code, signal, kept output), and that the features'
// wrappers keep their own error kinds on top of it: a hook failure is AcmeError('hook'), nginx -T's
// is DeployError('nginx-dump' / 'nginx-not-found'), with the messages they always had.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcmeError, DeployError, IoError } from '../../src/core/errors.js';
import { ProcessError, runProcess } from '../../src/lib/process.js';
import { runProgram } from '../../src/acme/program.js';
import { runNginxDump } from '../../src/deploy/nginx-check.js';

const node = (script: string): string[] => [process.execPath, '-e', script];
const rejection = async (p: Promise<unknown>): Promise<unknown> => p.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
const processError = async (p: Promise<unknown>): Promise<ProcessError> => {
  const e = await rejection(p);
  assert.ok(e instanceof ProcessError, `expected a ProcessError, got ${String(e)}`);
  return e;
};

describe('runProcess', () => {
  it('returns stdout and stderr on exit 0; the program sees the extra env', async () => {
    const out = await runProcess(node('process.stdout.write(process.env.CERTS_X ?? "unset"); process.stderr.write("note")'), { env: { CERTS_X: 'given' }, timeoutMs: 10_000, what: 'p' });
    assert.deepEqual(out, { stdout: 'given', stderr: 'note' });
  });

  it('an exit code is reason exit, kind io, code process, with the stderr tail in the message', async () => {
    const e = await processError(runProcess(node('process.stderr.write("broken thing\\n"); process.exit(3)'), { timeoutMs: 10_000, what: 'tool "x"' }));
    assert.ok(e instanceof IoError);
    assert.equal(e.kind, 'io');
    assert.equal(e.code, 'process');
    assert.equal(e.reason, 'exit');
    assert.equal(e.exitCode, 3);
    assert.equal(e.retryable, false);
    assert.equal(e.stderr, 'broken thing\n');
    assert.equal(e.message, 'tool "x" exited with code 3; stderr: broken thing');
  });

  it('a missing program is reason not-found and keeps the errno error as cause', async () => {
    const e = await processError(runProcess(['/nonexistent/certs-no-such-program'], { timeoutMs: 10_000, what: 'tool' }));
    assert.equal(e.reason, 'not-found');
    assert.equal((e.cause as NodeJS.ErrnoException).code, 'ENOENT');
    assert.match(e.message, /^tool cannot run: program not found/);
  });

  it('an empty argv is refused before spawning', async () => {
    const e = await processError(runProcess([], { timeoutMs: 10_000, what: 'tool' }));
    assert.equal(e.reason, 'not-found');
  });

  it('a program past its time limit is killed: reason timeout, retryable', async () => {
    const e = await processError(runProcess(node('setInterval(() => {}, 1000)'), { timeoutMs: 200, killGraceMs: 0, what: 'slow' }));
    assert.equal(e.reason, 'timeout');
    assert.equal(e.retryable, true);
    assert.equal(e.signal, 'SIGKILL');
    assert.match(e.message, /^slow was killed after 200 ms \(timeout; SIGKILL after \d+ ms\); no output$/);
  });

  it('with maxStdoutBytes, all of stdout is kept up to the limit and more kills the program', async () => {
    const big = await runProcess(node('process.stdout.write("a".repeat(100000))'), { timeoutMs: 10_000, maxStdoutBytes: 200_000, what: 'big' });
    assert.equal(big.stdout.length, 100_000);
    const e = await processError(runProcess(node('process.stdout.write("a".repeat(100000)); setInterval(() => {}, 1000)'), { timeoutMs: 10_000, killGraceMs: 0, maxStdoutBytes: 1000, what: 'big' }));
    assert.equal(e.reason, 'too-large');
    assert.equal(e.message, 'big printed more than 1000 bytes; refusing to read more');
  });

  it('stderr: tail keeps the last 4 KiB, head the start', async () => {
    const script = 'process.stderr.write("FIRST" + "x".repeat(20000) + "LAST"); process.exit(1)';
    const tail = await processError(runProcess(node(script), { timeoutMs: 10_000, what: 't' }));
    assert.ok(tail.stderr.startsWith('…') && tail.stderr.endsWith('LAST') && !tail.stderr.includes('FIRST'));
    const head = await processError(runProcess(node(script), { timeoutMs: 10_000, stderr: 'head', what: 't' }));
    assert.ok(head.stderr.startsWith('FIRST') && head.stderr.endsWith('LAST'));
  });

  it('credentials in the output are redacted in the message, kept raw in the fields', async () => {
    const e = await processError(runProcess(node('process.stderr.write("Authorization: Bearer sk_live_0123456789"); process.exit(1)'), { timeoutMs: 10_000, what: 'h' }));
    assert.ok(!e.message.includes('sk_live_0123456789'), e.message);
    assert.ok(e.stderr.includes('sk_live_0123456789'));
  });

  it('an abort rejects with the signal reason, not a ProcessError', async () => {
    const ac = new AbortController();
    const p = runProcess(node('setInterval(() => {}, 1000)'), { timeoutMs: 10_000, killGraceMs: 0, signal: ac.signal, what: 'x' });
    ac.abort(new Error('stopped by caller'));
    const e = await rejection(p);
    assert.ok(!(e instanceof ProcessError));
    assert.equal((e as Error).message, 'stopped by caller');
  });
});

describe('the features wrap the runner in their own kinds', () => {
  it('a hook: AcmeError hook with the domain, the runner message, retryable only on a timeout', async () => {
    const e = await rejection(runProgram(node('process.stderr.write("nope"); process.exit(2)'), { env: {}, timeoutMs: 10_000, what: 'domain "a.test": deploy hook "x"', domain: 'a.test' }));
    assert.ok(e instanceof AcmeError);
    assert.equal(e.code, 'hook');
    assert.equal(e.domain, 'a.test');
    assert.equal(e.retryable, false);
    assert.equal(e.message, 'domain "a.test": deploy hook "x" exited with code 2; stderr: nope');
    const slow = await rejection(runProgram(node('setInterval(() => {}, 1000)'), { env: {}, timeoutMs: 200, killGraceMs: 0, what: 'h' }));
    assert.ok(slow instanceof AcmeError && slow.retryable);
  });

  it('nginx -T: DeployError nginx-dump with stderr verbatim, nginx-not-found for a missing binary', async () => {
    const e = await rejection(runNginxDump(node('process.stderr.write("nginx: [emerg] unknown directive \\"x\\"\\n"); process.exit(1)'), { timeoutMs: 10_000 }));
    assert.ok(e instanceof DeployError);
    assert.equal(e.code, 'nginx-dump');
    assert.equal(e.message, 'nginx: [emerg] unknown directive "x"');
    assert.match(e.hint ?? '', /exited with code 1$/);
    const missing = await rejection(runNginxDump(['/nonexistent/nginx', '-T'], { timeoutMs: 10_000 }));
    assert.ok(missing instanceof DeployError);
    assert.equal(missing.code, 'nginx-not-found');
    assert.equal(missing.message, 'nginx not found: /nonexistent/nginx');
    const big = await rejection(runNginxDump(node('process.stdout.write("a".repeat(5000)); setInterval(() => {}, 1000)'), { timeoutMs: 10_000, maxBytes: 100 }));
    assert.ok(big instanceof DeployError && big.code === 'nginx-dump' && /printed more than 100 bytes/.test(big.message));
  });
});
