/** certs nginx snippet | write | check, and certs repair. */
import { UsageError } from '../../core/errors.js';
import type { Config, DomainConfig } from '../../config/types.js';
import { selectDomains } from '../../service/select.js';
import type { AsyncStore } from '../../store/contract.js';
import { compose } from '../compose.js';
import { deployDomains, nginxOf, type DeployOutcome } from '../../service/deploy.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import { paint, table, useColour } from '../style.js';
import { makeRescanner } from './scan.js';

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
export async function deployWith(config: Config, store: AsyncStore, domains: DomainConfig[], io: Io, opts: { dryRun?: boolean; force?: boolean; owner?: string; locksHeld?: boolean }): Promise<DeployOutcome[]> {
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
  const store = await compose().openStore(config);
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
    await store.close();
  }
}

export async function repairCommand(name: string, opts: GlobalOptions & { dryRun?: boolean; timeout?: string }, io: Io): Promise<number> {
  const timeoutMs = Number(opts.timeout ?? 15_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) throw new UsageError(`--timeout: expected milliseconds from 100 to 600000, got ${JSON.stringify(opts.timeout)}`);
  const config = configFrom(opts);
  const [domain] = selectDomains(config.domains, [name]) as DomainConfig[];
  if (!domain) throw new UsageError(`domain "${name}" is not in the inventory`);
  const { planRepair, applyRepair } = await import('../../service/repair.js');
  const { plan, chainFile, ending } = await planRepair(config, domain, { timeoutMs });
  if (!plan) {
    io.stdout.write(`${domain.name}: the chain in ${chainFile} is complete (${ending}); nothing to repair.\n`);
    return 0;
  }
  io.stderr.write(`certs: ${domain.name}: fetched ${plan.fetched}\n`);
  if (opts.dryRun) {
    io.stdout.write(`${domain.name}: would write a fullchain with ${plan.repaired.chain.length} certificates (fetched ${plan.fetched}); nothing written.\n`);
    return 0;
  }
  const store = await compose().openStore(config);
  try {
    const rescan = await makeRescanner(config, store, io);
    const result = await applyRepair(config, store, plan, { now: io.now, rescan, log: (d, event) => io.stderr.write(`certs: ${d}: ${event}\n`) });
    if (result.deploy.length > 0) io.stdout.write(`${renderDeploy(result.deploy, useColour(io.stdout))}\n`);
    for (const r of result.reports) io.stdout.write(`${r.host}:${r.port}${r.address ? ` @${r.address}` : ''} ${r.status.toUpperCase()} ${r.problems.map((p) => p.code).join(', ') || 'no problems'}\n`);
    if (result.still.length > 0) {
      io.stderr.write(`certs: ${domain.name}: ${result.still.map((r) => `${r.host}:${r.port}${r.address ? ` @${r.address}` : ''}`).join(', ')} still serve an incomplete chain: is the server configured with ${chainFile}${config.nginx?.snippetDir ? '' : ' and reloaded (no nginx.snippetDir, so certs did not reload it)'}?\n`);
      return 1;
    }
    return deployFailed(result.deploy) ? 1 : 0;
  } finally {
    await store.close();
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
