/**
 * The pure parts of `certs demo` (src/service/demo.ts): the inventory it writes for its world
 * loads as a config with each site dialled at 127.0.0.1 and only the demo root trusted; the check
 * behind its exit code says a planted problem was missed, and a healthy site that is not ok.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import type { Problem } from '../../../src/core/problems.js';
import type { DemoSite, DemoWorld } from '../../../src/demo/world.js';
import { checkPlanted, demoConfigText } from '../../../src/service/demo.js';
import { reportFor } from '../../helpers/store-fixtures.js';

const SITES: DemoSite[] = [
  { domain: 'www.demo.test', port: 4431, managed: false, planted: 'a healthy site', expect: null },
  { domain: 'chain.demo.test', port: 4432, managed: false, planted: 'no intermediate', expect: 'incomplete-chain' },
  { domain: 'renewed.demo.test', port: 4433, managed: true, planted: 'not reloaded', expect: 'stale-deployment' },
  { domain: 'mail.demo.test', port: 2525, protocol: 'smtp', managed: false, planted: 'STARTTLS', expect: null },
];

const problem = (code: Problem['code'], severity: Problem['severity'] = 'critical'): Problem => ({ code, severity, message: code, hint: '' });

describe('certs demo: its inventory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certs-demo-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads, with every site at 127.0.0.1 (SNI still its name), the managed one managed, and only the demo root trusted', () => {
    const root = join(dir, 'demo-root.pem');
    writeFileSync(root, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
    const world = { sites: SITES } as DemoWorld;
    const config = parseConfigText(demoConfigText(world, join(dir, 'state'), root), join(dir, 'demo.yaml'), { env: {} });
    assert.deepEqual(config.trust, { caFile: root, bundled: false, system: false });
    assert.equal(config.dataDir, join(dir, 'state'));
    assert.deepEqual(config.domains.map((d) => [d.name, d.managed, d.endpoints]), [
      ['www.demo.test', false, [{ host: 'www.demo.test', port: 4431, address: '127.0.0.1' }]],
      ['chain.demo.test', false, [{ host: 'chain.demo.test', port: 4432, address: '127.0.0.1' }]],
      ['renewed.demo.test', true, [{ host: 'renewed.demo.test', port: 4433, address: '127.0.0.1' }]],
      ['mail.demo.test', false, [{ host: 'mail.demo.test', port: 2525, address: '127.0.0.1', protocol: 'smtp' }]],
    ]);
    // Nothing of the demo deploys: the managed domain gets no nginx snippet.
    assert.equal(config.domains[2]?.nginx, false);
  });
});

describe('certs demo: what was planted, found or missed', () => {
  const found = [
    reportFor({ domain: 'www.demo.test', port: 4431 }, []),
    reportFor({ domain: 'chain.demo.test', port: 4432 }, [], { problems: [problem('incomplete-chain')] }),
    reportFor({ domain: 'renewed.demo.test', port: 4433 }, [], { problems: [problem('stale-deployment', 'warning')] }),
    reportFor({ domain: 'mail.demo.test', port: 2525 }, []),
  ];

  it('every planted problem found and the healthy sites ok: all ok', () => {
    const checks = checkPlanted(SITES, found);
    assert.deepEqual(checks.map((c) => [c.domain, c.ok, c.found]), [
      ['www.demo.test', true, []],
      ['chain.demo.test', true, ['incomplete-chain']],
      ['renewed.demo.test', true, ['stale-deployment']],
      ['mail.demo.test', true, []],
    ]);
    assert.equal(checks[3]?.endpoint, 'mail.demo.test:2525 (smtp STARTTLS)');
  });

  it('a planted problem the scan did not report is missed, even when it reported another', () => {
    const reports = found.map((r) => (r.domain === 'chain.demo.test' ? { ...r, problems: [problem('untrusted-root')] } : r));
    const chain = checkPlanted(SITES, reports).find((c) => c.domain === 'chain.demo.test');
    assert.deepEqual(chain && [chain.ok, chain.found, chain.status], [false, ['untrusted-root'], 'critical']);
  });

  it('a healthy site that is not ok (a problem, or a failed upgrade) is missed', () => {
    const reports = found.map((r) => (r.domain === 'mail.demo.test' ? { ...r, status: 'critical' as const, problems: [problem('handshake-failed')] } : r));
    assert.deepEqual(checkPlanted(SITES, reports).filter((c) => !c.ok).map((c) => c.domain), ['mail.demo.test']);
  });

  it('a site the scan has no row for is missed', () => {
    const checks = checkPlanted(SITES, found.filter((r) => r.domain !== 'renewed.demo.test'));
    const renewed = checks.find((c) => c.domain === 'renewed.demo.test');
    assert.deepEqual(renewed && [renewed.ok, renewed.status], [false, 'missing']);
  });
});
