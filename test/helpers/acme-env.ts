/**
 * An ACME test world on loopback: pebble-challtestsrv (DNS answering 127.0.0.1 for every name),
 * Pebble resolving through it, a temp data dir and a config file written from YAML. Everything is
 * stopped and removed by `stop()` (call it in `finally` / `after`).
 *
 *   const env = await startAcmeEnv();
 *   const config = env.writeConfig(`acme: {...}\ndomains: [...]`)   // directory/caFile/preflight filled in
 *   const outcomes = await env.renew(config, { now: () => new Date(...) });
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config, DomainConfig } from '../../src/config/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { renewDomains, type RenewOptions, type RenewOutcome } from '../../src/service/renew.js';
import { newOwnerId } from '../../src/service/lease.js';
import { freePort } from './ports.js';
import { startChallTestSrv, startPebble, type ChallTestSrvInstance, type PebbleInstance, type PebbleOptions } from './pebble.js';
import { a } from '../helpers/async-store.js';

export interface AcmeEnv {
  dir: string;
  dataDir: string;
  pebble: PebbleInstance;
  dns: ChallTestSrvInstance;
  /** Port Pebble validates http-01 on: the standalone solver or nginx must listen here. */
  httpPort: number;
  /**
   * Writes certs.yaml into the env's folder from `yaml` and loads it. `{{DIRECTORY}}`, `{{CAFILE}}`,
   * `{{HTTP_PORT}}`, `{{DNS}}` (challtestsrv host:port), `{{DATA}}` and `{{DIR}}` are replaced first.
   */
  writeConfig(yaml: string, name?: string): { file: string; config: Config };
  /** The standard acme section for this env: standalone http-01 on httpPort, preflight through challtestsrv. */
  acmeYaml(extra?: string): string;
  renew(config: Config, opts?: Partial<RenewOptions> & { names?: string[] }): Promise<RenewOutcome[]>;
  openStore(): Store;
  stop(): Promise<void>;
}

export interface AcmeEnvOptions {
  pebble?: Partial<Omit<PebbleOptions, 'dnsServer' | 'httpPort'>>;
  /** Use this DNS server for Pebble instead of challtestsrv (e.g. a BIND instance). */
  dnsServer?: string;
  /** Port Pebble validates http-01 on (e.g. an nginx already listening); default a free port. */
  httpPort?: number;
}

export async function startAcmeEnv(opts: AcmeEnvOptions = {}): Promise<AcmeEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'certs-acme-'));
  const dataDir = join(dir, 'data');
  let dns: ChallTestSrvInstance | undefined;
  let pebble: PebbleInstance | undefined;
  try {
    dns = await startChallTestSrv();
    const httpPort = opts.httpPort ?? (await freePort());
    pebble = await startPebble({ dnsServer: opts.dnsServer ?? dns.dnsServer, httpPort, ...opts.pebble });
    const p = pebble;
    const d = dns;
    const fill = (yaml: string): string => yaml
      .replaceAll('{{DIRECTORY}}', p.directoryUrl)
      .replaceAll('{{CAFILE}}', p.caFile)
      .replaceAll('{{HTTP_PORT}}', String(httpPort))
      .replaceAll('{{DNS}}', d.dnsServer)
      .replaceAll('{{DATA}}', dataDir)
      .replaceAll('{{DIR}}', dir);
    const env: AcmeEnv = {
      dir,
      dataDir,
      pebble: p,
      dns: d,
      httpPort,
      writeConfig(yaml, name = 'certs.yaml') {
        const file = join(dir, name);
        writeFileSync(file, fill(yaml));
        return { file, config: loadConfig(file, { env: process.env }) };
      },
      acmeYaml(extra = '') {
        return fill(`dataDir: {{DATA}}
acme:
  directory: {{DIRECTORY}}
  caFile: {{CAFILE}}
  email: ops@example.com
  agreeToTerms: true
  challenge: { type: http-01, standalone: { address: 127.0.0.1, port: {{HTTP_PORT}} } }
  preflight: { httpPort: {{HTTP_PORT}}, resolver: "{{DNS}}", timeoutMs: 5000 }
  timeoutMs: 10000
${extra}`);
      },
      async renew(config, o = {}) {
        const store = openStore(config.dataDir);
        try {
          const domains = (o.names ? config.domains.filter((x) => o.names!.includes(x.name)) : config.domains).filter((x) => x.managed) as DomainConfig[];
          return await renewDomains(config, a(store), domains, { now: () => new Date(), random: () => 0.5, owner: newOwnerId(), ...o });
        } finally {
          store.close();
        }
      },
      openStore: () => openStore(dataDir),
      async stop() {
        await Promise.allSettled([p.stop(), d.stop()]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return env;
  } catch (err) {
    await Promise.allSettled([pebble?.stop(), dns?.stop()]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
