/**
 * One cycle with fakes for its steps (RunDeps.steps) and a real store: renew, deploy or notify
 * failing never stops the cycle; each failure is reported, structured (step, domain, code, hint),
 * and the run lock is waited for, then released.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { AcmeError, DeployError, NotifyError } from '../../../src/core/errors.js';
import type { EndpointReport } from '../../../src/core/model.js';
import type { Config, DomainConfig } from '../../../src/config/types.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { lastRunOf, runCycle, runLocked, type RunDeps, type RunResult, type RunSteps } from '../../../src/service/run.js';
import type { RenewOutcome } from '../../../src/service/renew.js';
import type { DeployOutcome } from '../../../src/service/deploy.js';
import type { NotifyRunResult } from '../../../src/service/notify.js';
import { newOwnerId, tryLease } from '../../../src/service/lease.js';
import { configFixture } from '../../helpers/config-fixture.js';
import { a } from '../../helpers/async-store.js';

const fx = configFixture('certs-run-cycle-');
const NOW = new Date('2026-03-01T12:00:00Z');

/** A config with two managed nginx domains, an ACME section, nginx and a webhook (never contacted: the steps are fakes). */
function setup(): { config: Config; store: Store } {
  const dir = fx.caseDir();
  const config = fx.load(stringify({
    dataDir: join(dir, 'data'),
    trust: { bundled: true, system: false },
    acme: { directory: 'https://127.0.0.1:14000/dir', email: 'ops@example.com', agreeToTerms: true, challenge: { type: 'http-01', webroot: join(dir, 'webroot') } },
    nginx: { snippetDir: join(dir, 'snippets') },
    notify: { webhook: { url: 'http://127.0.0.1:9/hook' } },
    domains: [
      { name: 'a.test', nginx: true, endpoints: [{ host: 'a.test', port: 443, address: '127.0.0.1' }] },
      { name: 'b.test', nginx: true, endpoints: [{ host: 'b.test', port: 443, address: '127.0.0.1' }] },
    ],
  }), dir);
  return { config, store: openStore(config.dataDir) };
}

function report(domain: string): EndpointReport {
  return { domain, host: domain, port: 443, source: 'tls', status: 'ok', daysLeft: 60, notAfter: null, problems: [], scannedAt: NOW.toISOString() } as unknown as EndpointReport;
}

interface Calls { scans: string[][]; deploy: string[][]; notify: number; prune: number }

function deps(steps: Partial<RunSteps>, calls: Calls): RunDeps {
  return {
    scan: async (domains: DomainConfig[]) => {
      calls.scans.push(domains.map((d) => d.name));
      return domains.map((d) => report(d.name));
    },
    overlay: async (r) => r,
    now: () => NOW,
    random: () => 0.5,
    channels: {},
    owner: 'test-owner',
    log: () => {},
    steps: {
      renew: async () => [],
      deploy: async (_c, _s, domains) => {
        calls.deploy.push(domains.map((d) => d.name));
        return domains.map((d): DeployOutcome => ({ domain: d.name, action: 'deployed', detail: 'ok' }));
      },
      notify: async (): Promise<NotifyRunResult> => {
        calls.notify++;
        return { events: [], queued: 0, delivered: 0, failed: [], pending: 0 };
      },
      prune: async () => {
        calls.prune++;
        return { scans: 0, certificates: 0, versions: 0, runs: 0, vacuumed: false, skipped: [], errors: [] };
      },
      ...steps,
    },
  };
}

const newCalls = (): Calls => ({ scans: [], deploy: [], notify: 0, prune: 0 });
const issued = (domain: string): RenewOutcome => ({ domain, action: 'issued', reason: 'due', version: 1 });

async function cycle(steps: Partial<RunSteps>, calls = newCalls()): Promise<{ result: RunResult; calls: Calls; store: Store }> {
  const { config, store } = setup();
  const result = await runCycle(config, a(store), deps(steps, calls), { renew: true, notify: true });
  return { result, calls, store };
}

