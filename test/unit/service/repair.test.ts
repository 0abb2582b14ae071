/**
 * certs repair's verification (service/repair.ts) uses the deploy's proof rule: two complete
 * chains in a row are proof only when the confirming scan started 300 ms after the first one
 * ended (nginx's old workers linger after a reload). The rescanner and the clock are fakes; the
 * monitored domain's certificate file and the store are real.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EndpointReport } from '../../../src/core/model.js';
import type { DomainConfig } from '../../../src/config/types.js';
import type { RepairedChain } from '../../../src/deploy/aia.js';
import { openStore } from '../../../src/store/index.js';
import { applyRepair, type RepairPlan } from '../../../src/service/repair.js';
import type { ProofClock } from '../../../src/service/deploy.js';
import { configFixture } from '../../helpers/config-fixture.js';
import { a } from '../../helpers/async-store.js';

const fx = configFixture('certs-repair-');

/** Serves a complete chain except at the given scan times (ms on the fake clock). */
async function repairWith(dirtyAt: (t: number) => boolean) {
  const dir = fx.caseDir();
  const cert = join(dir, 'm.pem');
  const key = join(dir, 'm.key');
  writeFileSync(cert, 'LEAF ONLY\n');
  writeFileSync(key, 'KEY\n', { mode: 0o600 });
  const config = fx.load(stringify({
    dataDir: join(dir, 'data'),
    trust: { bundled: true, system: false },
    // No snippetDir (certs does not reload this server); the verify budget: 5 s, a scan every 50 ms.
    nginx: { verify: { timeoutMs: 5000, intervalMs: 50 } },
    domains: [{ name: 'm.test', managed: false, files: { cert, key }, endpoints: [{ host: 'm.test', port: 443, address: '127.0.0.1' }] }],
  }), dir);
  const domain = config.domains[0] as DomainConfig;
  let t = 0;
  const clock: ProofClock = { now: () => t, sleep: async (ms) => { t += ms; } };
  const scannedAt: number[] = [];
  const rescan = async (ds: DomainConfig[]): Promise<EndpointReport[]> => {
    scannedAt.push(t);
    const dirty = dirtyAt(t);
    return ds.map((d) => ({
      domain: d.name, host: d.name, port: 443, source: 'tls', status: dirty ? 'warning' : 'ok',
      problems: dirty ? [{ code: 'incomplete-chain', severity: 'warning', message: 'intermediate missing', hint: '' }] : [],
    }) as unknown as EndpointReport);
  };
  const plan: RepairPlan = { domain, chainFile: cert, pem: 'LEAF ONLY\n', repaired: { fullchainPem: 'LEAF\nINTERMEDIATE\n' } as unknown as RepairedChain, fetched: 'CN=Intermediate from http://127.0.0.1/i.der' };
  const store = openStore(config.dataDir);
  try {
    const result = await applyRepair(config, a(store), plan, { now: () => new Date(t), rescan, log: () => {}, clock });
    return { result, scannedAt, cert };
  } finally {
    store.close();
  }
}

describe('certs repair: verification', () => {
  it('two complete scans inside the old workers\' overlap are no proof: it scans on and sees the old worker', async () => {
    // A new worker answers at 0 and 50 ms; an old one, still serving the short chain, at 100 ms.
    const { result, scannedAt, cert } = await repairWith((t) => t === 100);
    assert.equal(readFileSync(cert, 'utf8'), 'LEAF\nINTERMEDIATE\n', 'the repaired chain was written');
    assert.equal(readFileSync(`${cert}.prev`, 'utf8'), 'LEAF ONLY\n', 'the previous one was kept');
    assert.ok(scannedAt.includes(100), `the scan at 100 ms ran (scans at ${scannedAt.join(', ')})`);
    assert.ok(scannedAt.at(-1)! >= 150 + 300, `proof came from scans 300 ms apart after the old worker (last at ${scannedAt.at(-1)})`);
    assert.deepEqual(result.still, []);
    assert.deepEqual(result.reports.map((r) => r.problems.length), [0]);
  });

  it('an endpoint that keeps the incomplete chain past the budget is reported as still incomplete', async () => {
    const { result, scannedAt } = await repairWith(() => true);
    assert.deepEqual(result.still.map((r) => `${r.host}:${r.port}`), ['m.test:443']);
    assert.ok(scannedAt.at(-1)! <= 5000, 'the budget ends the wait');
  });
});
