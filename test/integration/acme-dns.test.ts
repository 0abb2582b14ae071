// dns-01 against a real BIND (test/helpers/bind.ts): RFC 2136 updates with TSIG, propagation
// checks at the authoritative server, and the hook solver driving nsupdate from a script.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promises as dnsp } from 'node:dns';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AcmeError } from '../../src/core/errors.js';
import { TSIG_ALGORITHMS, type PropagationConfig, type Rfc2136Config } from '../../src/config/types.js';
import type { ChallengeTask } from '../../src/acme/types.js';
import { waitForTxt } from '../../src/acme/dns/propagation.js';
import { exchange, findZone } from '../../src/acme/dns/rfc2136.js';
import { RRTYPE, encodeQuery } from '../../src/acme/dns/wire.js';
import { createRfc2136Solver } from '../../src/acme/solvers/dns-rfc2136.js';
import { createHookSolver } from '../../src/acme/solvers/dns-hook.js';
import { setHookEnvPolicy } from '../../src/lib/hook-env.js';
import { randomSecret, startBind, type BindInstance, type BindTsig } from '../helpers/bind.js';
import { freePort } from '../helpers/ports.js';

const KEY: BindTsig = { name: 'certs-key', algorithm: 'hmac-sha256', secret: randomSecret() };
const ALG_KEYS: BindTsig[] = TSIG_ALGORITHMS.map((algorithm) => ({ name: `key-${algorithm}`, algorithm, secret: randomSecret() }));
const FAST: PropagationConfig = { timeoutMs: 3000, intervalMs: 50 };

let seq = 0;
function task(identifier: string, value = `value-${++seq}`, wildcard = false): ChallengeTask {
  return {
    domain: identifier,
    identifier,
    wildcard,
    type: 'dns-01',
    token: `token-${seq}`,
    keyAuthorization: `token-${seq}.thumb`,
    recordName: `_acme-challenge.${identifier}`,
    recordValue: value,
  };
}