describe('runCycle with fakes', () => {
  it('renew fails for one domain: the other is deployed, notify and prune run, the failure is reported per domain with its code and hint', async () => {
    const { result, calls, store } = await cycle({
      renew: async () => [
        { domain: 'a.test', action: 'failed', reason: 'the CA refused', error: new AcmeError('acme-ca', 'domain "a.test": the CA refused: too many certificates', { domain: 'a.test', retryable: true }, { hint: 'wait for the rate limit window' }) },
        issued('b.test'),
      ],
    });
    try {
      assert.deepEqual(calls.deploy, [['b.test']]);
      assert.equal(calls.notify, 1);
      assert.equal(calls.prune, 1);
      assert.deepEqual(calls.scans, [['a.test', 'b.test'], ['b.test']], 'the deployed domain is rescanned');
      assert.deepEqual(result.failures, [{ step: 'renew', domain: 'a.test', kind: 'acme', code: 'acme-ca', message: 'domain "a.test": the CA refused: too many certificates', hint: 'wait for the rate limit window' }]);
      assert.deepEqual(result.errors, []);
      assert.equal(result.run.exitCode, 1, 'a failed renewal makes the run fail even when clients see no problem');
      assert.deepEqual(await lastRunOf(a(store)), result.run, 'the run is recorded');
    } finally {
      store.close();
    }
  });

  it('renew throws as a whole: notify and prune still run; the step error is kept with its kind and code', async () => {
    const { result, calls, store } = await cycle({
      renew: async () => {
        throw new AcmeError('acme-account', 'cannot register the ACME account', {}, { hint: 'check acme.email' });
      },
    });
    try {
      assert.equal(calls.notify, 1);
      assert.equal(calls.prune, 1);
      assert.deepEqual(result.errors, ['renew: cannot register the ACME account']);
      assert.deepEqual(result.failures, [{ step: 'renew', kind: 'acme', code: 'acme-account', message: 'cannot register the ACME account', hint: 'check acme.email' }]);
      assert.equal(result.run.outcome, 'failed');
      assert.equal((await lastRunOf(a(store)))?.outcome, 'failed');
    } finally {
      store.close();
    }
  });

  it('deploy fails (nginx refuses one domain, then the whole step throws): notify and prune still run, each failure is reported', async () => {
    const refused = await cycle({
      renew: async () => [issued('a.test'), issued('b.test')],
      deploy: async () => [
        { domain: 'a.test', action: 'failed', detail: 'nginx -t failed', error: new DeployError('nginx-test', 'domain "a.test": nginx -t failed', { hint: 'see nginx -t' }) },
        { domain: 'b.test', action: 'stale', detail: 'b.test:443 still serves the old certificate' },
      ],
    });
    try {
      assert.equal(refused.calls.notify, 1);
      assert.equal(refused.calls.prune, 1);
      assert.deepEqual(refused.result.failures.map((f) => [f.step, f.domain, f.kind, f.code]), [['deploy', 'a.test', 'deploy', 'nginx-test'], ['deploy', 'b.test', 'deploy', 'stale']]);
      assert.equal(refused.result.failures[0]!.hint, 'see nginx -t');
      assert.equal(refused.result.run.exitCode, 1);
    } finally {
      refused.store.close();
    }
    const thrown = await cycle({
      renew: async () => [issued('a.test')],
      deploy: async () => {
        throw new DeployError('deploy-precheck', 'nginx.testCommand: nginx not found; nothing was written');
      },
    });
    try {
      assert.equal(thrown.calls.notify, 1);
      assert.equal(thrown.calls.prune, 1);
      assert.deepEqual(thrown.result.errors, ['deploy: nginx.testCommand: nginx not found; nothing was written']);
      assert.deepEqual(thrown.result.failures.map((f) => [f.step, f.kind, f.code]), [['deploy', 'deploy', 'deploy-precheck']]);
      assert.deepEqual(thrown.calls.scans, [['a.test', 'b.test'], ['a.test']], 'the issued domain is rescanned although the deploy failed');
    } finally {
      thrown.store.close();
    }
  });

  it('notify fails (a delivery, then the whole step): prune runs, the run is recorded as failed', async () => {
    const delivery = await cycle({
      notify: async () => ({ events: [], queued: 1, delivered: 0, failed: [{ key: 'expiry:webhook:1', error: 'HTTP 500' }], pending: 1 }),
    });
    try {
      assert.equal(delivery.calls.prune, 1);
      assert.deepEqual(delivery.result.failures, [{ step: 'notify', kind: 'notify', code: 'delivery-failed', message: 'expiry:webhook:1: HTTP 500' }]);
      assert.equal(delivery.result.run.exitCode, 1);
    } finally {
      delivery.store.close();
    }
    const thrown = await cycle({
      notify: async () => {
        throw new NotifyError('webhook', 'notify.webhook.url: cannot be reached', true);
      },
    });
    try {
      assert.equal(thrown.calls.prune, 1);
      assert.deepEqual(thrown.result.errors, ['notify: notify.webhook.url: cannot be reached']);
      assert.deepEqual(thrown.result.failures.map((f) => [f.step, f.kind, f.code]), [['notify', 'notify', 'webhook']]);
      assert.equal((await lastRunOf(a(thrown.store)))?.outcome, 'failed');
    } finally {
      thrown.store.close();
    }
  });
});

