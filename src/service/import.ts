/**
 * `certs import nginx` and `certs import hosts FILE`: onboarding an inventory nobody typed in.
 *
 *   const report = await importNginx(config, { managed, dryRun });
 *   const report = importHosts(config, readFileSync(file, 'utf8'), { dryRun, source: file });
 *
 * Finding is pure (deploy/nginx-import.ts, lib/hosts-list.ts); merging into the config file keeps
 * its comments and writes atomically (config/import-merge.ts). A dry run computes the same plan and
 * returns its diff without writing. Importing twice changes nothing the second time.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../core/errors.js';
import type { Endpoint } from '../core/model.js';
import { unifiedDiff } from '../core/text-diff.js';
import { applyImport, planImport, type ImportEntry, type ImportOutcome } from '../config/import-merge.js';
import { NGINX_DEFAULTS } from '../config/schema-extras.js';
import type { Config } from '../config/types.js';
import { domainsFromNginxDump, type ImportSkip } from '../deploy/nginx-import.js';
import { runNginxDump } from '../deploy/nginx-check.js';
import { parseHostsList, type HostsLineError } from '../lib/hosts-list.js';

export interface ImportReport {
  file: string;
  source: 'nginx' | 'hosts';
  dryRun: boolean;
  /** The config file would change (dry run) or changed. */
  changed: boolean;
  written: boolean;
  /** Unified diff of the config file ('' when unchanged). */
  diff: string;
  outcomes: ImportOutcome[];
  /** What was found but could not be imported, and why (nginx). */
  skipped: ImportSkip[];
  /** Lines of a hosts file that could not be read (hosts). */
  badLines: HostsLineError[];
  warnings: string[];
}

export interface ImportOptions {
  dryRun?: boolean;
  env?: NodeJS.ProcessEnv;
}

function finish(config: Config, source: ImportReport['source'], entries: ImportEntry[], opts: ImportOptions, extra: Pick<ImportReport, 'skipped' | 'badLines' | 'warnings'>): ImportReport {
  const plan = planImport(config.file, entries, opts.env ? { env: opts.env } : {});
  const dryRun = opts.dryRun === true;
  if (!dryRun) applyImport(plan);
  return {
    file: plan.file,
    source,
    dryRun,
    changed: plan.changed,
    written: plan.changed && !dryRun,
    diff: unifiedDiff(plan.before, plan.after, { from: `${plan.file}`, to: `${plan.file}${dryRun ? ' (after import)' : ''}` }),
    outcomes: plan.outcomes,
    ...extra,
  };
}

/** Reads `nginx -T` (nginx.dumpCommand, default `nginx -T`) and imports the TLS server blocks it finds. */
export async function importNginx(config: Config, opts: ImportOptions & { managed?: boolean; dump?: () => Promise<string> } = {}): Promise<ImportReport> {
  const argv = config.nginx?.dumpCommand ?? NGINX_DEFAULTS.testCommand.map((a) => (a === '-t' ? '-T' : a));
  const text = opts.dump ? await opts.dump() : await runNginxDump(argv, { timeoutMs: 60_000 });
  const found = domainsFromNginxDump(text);
  const entries: ImportEntry[] = found.domains.map((d) => ({
    name: d.name,
    altNames: d.altNames,
    endpoints: d.endpoints,
    files: d.files,
    managed: opts.managed === true,
    source: d.sources.join(', '),
  }));
  return finish(config, 'nginx', entries, opts, { skipped: found.skipped, badLines: [], warnings: found.warnings });
}

/** Imports a hosts list (`host[:port]` or ssl-cert-check's `host port` lines) as monitor-only domains, one per host. */
export function importHosts(config: Config, text: string, opts: ImportOptions & { source?: string } = {}): ImportReport {
  const list = parseHostsList(text);
  const byHost = new Map<string, { endpoints: Endpoint[]; lines: number[] }>();
  for (const e of list.entries) {
    let h = byHost.get(e.host);
    if (!h) byHost.set(e.host, (h = { endpoints: [], lines: [] }));
    h.endpoints.push({ host: e.host, port: e.port });
    h.lines.push(e.line);
  }
  const where = opts.source ?? 'line';
  const entries: ImportEntry[] = [...byHost].map(([host, h]) => ({
    name: host,
    endpoints: h.endpoints,
    managed: false,
    source: `${where}:${h.lines.join(',')}`,
  }));
  const badLines = [...list.errors];
  // ssl-cert-check's `PATH FILE` lines: the certificate's DNS names (else its CN) name the domain.
  for (const f of list.files) {
    try {
      const cert = new X509Certificate(readFileSync(f.path));
      const dns = (cert.subjectAltName ?? '').split(/,\s*/).filter((x) => x.startsWith('DNS:')).map((x) => x.slice(4));
      const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
      const names = dns.length > 0 ? dns : cn ? [cn] : [];
      const primary = names.find((n) => !n.startsWith('*.')) ?? names[0];
      if (primary === undefined) {
        badLines.push({ line: f.line, text: `${f.path} FILE`, reason: 'the certificate has neither DNS names nor a common name to call the domain by' });
        continue;
      }
      entries.push({ name: primary, altNames: names.filter((n) => n !== primary), endpoints: [], files: { cert: f.path }, managed: false, source: `${where}:${f.line}` });
    } catch (err) {
      badLines.push({ line: f.line, text: `${f.path} FILE`, reason: `cannot read the certificate: ${errorMessage(err)}` });
    }
  }
  badLines.sort((a, b) => a.line - b.line);
  return finish(config, 'hosts', entries, opts, { skipped: [], badLines, warnings: [] });
}
