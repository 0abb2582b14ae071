// Drives the real scanner the way `certs scan` does, for integration tests: writes a config file
// (YAML) listing one monitor-only domain per endpoint, trusting only the given private root(s),
// loads it with the real config loader and trust loader, and scans everything in one
// scanDomains() call with the real clock.
//
//   const scan = await scanEndpoints({ dir, anchorsPem: pemBundle(root), endpoints: [
//     { host: 'good.test', address: '127.0.0.1', port: ngx.port },
//   ] });
//   scan.get('good.test').problems ...
//
// Also: a node:tls server serving a fixed chain, for tests that need a good endpoint without nginx.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { EndpointProtocol, EndpointReport } from '../../src/core/model.js';
import { scanDomains, type ScanOutcome } from '../../src/service/scan-inventory.js';
import { loadTrust } from '../../src/scan/trust.js';

export interface EndpointSpec {
  /** SNI name and domain name (one domain per endpoint). */
  host: string;
  port: number;
  /** Dialled instead of host (127.0.0.1, ::1). */
  address?: string;
  /** The endpoint's plaintext upgrade (smtp, imap, postgres, ...); default tls. */
  protocol?: EndpointProtocol;
}

export interface ScanFixtureOptions {
  /** Directory for ca.pem and certs.yaml (the caller creates and removes it). */
  dir: string;
  /** The only trust anchors (trust.caFile); bundled and system roots are off. */
  anchorsPem: string;
  endpoints: EndpointSpec[];
  /** Extra scan settings (timeoutMs, concurrency, ...). */
  scan?: Record<string, number>;
}

export interface ScanFixtureResult {
  config: Config;
  outcomes: ScanOutcome[];
  /** The report of the endpoint whose host is `host`; throws if there is none. */
  get(host: string): EndpointReport;
  /** Problem codes of that endpoint, sorted. */
  codes(host: string): string[];
  /** Wall-clock time of the scanDomains() call. */
  elapsedMs: number;
}

/** The YAML a user would write for these endpoints. */
export function configYaml(caFile: string, endpoints: EndpointSpec[], scan: Record<string, number> = {}): string {
  return stringify({
    dataDir: './data',
    trust: { caFile, bundled: false, system: false },
    scan,
    domains: endpoints.map((e) => ({
      name: e.host,
      managed: false,
      endpoints: [{ host: e.host, port: e.port, ...(e.address ? { address: e.address } : {}), ...(e.protocol ? { protocol: e.protocol } : {}) }],
    })),
  });
}

export async function scanEndpoints(opts: ScanFixtureOptions): Promise<ScanFixtureResult> {
  const caFile = join(opts.dir, 'ca.pem');
  const configFile = join(opts.dir, 'certs.yaml');
  writeFileSync(caFile, opts.anchorsPem);
  const yamlText = configYaml(caFile, opts.endpoints, opts.scan);
  writeFileSync(configFile, yamlText);
  const config = parseConfigText(yamlText, configFile);
  const trust = loadTrust({ ...config.trust });
  const started = performance.now();
  const arrived: ScanOutcome[] = [];
  const reports = await scanDomains(config, config.domains, {
    anchors: trust.anchors,
    secureContext: trust.secureContext,
    now: () => new Date(),
  }, { onOutcome: (o) => arrived.push(o) });
  // Outcomes arrive in completion order; the reports come back in inventory order.
  const byKey = new Map(arrived.map((o) => [`${o.report.source}|${o.report.host}|${o.report.port}`, o]));
  const outcomes = reports.map((r) => byKey.get(`${r.source}|${r.host}|${r.port}`) as ScanOutcome);
  const elapsedMs = performance.now() - started;
  const get = (host: string): EndpointReport => {
    const found = outcomes.find((o) => o.report.host === host && o.report.source === 'tls');
    if (!found) throw new Error(`no scan report for ${host} (have ${outcomes.map((o) => o.report.host).join(', ')})`);
    return found.report;
  };
  return {
    config,
    outcomes,
    get,
    codes: (host) => get(host).problems.map((p) => p.code).sort(),
    elapsedMs,
  };
}

/** A one-line description of a report, for assertion messages. */
export function describeReport(r: EndpointReport): string {
  return JSON.stringify({
    status: r.status,
    protocol: r.protocol,
    orderKnown: r.orderKnown,
    crossCheck: r.crossCheck,
    problems: r.problems.map((p) => `${p.code}/${p.severity}: ${p.message}`),
  }, null, 2);
}

export interface TlsServer {
  host: string;
  port: number;
  /** Serve another chain from the next handshake on (a "renewed and reloaded" server). */
  setCert(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

/** A node:tls server on 127.0.0.1 that serves `certPem` (the chain, as sent) for every name. */
export function startTlsServer(certPem: string, keyPem: string): Promise<TlsServer> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: certPem, key: keyPem }, (sock) => {
    sock.on('error', () => sock.destroy());
    sock.end();
  });
  server.on('connection', (sock: net.Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  // Scanners drop connections mid-handshake; that is not a server failure.
  server.on('tlsClientError', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      const addr = server.address() as net.AddressInfo;
      resolve({
        host: '127.0.0.1',
        port: addr.port,
        setCert: (cert, key) => server.setSecureContext({ cert, key }),
        close: () => new Promise<void>((res, rej) => {
          server.close((err) => (err ? rej(err) : res()));
          for (const s of sockets) s.destroy();
        }),
      });
    });
  });
}
