/** certs nginx snippet | write | check, and certs repair. */
import { X509Certificate } from 'node:crypto';
import { BusyError, UsageError } from '../../core/errors.js';
import type { Config, DomainConfig } from '../../config/types.js';
import type { EndpointReport } from '../../core/model.js';
import { selectDomains } from '../../service/select.js';
import { openStore, type Store } from '../../store/index.js';
import { deployDomains, nginxOf, type DeployOutcome } from '../../service/deploy.js';
import { newOwnerId, tryLease } from '../../service/lease.js';
import { assertCertificateSet } from '../../store/cert-check.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import { paint, table, useColour } from '../style.js';
import { makeRescanner } from './scan.js';
import { certName, oneLineName } from '../../core/x509.js';

const ACTION_COLOUR = { unchanged: 'grey', deployed: 'green', stale: 'red', failed: 'red', 'dry-run': 'yellow', skipped: 'grey', 'not-included': 'yellow' } as const;

export function renderDeploy(outcomes: readonly DeployOutcome[], colour: boolean): string {
  if (outcomes.length === 0) return 'No domains with nginx snippets.';
  return table(outcomes.map((o) => [o.domain, paint(colour, ACTION_COLOUR[o.action], o.action.toUpperCase()), o.detail]), ['DOMAIN', 'DEPLOY', 'DETAIL']);
}

export function deployFailed(outcomes: readonly DeployOutcome[]): boolean {
  return outcomes.some((o) => o.action === 'failed' || o.action === 'stale' || o.action === 'not-included');
}

function pick(config: Config, names: string[]): DomainConfig[] {
  const picked = selectDomains(config.domains, names) as DomainConfig[];
  if (names.length > 0) {
    const off = picked.filter((d) => !d.nginx);
    if (off.length > 0) throw new UsageError(`${off.map((d) => `"${d.name}"`).join(', ')} ${off.length === 1 ? 'has' : 'have'} no nginx snippet (set nginx: true on the domain; monitor-only domains need files {cert, key})`);
  }
  return picked.filter((d) => d.nginx);
}