/** What the server has right now (a fresh resolver each time: c-ares caches per channel). */
async function txtAt(dns: BindInstance, name: string): Promise<string[]> {
  const r = new dnsp.Resolver({ timeout: 1000, tries: 1 });
  r.setServers([`127.0.0.1:${dns.port}`]);
  try {
    return (await r.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
  } catch (err) {
    if (['ENODATA', 'ENOTFOUND'].includes((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
}

function rfc(dns: BindInstance, over: Partial<Rfc2136Config> = {}): Rfc2136Config {
  return { server: dns.host, port: dns.port, tsigKeyName: KEY.name, tsigSecret: KEY.secret, tsigAlgorithm: KEY.algorithm, ...over };
}

async function rejectsWith(p: Promise<unknown>, check: (e: AcmeError) => void): Promise<AcmeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AcmeError, `expected an AcmeError, got ${String(err)}`);
    check(err);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('dns-01 with real BIND', () => {
  let dns: BindInstance;
  before(async () => {
    dns = await startBind({ zone: 'test.', tsig: KEY, extraKeys: ALG_KEYS });
  });
  after(async () => {
    await dns?.stop();
  });

  describe('rfc2136 solver', () => {
    it('adds the TXT, sees it at the server, deletes it (zone found by SOA walk)', async () => {
      const solver = createRfc2136Solver(rfc(dns), FAST);
      assert.match(solver.describe, /^dns-01 rfc2136 127\.0\.0\.1:\d+ key "certs-key" \(hmac-sha256\)$/);
      const t = task('a.test');
      try {
        await solver.present(t);
        await solver.preflight(t);
        assert.deepEqual(await txtAt(dns, t.recordName), [t.recordValue]);
      } finally {
        await solver.cleanup(t);
      }
      assert.deepEqual(await txtAt(dns, t.recordName), []);
      // Nothing left to remove is not an error.
      await solver.cleanup(t);
    });

    for (const key of ALG_KEYS) {
      it(`${key.algorithm}: BIND accepts our signature and we verify its answer`, async () => {
        const solver = createRfc2136Solver(rfc(dns, { zone: 'test', tsigKeyName: key.name, tsigSecret: key.secret, tsigAlgorithm: key.algorithm }), FAST);
        const t = task(`${key.algorithm}.test`);
        try {
          await solver.present(t);
          assert.deepEqual(await txtAt(dns, t.recordName), [t.recordValue]);
        } finally {
          await solver.cleanup(t);
        }
        assert.deepEqual(await txtAt(dns, t.recordName), []);
      });
    }

    it('wildcard and bare name in one order: cleanup of one value keeps the other', async () => {
      const solver = createRfc2136Solver(rfc(dns), FAST);
      const bare = task('both.test', 'bare-value');
      const wild = task('both.test', 'wildcard-value', true);
      try {
        await solver.present(bare);
        await solver.present(wild);
        await Promise.all([solver.preflight(bare), solver.preflight(wild)]);
        assert.deepEqual(await txtAt(dns, bare.recordName), ['bare-value', 'wildcard-value']);
        await solver.cleanup(wild);
        assert.deepEqual(await txtAt(dns, bare.recordName), ['bare-value']);
      } finally {
        await solver.cleanup(wild);
        await solver.cleanup(bare);
      }
      assert.deepEqual(await txtAt(dns, bare.recordName), []);
    });

    it('a wrong secret: NOTAUTH/BADSIG naming the server and key, never the secret', async () => {
      const wrong = randomSecret();
      const solver = createRfc2136Solver(rfc(dns, { zone: 'test', tsigSecret: wrong }), FAST);
      const err = await rejectsWith(solver.present(task('badsig.test')), (e) => {
        assert.equal(e.code, 'challenge');
        assert.equal(e.domain, 'badsig.test');
        assert.match(e.message, new RegExp(`^domain "badsig\\.test": dns-01 update of _acme-challenge\\.badsig\\.test TXT at 127\\.0\\.0\\.1:${dns.port} refused: NOTAUTH, TSIG BADSIG \\(TSIG key "certs-key" not accepted`));
      });
      assert.ok(!err.message.includes(wrong) && !err.message.includes(KEY.secret));
      assert.ok(!solver.describe.includes(wrong));
    });

    it('a key name the server does not know: BADKEY', async () => {
      const solver = createRfc2136Solver(rfc(dns, { zone: 'test', tsigKeyName: 'no-such-key' }), FAST);
      await rejectsWith(solver.present(task('badkey.test')), (e) => {
        assert.match(e.message, /refused: NOTAUTH, TSIG BADKEY \(TSIG key "no-such-key" not accepted: the server does not know this key/);
      });
    });

    it('a clock off by an hour: BADTIME with the server time', async () => {
      const solver = createRfc2136Solver(rfc(dns, { zone: 'test' }), FAST, { now: () => Date.now() - 3_600_000 });
      await rejectsWith(solver.present(task('badtime.test')), (e) => assert.match(e.message, /TSIG BADTIME .*server time \d{4}-/));
    });

    it('no key at all: REFUSED in words', async () => {
      const solver = createRfc2136Solver({ server: dns.host, port: dns.port, zone: 'test' }, FAST);
      await rejectsWith(solver.present(task('nokey.test')), (e) => assert.match(e.message, /refused: REFUSED \(the server refused the request: no allow-update/));
    });

    it('a name outside every zone of the server: says to set the zone', async () => {
      const solver = createRfc2136Solver(rfc(dns), FAST);
      await rejectsWith(solver.present(task('a.example.com')), (e) => {
        assert.match(e.message, /^domain "a\.example\.com": dns-01 could not find the zone of _acme-challenge\.a\.example\.com at 127\.0\.0\.1:\d+: .*example\.com: REFUSED.*set challenge\.rfc2136\.zone$/);
      });
    });

    it('a configured zone the record is not in: NOTZONE', async () => {
      const solver = createRfc2136Solver(rfc(dns, { zone: 'test' }), FAST);
      await rejectsWith(solver.present(task('a.example.org')), (e) => assert.match(e.message, /failed: NOTZONE \(the record name is not inside the zone\); zone test$/));
    });

    it('nothing listening: connection refused, fast', async () => {
      const port = await freePort();
      const solver = createRfc2136Solver(rfc(dns, { port, zone: 'test' }), FAST, { timeoutMs: 5000 });
      const started = Date.now();
      await rejectsWith(solver.present(task('down.test')), (e) => {
        assert.match(e.message, new RegExp(`at 127\\.0\\.0\\.1:${port} failed: connection refused`));
        assert.equal(e.retryable, true);
      });
      assert.ok(Date.now() - started < 4000);
    });

    it('findZone and a TCP exchange', async () => {
      assert.equal(await findZone({ domain: 'x.test', name: '_acme-challenge.deep.x.test', server: dns }), 'test');
      const { msg } = await exchange(encodeQuery({ id: 77, name: 'test', type: RRTYPE.SOA }), dns, { timeoutMs: 2000, tcp: true });
      assert.equal(msg.id, 77);
      assert.equal(msg.aa, true);
      assert.equal(msg.answers[0]?.type, RRTYPE.SOA);
    });
  });

  describe('waitForTxt', () => {
    it('times out within its bound, naming the record, the server and its answer', async () => {
      const timeoutMs = 600;
      const started = Date.now();
      await rejectsWith(
        waitForTxt({ domain: 'never.test', name: '_acme-challenge.never.test', value: 'expected', servers: [`127.0.0.1:${dns.port}`], timeoutMs, intervalMs: 100 }),
        (e) => {
          assert.equal(e.code, 'challenge');
          assert.match(e.message, new RegExp(`^domain "never\\.test": dns-01 record TXT _acme-challenge\\.never\\.test = "expected" did not appear at 1 of 1 authoritative server\\(s\\) within 600 ms: 127\\.0\\.0\\.1:${dns.port} \\(answered: no TXT record at this name\\)$`));
        },
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= timeoutMs - 5 && elapsed < timeoutMs + 1000, `took ${elapsed} ms`);
    });

    it('reports a wrong value and a server that does not answer, each by name', async () => {
      const solver = createRfc2136Solver(rfc(dns), FAST);
      const t = task('other.test', 'published');
      const silent = await freePort();
      try {
        await solver.present(t);
        await rejectsWith(
          waitForTxt({ domain: t.domain, name: t.recordName, value: 'expected', servers: [`127.0.0.1:${dns.port}`, `localhost:${silent}`], timeoutMs: 400, intervalMs: 100 }),
          (e) => {
            assert.match(e.message, /did not appear at 2 of 2/);
            assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${dns.port} \\(answered "published"\\)`));
            assert.match(e.message, new RegExp(`localhost:${silent} \\(127\\.0\\.0\\.1:${silent}\\) \\((connection refused|no answer within \\d+ ms)\\)`));
          },
        );
      } finally {
        await solver.cleanup(t);
      }
    });

    it('finds the authoritative servers through NS discovery when none are configured', async () => {
      const solver = createRfc2136Solver(rfc(dns), FAST);
      const t = task('disc.test');
      try {
        await solver.present(t);
        await waitForTxt({ domain: t.domain, name: t.recordName, value: t.recordValue, timeoutMs: 2000, intervalMs: 50, discovery: { resolvers: [`127.0.0.1:${dns.port}`], nsPort: dns.port } });
      } finally {
        await solver.cleanup(t);
      }
    });

    it('an abort stops it at once', async () => {
      const ac = new AbortController();
      const started = Date.now();
      const p = waitForTxt({ domain: 'abort.test', name: '_acme-challenge.abort.test', value: 'v', servers: [`127.0.0.1:${dns.port}`], timeoutMs: 10_000, intervalMs: 100, signal: ac.signal });
      ac.abort(new Error('shutting down'));
      await assert.rejects(p, /shutting down/);
      assert.ok(Date.now() - started < 2000);
    });
  });

  describe('hook solver', () => {
    let dir: string;
    const envKeys = ['DNS_SERVER', 'DNS_PORT', 'DNS_ZONE', 'DNS_KEYFILE', 'HOOK_LOG'] as const;
    const saved = new Map<string, string | undefined>();

    before(() => {
      dir = mkdtempSync(join(os.tmpdir(), 'certs-hook-'));
      const keyFile = join(dir, 'tsig.key');
      writeFileSync(keyFile, `key "${KEY.name}" { algorithm ${KEY.algorithm}; secret "${KEY.secret}"; };\n`, { mode: 0o600 });
      // The hook learns where the test's BIND is the way a user's hook would: from its environment.
      const values = { DNS_SERVER: dns.host, DNS_PORT: String(dns.port), DNS_ZONE: 'test.', DNS_KEYFILE: keyFile, HOOK_LOG: join(dir, 'hook.log') };
      for (const k of envKeys) {
        saved.set(k, process.env[k]);
        process.env[k] = values[k];
      }
      // Hooks see a minimal environment: these reach them the way hooks.passEnv passes them.
      setHookEnvPolicy({ passEnv: envKeys, withhold: [] });
    });
    after(() => {
      setHookEnvPolicy({ passEnv: [], withhold: [] });
      for (const k of envKeys) {
        const v = saved.get(k);
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    function script(name: string, body: string, mode = 0o755): string {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, mode);
      return path;
    }

    const NSUPDATE_HOOK = [
      'set -eu',
      'env | grep "^CERTS_" | sort >> "$HOOK_LOG"',
      'case "$CERTS_ACTION" in',
      '  present) op="update add $CERTS_RECORD_NAME. 60 TXT \\"$CERTS_RECORD_VALUE\\"" ;;',
      '  cleanup) op="update delete $CERTS_RECORD_NAME. TXT \\"$CERTS_RECORD_VALUE\\"" ;;',
      '  *) echo "unknown action $CERTS_ACTION" >&2; exit 2 ;;',
      'esac',
      'printf "server %s %s\\nzone %s\\n%s\\nsend\\n" "$DNS_SERVER" "$DNS_PORT" "$DNS_ZONE" "$op" | nsupdate -k "$DNS_KEYFILE"',
    ].join('\n');

    it('publishes with nsupdate, passes the CERTS_* environment, cleans up', async () => {
      const hook = script('nsupdate-hook', NSUPDATE_HOOK);
      const solver = createHookSolver([hook], { timeoutMs: 10_000, propagation: { ...FAST, servers: [`127.0.0.1:${dns.port}`] } });
      assert.equal(solver.describe, `dns-01 hook ${hook}`);
      const t = task('hook.test');
      try {
        await solver.present(t);
        await solver.preflight(t);
        assert.deepEqual(await txtAt(dns, t.recordName), [t.recordValue]);
      } finally {
        await solver.cleanup(t);
      }
      assert.deepEqual(await txtAt(dns, t.recordName), []);
      const log = readFileSync(join(dir, 'hook.log'), 'utf8');
      for (const action of ['present', 'cleanup']) {
        assert.ok(
          log.includes(
            [`CERTS_ACTION=${action}`, 'CERTS_DOMAIN=hook.test', 'CERTS_IDENTIFIER=hook.test', `CERTS_RECORD_NAME=${t.recordName}`, `CERTS_RECORD_VALUE=${t.recordValue}`, `CERTS_TOKEN=${t.token}`].join('\n'),
          ),
          log,
        );
      }
    });

    it('a non-zero exit: domain, program, exit code and the stderr tail', async () => {
      const noisy = Array.from({ length: 400 }, (_, i) => `echo "noise line ${i}" >&2`).join('\n');
      const hook = script('failing-hook', `${noisy}\necho "zone API said: 403 forbidden" >&2\nexit 3`);
      const solver = createHookSolver([hook, '--flag'], { timeoutMs: 10_000, propagation: FAST });
      await rejectsWith(solver.present(task('fail.test')), (e) => {
        assert.equal(e.code, 'hook');
        assert.equal(e.domain, 'fail.test');
        assert.match(e.message, new RegExp(`^domain "fail\\.test": dns-01 present hook "${hook}" for _acme-challenge\\.fail\\.test exited with code 3; stderr: …`));
        assert.match(e.message, /zone API said: 403 forbidden$/);
        assert.ok(!e.message.includes('noise line 0\n'), 'only the tail of stderr');
        assert.ok(e.message.length < 4096 + 300, `message of ${e.message.length} chars`);
      });
    });

    it('a hook that hangs is killed after its timeout, with everything it started', async () => {
      const pidFile = join(dir, 'sleep.pid');
      const hook = script('hanging-hook', `sleep 30 &\necho $! > "${pidFile}"\nwait`);
      const solver = createHookSolver([hook], { timeoutMs: 500, killGraceMs: 2000, propagation: FAST });
      const started = Date.now();
      await rejectsWith(solver.present(task('hang.test')), (e) => {
        assert.equal(e.code, 'hook');
        assert.match(e.message, /for _acme-challenge\.hang\.test was killed after 500 ms \(timeout; SIGTERM/);
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 490 && elapsed < 2000, `took ${elapsed} ms`);
      assert.ok(!isRunning(Number(readFileSync(pidFile, 'utf8'))), 'the sleep the hook started is gone too');
    });

    it('a hook that ignores SIGTERM gets SIGKILL after the grace period', async () => {
      const hook = script('stubborn-hook', "trap '' TERM\nsleep 30");
      const solver = createHookSolver([hook], { timeoutMs: 300, killGraceMs: 300, propagation: FAST });
      const started = Date.now();
      await rejectsWith(solver.present(task('stubborn.test')), (e) => assert.match(e.message, /was killed after 300 ms \(timeout; SIGKILL/));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 590 && elapsed < 2500, `took ${elapsed} ms`);
    });

    it('an abort kills the hook and rejects with the reason', async () => {
      const hook = script('abort-hook', 'sleep 30');
      const solver = createHookSolver([hook], { timeoutMs: 10_000, propagation: FAST });
      const ac = new AbortController();
      const p = solver.present(task('abort.test'), ac.signal);
      ac.abort(new Error('order cancelled'));
      await assert.rejects(p, /order cancelled/);
    });

    it('a program that does not exist, or is not executable: clear errors', async () => {
      const missing = join(dir, 'no-such-hook');
      await rejectsWith(createHookSolver([missing], { timeoutMs: 1000, propagation: FAST }).present(task('missing.test')), (e) => {
        assert.equal(e.message, `domain "missing.test": dns-01 present hook "${missing}" for _acme-challenge.missing.test cannot run: program not found (check the path and PATH)`);
      });
      const plain = script('not-executable', 'exit 0', 0o644);
      await rejectsWith(createHookSolver([plain], { timeoutMs: 1000, propagation: FAST }).present(task('noexec.test')), (e) => {
        assert.match(e.message, /cannot run: permission denied \(is it executable\?\)$/);
      });
    });

    it('a failing cleanup hook throws a typed AcmeError for the caller to log', async () => {
      const hook = script('cleanup-fails', '[ "$CERTS_ACTION" = cleanup ] && { echo "record not found" >&2; exit 1; }\nexit 0');
      const solver = createHookSolver([hook], { timeoutMs: 5000, propagation: FAST });
      await solver.present(task('cleanup.test'));
      await rejectsWith(solver.cleanup(task('cleanup.test')), (e) => {
        assert.equal(e.code, 'hook');
        assert.match(e.message, /dns-01 cleanup hook .* exited with code 1; stderr: record not found$/);
      });
    });

    it('preflight without servers when discovery fails: asks for propagation.servers', async () => {
      const closed = await freePort();
      const solver = createHookSolver(['/bin/true'], { timeoutMs: 1000, propagation: { timeoutMs: 1000, intervalMs: 50 }, discovery: { resolvers: [`127.0.0.1:${closed}`] } });
      await rejectsWith(solver.preflight(task('nodisc.test')), (e) => {
        assert.match(e.message, /^domain "nodisc\.test": dns-01 could not find the authoritative servers of _acme-challenge\.nodisc\.test through resolver 127\.0\.0\.1:\d+: .*; set challenge\.propagation\.servers$/);
      });
    });
  });
});

/** Alive and not a zombie (a zombie waits for a reaper that may not exist in a container). */
function isRunning(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    const text = readFileSync(stat, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
