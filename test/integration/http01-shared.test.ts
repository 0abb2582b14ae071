/**
 * http-01 in a cluster (issue 16, acme.challenge.shared): node A places the order and writes the
 * key authorisation to the shared PostgreSQL store; Pebble resolves the name to node B
 * (127.0.0.3) and validates through B's nginx, whose acme-challenge snippet (as certs writes it)
 * proxies to B's daemon HTTP endpoint, which answers from the store. Real Pebble, nginx, PostgreSQL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { postgresSkip, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';
import type { Config, DomainConfig } from '../../src/config/types.js';
import { openPgStore } from '../../src/store/pg/store.js';
import type { AsyncStore } from '../../src/store/contract.js';
import { renewDomains } from '../../src/service/renew.js';
import { newOwnerId } from '../../src/service/lease.js';
import { startStatusServer, type StatusServer } from '../../src/service/http.js';
import { renderAcmeChallenge } from '../../src/deploy/snippet.js';
import { loadNginxTemplates } from '../../src/deploy/templates.js';

const KEK = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w=';
const skip = postgresSkip();

describe('shared http-01: ordered by node A, validated through node B', { skip }, () => {
  let env: AcmeEnv;
  let cluster: StoreCluster;
  let nginxB: NginxInstance;
  let serverB: StatusServer;
  let url = '';
  const served: string[] = [];
  let configA: Config;

  before(async () => {
    const httpPort = await freePort();
    env = await startAcmeEnv({ httpPort });
    cluster = await startStoreCluster();
    url = await cluster.newDatabase('http01_shared');
    const daemonPort = await freePort();
    const yaml = (node: string, address: string) => `dataDir: {{DIR}}/${node}
acme:
  directory: {{DIRECTORY}}
  caFile: {{CAFILE}}
  email: ops@example.com
  agreeToTerms: true
  challenge: { type: http-01, shared: true }
  preflight: { httpPort: {{HTTP_PORT}}, resolver: "{{DNS}}", timeoutMs: 5000 }
  timeoutMs: 10000
daemon: { http: { address: ${address}, port: ${daemonPort} } }
node: { name: ${node} }
store: { engine: postgres, url: "${url}", keyEncryptionKey: "${KEK}" }
domains:
  - { name: shared.test, managed: true, nginx: false, endpoints: [] }
`;
    configA = env.writeConfig(yaml('a', '127.0.0.2'), 'a.yaml').config;
    const configB = env.writeConfig(yaml('b', '127.0.0.3'), 'b.yaml').config;
    // Node B: its daemon's HTTP endpoint, reading the shared store, counting what it serves.
    serverB = await startStatusServer({
      config: () => configB,
      readStore: async () => {
        const s = await openPgStore(url, { keyEncryptionKey: KEK, node: 'b', readonly: true });
        if (!s) return null;
        const get = s.challenges.get.bind(s.challenges);
        (s.challenges as { get: typeof get }).get = async (token, now) => {
          served.push(token);
          return get(token, now);
        };
        return s;
      },
      lastRun: async () => null,
      address: '127.0.0.3',
      port: daemonPort,
      version: 'test',
    });
    // Node B's nginx on port 80's stand-in, with the snippet certs writes for shared http-01.
    const snippet = join(env.dir, 'b-acme-challenge.conf');
    writeFileSync(snippet, renderAcmeChallenge(configB, loadNginxTemplates(undefined)));
    // (startNginx needs one TLS site; node B's would serve shared.test once deployed.)
    const ca = await createCA({ cn: 'site CA', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000 * 30) });
    const leaf = await createLeaf({ dns: ['placeholder.test'], issuer: ca, notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000 * 30) });
    nginxB = await startNginx({ address: '127.0.0.3', sites: [{ serverNames: ['placeholder.test'], certPem: leaf.pem, keyPem: leaf.keyPem }], extraHttp: `server { listen 127.0.0.3:${httpPort}; server_name shared.test; include ${snippet}; }` });
    await env.dns.addA('shared.test', ['127.0.0.3']);
  });
  after(async () => {
    await nginxB?.stop();
    await serverB?.close();
    await env?.stop();
    await cluster?.stop();
  });

  it('Pebble validates through B what A presented; the token is gone from the store afterwards', async () => {
    const storeA: AsyncStore = await openPgStore(url, { keyEncryptionKey: KEK, node: 'a' });
    try {
      const [outcome] = await renewDomains(configA, storeA, configA.domains as DomainConfig[], { now: () => new Date(), random: () => 0.5, owner: newOwnerId(), node: 'a' });
      assert.equal(outcome!.action, 'issued', outcome!.reason);
      assert.ok(served.length >= 1, 'node B answered the CA (and the preflight) from the store');
      const latest = await storeA.issued.latest('shared.test');
      assert.equal(latest?.version, 1);
      const left = await storeA.challenges.get(served[0]!, Date.now());
      assert.equal(left, null, 'cleanup removed the key authorisation');
    } finally {
      await storeA.close();
    }
  });
});