export async function snippetCommand(name: string | undefined, opts: GlobalOptions & { acmeChallenge?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const nginx = nginxOf(config);
  const [{ loadNginxTemplates }, { renderAcmeChallenge, renderSnippet, snippetPath }] = await Promise.all([import('../../deploy/templates.js'), import('../../deploy/snippet.js')]);
  if (opts.acmeChallenge) {
    if (name !== undefined) throw new UsageError('--acme-challenge takes no domain name: the location block is the same for every domain');
    io.stderr.write(`# ${nginx.snippetDir}/_acme-challenge.conf\n`);
    io.stdout.write(renderAcmeChallenge(config, loadNginxTemplates(nginx.templateDir)));
    return 0;
  }
  if (name === undefined) throw new UsageError('name a domain, or use --acme-challenge');
  const [domain] = pick(config, [name]);
  if (!domain) throw new UsageError(`domain "${name}" has no nginx snippet`);
  const text = renderSnippet(config, domain, loadNginxTemplates(nginx.templateDir));
  io.stderr.write(`# ${snippetPath(nginx, domain)}\n`);
  io.stdout.write(text);
  return 0;
}

/** Deploys with an open store: rescans through the same store for verification. */
export async function deployWith(config: Config, store: Store, domains: DomainConfig[], io: Io, opts: { dryRun?: boolean; force?: boolean; owner?: string; locksHeld?: boolean }): Promise<DeployOutcome[]> {
  const rescan = await makeRescanner(config, store, io);
  return deployDomains(config, store, domains, {
    ...opts,
    now: io.now,
    rescan,
    log: (domain, event) => io.stderr.write(`certs: ${domain}: ${event}\n`),
  });
}

export async function writeCommand(names: string[], opts: GlobalOptions & { dryRun?: boolean; json?: boolean; force?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  nginxOf(config);
  const domains = pick(config, names);
  const store = openStore(config.dataDir);
  try {
    const outcomes = await deployWith(config, store, domains, io, { ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.force ? { force: true } : {}) });
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({ generatedAt: io.now().toISOString(), results: outcomes.map(({ error, ...o }) => ({ ...o, ...(error ? { error: { code: error.code, message: error.message } } : {}) })) }, null, 2)}\n`);
    } else {
      const diffs = outcomes.filter((o) => o.diff).map((o) => o.diff).join('\n');
      io.stdout.write(`${diffs ? `${diffs}\n\n` : ''}${renderDeploy(outcomes, useColour(io.stdout))}\n`);
    }
    return deployFailed(outcomes) ? 1 : 0;
  } finally {
    store.close();
  }
}

export async function repairCommand(name: string, opts: GlobalOptions & { dryRun?: boolean; timeout?: string }, io: Io): Promise<number> {
  const timeoutMs = Number(opts.timeout ?? 15_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) throw new UsageError(`--timeout: expected milliseconds from 100 to 600000, got ${JSON.stringify(opts.timeout)}`);
  const config = configFrom(opts);
  const [domain] = selectDomains(config.domains, [name]) as DomainConfig[];
  if (!domain) throw new UsageError(`domain "${name}" is not in the inventory`);
  const { readFileSync } = await import('node:fs');
  const [{ repairChain }, { loadTrust }, { currentPaths, currentVersion, writeArchiveVersion, switchCurrent, versionPaths }, { writeFileAtomic }] = await Promise.all([
    import('../../deploy/aia.js'),
    import('../../scan/trust.js'),
    import('../../store/archive.js'),
    import('../../config/atomic-write.js'),
  ]);
  // Only files this host writes can be repaired: a managed lineage's current version, or a
  // monitored domain's own certificate file.
  let chainFile: string;
  if (domain.managed) {
    if (currentVersion(config.dataDir, domain.name) === null) throw new UsageError(`domain "${domain.name}" has no certificate issued by certs yet; nothing to repair`);
    chainFile = currentPaths(config.dataDir, domain.name).fullchain;
  } else if (domain.files) {
    chainFile = domain.files.cert;
  } else {
    throw new UsageError(`domain "${domain.name}" is monitor-only without files: certs does not manage what its servers send`);
  }
  const trust = loadTrust({ ...config.trust });
  const pem = readFileSync(chainFile, 'utf8');
  const repaired = await repairChain([pem], { anchors: trust.anchors, timeoutMs, allowPrivateAddresses: config.fetch.allowPrivateAddresses });
  if (repaired.fetched.length === 0) {
    io.stdout.write(`${domain.name}: the chain in ${chainFile} is complete (${repaired.ending}); nothing to repair.\n`);
    return 0;
  }
  const what = repaired.fetched.map((f) => `${oneLineName(f.issuer.subject) || certName(f.issuer)} from ${f.url}`).join('; ');
  io.stderr.write(`certs: ${domain.name}: fetched ${what}\n`);
  if (opts.dryRun) {
    io.stdout.write(`${domain.name}: would write a fullchain with ${repaired.chain.length} certificates (fetched ${what}); nothing written.\n`);
    return 0;
  }
  const store = openStore(config.dataDir);
  // The certificate's lock, as renew takes it, from reading `current` to the end of the deploy:
  // no renew may switch `current` between the leaf we read and the version we write.
  const owner = newOwnerId();
  const lease = domain.managed ? tryLease(store.locks, `cert:${domain.name}`, owner) : null;
  try {
    if (domain.managed && !lease) {
      const h = store.locks.holder(`cert:${domain.name}`);
      throw new BusyError(`domain "${domain.name}": another certs process is renewing or deploying it${h ? ` (${h.owner})` : ''}; nothing was written, try again when it has finished`);
    }
    if (domain.managed) {
      // The leaf we repaired is the one `current` points at: its own version's record and key,
      // never the newest version's (current is behind it after a deploy nginx refused).
      const at = currentVersion(config.dataDir, domain.name);
      const source = at === null ? null : store.issued.byVersion(domain.name, at);
      if (at === null || !source) throw new UsageError(`domain "${domain.name}": current/ points at no recorded version; run certs renew ${domain.name} first`);
      const from = versionPaths(config.dataDir, domain.name, at);
      const certPem = readFileSync(from.cert, 'utf8');
      if (new X509Certificate(certPem).fingerprint256 !== repaired.chain[0]!.fingerprint256) {
        throw new UsageError(`domain "${domain.name}": current/ changed while the chain was being repaired; run certs repair ${domain.name} again`);
      }
      const chainPem = repaired.chain.slice(1).map((c) => c.toString()).join('');
      const pems = { cert: certPem, chain: chainPem, fullchain: repaired.fullchainPem, privkey: readFileSync(from.privkey, 'utf8') };
      assertCertificateSet(pems, `domain "${domain.name}": the repaired chain`);
      const { version, paths } = writeArchiveVersion(config.dataDir, domain.name, pems, { minVersion: store.issued.maxVersion(domain.name) + 1 });
      const { id: _id, ...rest } = source;
      store.issued.record({ ...rest, version, dir: paths.dir, issuedAt: io.now().toISOString(), reason: `repair of version ${at}: added ${what}` });
      // With nginx, the deploy below moves current (and puts it back if nginx refuses).
      if (!(config.nginx?.snippetDir && domain.nginx)) switchCurrent(config.dataDir, domain.name, version);
      io.stderr.write(`certs: ${domain.name}: wrote version ${version} (version ${at} with the completed chain)\n`);
    } else {
      writeFileAtomic(`${chainFile}.prev`, pem);
      writeFileAtomic(chainFile, repaired.fullchainPem);
      io.stderr.write(`certs: ${domain.name}: wrote ${chainFile} (previous kept as ${chainFile}.prev)\n`);
    }
    let outcomes: DeployOutcome[] = [];
    if (config.nginx?.snippetDir && domain.nginx) outcomes = await deployWith(config, store, [domain], io, { force: true, owner, locksHeld: true });
    const rescan = await makeRescanner(config, store, io);
    // The leaf did not change, so the deploy's own check cannot tell old workers from new ones:
    // rescan until two scans in a row see the complete chain, within the verify budget.
    let reports: EndpointReport[] = [];
    let still: EndpointReport[] = [];
    if (domain.endpoints.length > 0) {
      const { timeoutMs: budget, intervalMs } = config.nginx?.verify ?? { timeoutMs: 30_000, intervalMs: 500 };
      const deadline = Date.now() + budget;
      for (let clean = 0; clean < 2;) {
        reports = await rescan([domain]);
        still = reports.filter((r) => r.problems.some((p) => p.code === 'incomplete-chain'));
        clean = still.length === 0 ? clean + 1 : 0;
        if (clean >= 2 || Date.now() + intervalMs > deadline) break;
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    }
    if (outcomes.length > 0) io.stdout.write(`${renderDeploy(outcomes, useColour(io.stdout))}\n`);
    for (const r of reports) io.stdout.write(`${r.host}:${r.port} ${r.status.toUpperCase()} ${r.problems.map((p) => p.code).join(', ') || 'no problems'}\n`);
    if (still.length > 0) {
      io.stderr.write(`certs: ${domain.name}: ${still.map((r) => `${r.host}:${r.port}`).join(', ')} still serve an incomplete chain: is the server configured with ${chainFile}${config.nginx?.snippetDir ? '' : ' and reloaded (no nginx.snippetDir, so certs did not reload it)'}?\n`);
      return 1;
    }
    return deployFailed(outcomes) ? 1 : 0;
  } finally {
    lease?.release();
    store.close();
  }
}

export async function checkCommand(names: string[], opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const nginx = nginxOf(config);
  const domains = pick(config, names);
  const [{ checkSnippetIncludes, runNginxDump }, { snippetPath }] = await Promise.all([import('../../deploy/nginx-check.js'), import('../../deploy/snippet.js')]);
  const dump = await runNginxDump(nginx.dumpCommand, { timeoutMs: 60_000 });
  const report = checkSnippetIncludes({ dump, domains: domains.map((d) => ({ name: d.name, names: [d.name, ...d.altNames], snippet: snippetPath(nginx, d) })) });
  if (opts.json) {
    io.stdout.write(`${JSON.stringify({ generatedAt: io.now().toISOString(), ...report }, null, 2)}\n`);
  } else {
    const colour = useColour(io.stdout);
    const blocks = report.domains.map((c) => {
      const head = `${paint(colour, c.included ? 'green' : 'red', c.included ? 'OK     ' : 'MISSING')} ${c.domain}  (${c.snippet})`;
      const lines = [head];
      for (const p of c.problems) lines.push(`  ${p.severity === 'error' ? 'error' : 'warning'}: ${p.message}${p.file ? ` [${p.file}${p.line ? `:${p.line}` : ''}]` : ''}`);
      if (c.fix) for (const f of c.fix.split('\n')) lines.push(`  fix: ${f}`);
      return lines.join('\n');
    });
    for (const w of report.warnings) blocks.push(paint(colour, 'yellow', `warning: ${w}`));
    io.stdout.write(`${blocks.join('\n')}\n\n${report.domains.filter((c) => c.included).length} of ${report.domains.length} snippets included where they should be (${report.files} files, ${report.serverBlocks} server blocks read).\n`);
  }
  return report.domains.every((c) => c.included) ? 0 : 1;
}