describe('runLocked', () => {
  it('waits for the run lock: held by another process it fails without scanning; afterwards the lock is free again', async () => {
    const { config, store } = setup();
    try {
      const other = (await tryLease(a(store).locks, 'run', newOwnerId()))!;
      const calls = newCalls();
      const { owner: _o, ...d } = deps({}, calls);
      await assert.rejects(runLocked(config, a(store), d, { renew: true, notify: true, waitMs: 0 }), /run lock/);
      assert.deepEqual(calls.scans, [], 'nothing was scanned');
      await other.release();
      const result = await runLocked(config, a(store), d, { renew: true, notify: true, waitMs: 0 });
      assert.equal(result.run.exitCode, 0);
      assert.ok(await tryLease(a(store).locks, 'run', newOwnerId()), 'the cycle released the run lock');
    } finally {
      store.close();
    }
  });

  it('releases the run lock when the cycle throws', async () => {
    const { config, store } = setup();
    try {
      const { owner: _o, ...d } = deps({}, newCalls());
      await assert.rejects(runLocked(config, a(store), { ...d, scan: async () => { throw new Error('scanner broke'); } }, { renew: true, notify: true, waitMs: 0 }), /scanner broke/);
      assert.ok(await tryLease(a(store).locks, 'run', newOwnerId()), 'the run lock is free');
    } finally {
      store.close();
    }
  });
});

describe('runCycle records its run (the runs table, issue 13)', () => {
  it('start and finish: when, the outcome, the exit code, what was renewed, deployed, failed and queued', async () => {
    const { config, store } = setup();
    try {
      // A clock that moves a minute per call: started and finished differ.
      let t = NOW.getTime();
      const d = deps({
        renew: async () => [
          { domain: 'a.test', action: 'failed', reason: 'the CA refused', error: new AcmeError('acme-ca', 'domain "a.test": refused', { domain: 'a.test', retryable: true }) },
          issued('b.test'),
        ],
        notify: async () => ({ events: [], queued: 2, delivered: 2, failed: [], pending: 0 }),
      }, newCalls());
      const result = await runCycle(config, a(store), { ...d, now: () => new Date((t += 60_000)) }, { renew: true, notify: true });
      const [row, ...rest] = store.runs.list();
      assert.equal(rest.length, 0, 'one row per run');
      assert.equal(row!.startedAt, new Date(NOW.getTime() + 60_000).toISOString());
      assert.equal(row!.finishedAt, result.run.finishedAt);
      assert.ok(row!.finishedAt! > row!.startedAt);
      assert.equal(row!.outcome, result.run.outcome);
      assert.equal(row!.exitCode, 1);
      assert.deepEqual(row!.summary, { renewed: ['b.test'], deployed: ['b.test'], failed: ['a.test'], notified: 2 });
      assert.deepEqual(store.runs.latestFinished(), row);
    } finally {
      store.close();
    }
  });

  it('a cycle that throws is finished as outcome error, and the error still reaches the caller', async () => {
    const { config, store } = setup();
    try {
      const d = deps({}, newCalls());
      await assert.rejects(runCycle(config, a(store), { ...d, scan: async () => { throw new Error('scanner broke'); } }, { renew: true, notify: true }), /scanner broke/);
      const row = store.runs.latestFinished();
      assert.equal(row?.outcome, 'error');
      assert.equal(row?.exitCode, null);
      assert.equal(row?.finishedAt, NOW.toISOString());
    } finally {
      store.close();
    }
  });

  it('a store that cannot record the run does not fail the cycle: the failure is logged', async () => {
    const { config, store } = setup();
    try {
      store.db.exec('DROP TABLE runs');
      const events: string[] = [];
      const d = deps({}, newCalls());
      const result = await runCycle(config, a(store), { ...d, log: (e) => events.push(e) }, { renew: true, notify: true });
      assert.equal(result.run.exitCode, 0);
      assert.deepEqual(events.filter((e) => e === 'run.record-error'), ['run.record-error'], 'the start failed; there is no row to finish');
    } finally {
      store.close();
    }
  });
});
