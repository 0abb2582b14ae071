/** renew, issue, revoke, certificates. */
import { runLockName } from '../../service/run.js';
import { leaseMsOf, nodeNameOf } from '../../config/node.js';
import { UsageError } from '../../core/errors.js';
import type { Config, DomainConfig } from '../../config/types.js';
import { selectDomains } from '../../service/select.js';
import type { AsyncStore } from '../../store/contract.js';
import { compose } from '../compose.js';
import { newOwnerId, waitLease } from '../../service/lease.js';
import { acmeForIssuer, acmeOf, decide, issuerOf, renewDomains, wantedFor, type RenewOutcome } from '../../service/renew.js';
import { currentPaths, currentVersion, versionPaths } from '../../store/archive.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import type { DeployOutcome } from '../../service/deploy.js';
import { paint, table, useColour } from '../style.js';

export interface RenewCliOptions extends GlobalOptions {
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  /** Seconds to wait for another run to finish. */
  wait?: string;
}

function managedOf(config: Config, names: string[]): DomainConfig[] {
  const picked = selectDomains(config.domains, names) as DomainConfig[];
  const managed = picked.filter((d) => d.managed);
  const skipped = picked.filter((d) => !d.managed);
  if (names.length > 0 && skipped.length > 0) {
    throw new UsageError(`${skipped.map((d) => `"${d.name}"`).join(', ')} ${skipped.length === 1 ? 'is' : 'are'} monitor-only (managed: false) and never renewed`);
  }
  return managed;
}

const ACTION_COLOUR = { issued: 'green', 'not-due': 'grey', failed: 'red', locked: 'yellow', 'dry-run': 'green', backoff: 'yellow' } as const;

function renderOutcomes(outcomes: RenewOutcome[], colour: boolean): string {
  if (outcomes.length === 0) return 'No managed domains to renew.';
  const rows = outcomes.map((o) => [o.domain, paint(colour, ACTION_COLOUR[o.action], o.action.toUpperCase()), o.notAfter ? o.notAfter.slice(0, 10) : '-', o.reason]);
  return table(rows, ['DOMAIN', 'RESULT', 'EXPIRES', 'DETAIL']);
}

function waitSeconds(v: string | undefined): number {
  if (v === undefined) return 600;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new UsageError(`--wait: expected whole seconds from 0 to 86400, got ${JSON.stringify(v)}`);
  return n;
}

async function withRunLock<T>(config: Config, store: AsyncStore, owner: string, waitS: number, fn: () => Promise<T>): Promise<T> {
  const lease = await waitLease(store.locks, runLockName(config, store), owner, waitS * 1000, { leaseMs: leaseMsOf(config) });
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

async function runRenew(names: string[], opts: RenewCliOptions, io: Io, force: boolean): Promise<number> {
  const config = configFrom(opts);
  acmeOf(config);
  const domains = managedOf(config, names);
  const waitS = waitSeconds(opts.wait);
  const store = await compose().openStore(config);
  const owner = newOwnerId();
  try {
    const outcomes = await withRunLock(config, store, owner, waitS, () => renewDomains(config, store, domains, {
      node: nodeNameOf(config),
      leaseMs: leaseMsOf(config),
      force,
      dryRun: opts.dryRun === true,
      now: io.now,
      random: Math.random,
      owner,
      log: (domain, event) => io.stderr.write(`certs: ${domain}: ${event}\n`),
    }));
    // A new certificate is only done once nginx serves it: deploy what was issued.
    const issued = new Set(outcomes.filter((o) => o.action === 'issued').map((o) => o.domain));
    // Also what an earlier run issued and nginx refused (or a crash left undeployed): retried.
    const { needsDeploy } = await import('../../service/deploy.js');
    const toDeploy: DomainConfig[] = [];
    for (const d of domains) if (d.nginx && (issued.has(d.name) || (!opts.dryRun && (await needsDeploy(store, d))))) toDeploy.push(d);
    let deployed: DeployOutcome[] = [];
    if (config.nginx?.snippetDir && toDeploy.length > 0 && !opts.dryRun) {
      const { deployWith } = await import('./nginx.js');
      deployed = await deployWith(config, store, toDeploy, io, { owner });
    }
    if (opts.json) {
      const doc = outcomes.map(({ error, ...o }) => ({ ...o, ...(error ? { error: { code: error.code, message: error.message } } : {}) }));
      const dep = deployed.map(({ error, ...o }) => ({ ...o, ...(error ? { error: { code: error.code, message: error.message } } : {}) }));
      io.stdout.write(`${JSON.stringify({ generatedAt: io.now().toISOString(), results: doc, ...(config.nginx?.snippetDir ? { deploy: dep } : {}) }, null, 2)}\n`);
    } else {
      io.stdout.write(`${renderOutcomes(outcomes, useColour(io.stdout))}\n`);
      if (deployed.length > 0) {
        const { renderDeploy } = await import('./nginx.js');
        io.stdout.write(`\n${renderDeploy(deployed, useColour(io.stdout))}\n`);
      }
    }
    const deployBad = deployed.some((o) => o.action === 'failed' || o.action === 'stale' || o.action === 'not-included');
    return outcomes.some((o) => o.action === 'failed' || o.action === 'locked') || deployBad ? 1 : 0;
  } finally {
    await store.close();
  }
}

export function renewCommand(names: string[], opts: RenewCliOptions, io: Io): Promise<number> {
  return runRenew(names, opts, io, opts.force === true);
}

export function issueCommand(name: string, opts: RenewCliOptions, io: Io): Promise<number> {
  return runRenew([name], opts, io, true);
}

export async function revokeCommand(name: string, opts: GlobalOptions & { reason?: string }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const acme = acmeOf(config);
  const [domain] = managedOf(config, [name]);
  if (!domain) throw new UsageError(`domain "${name}" is not managed`);
  const { REVOCATION_REASONS, revokeCertificate } = await import('../../acme/order.js');
  const reason = (opts.reason ?? 'unspecified') as keyof typeof REVOCATION_REASONS;
  if (!(reason in REVOCATION_REASONS)) throw new UsageError(`--reason: expected one of ${Object.keys(REVOCATION_REASONS).join(', ')}, got ${JSON.stringify(opts.reason)}`);
  const store = await compose().openStore(config);
  try {
    const latest = await store.issued.latest(domain.name);
    if (!latest) throw new UsageError(`domain "${domain.name}" has no certificate issued by certs to revoke`);
    if (latest.revokedAt) throw new UsageError(`domain "${domain.name}": version ${latest.version} was already revoked at ${latest.revokedAt}`);
    // From the store: with a shared one the version may never have been written on this machine.
    const pems = await store.issued.pems(domain.name, latest.version);
    if (!pems) throw new UsageError(`domain "${domain.name}": version ${latest.version} is recorded but its certificate is missing (${versionPaths(config.dataDir, domain.name, latest.version).dir})`);
    const certPem = pems.cert;
    const { ensureAccount } = await import('../../acme/account.js');
    // At the CA that issued it, with that issuer's account settings (issue 17).
    const { session } = await ensureAccount(store.accounts, config.dataDir, acmeForIssuer(acme, issuerOf(acme, latest) ?? acme.issuers[0]!), latest.directoryUrl, io.now);
    await revokeCertificate(session, domain.name, certPem, reason);
    await store.issued.markRevoked(latest.id!, io.now().toISOString(), REVOCATION_REASONS[reason]);
    io.stdout.write(`Revoked ${domain.name} version ${latest.version} (serial ${latest.serial}, reason ${reason}). The next \`certs renew\` issues a replacement.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

export async function certificatesCommand(names: string[], opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const domains = (selectDomains(config.domains, names) as DomainConfig[]).filter((d) => d.managed);
  const store = await compose().readStore(config);
  const now = io.now();
  try {
    const acme = config.acme;
    const lineages = [];
    for (const d of domains) {
      const versions = (await store?.issued.list(d.name)) ?? [];
      const state = (await store?.renewals.get(d.name)) ?? null;
      const latest = versions[0] ?? null;
      let next: string;
      try {
        next = acme ? decide(d, wantedFor(d, acme, latest), latest, state, acme, now, false).reason : 'no acme section: never renewed';
      } catch (err) {
        next = err instanceof Error ? err.message : String(err);
      }
      const current = currentVersion(config.dataDir, d.name);
      const deployment = (await store?.deployments.get(d.name)) ?? null;
      const failure = (await store?.deployments.failure(d.name)) ?? null;
      lineages.push({
        domain: d.name,
        names: [d.name, ...d.altNames],
        current,
        /** The version nginx last accepted (null: not deployed through nginx, or before versions were recorded). */
        deployedVersion: deployment?.version ?? null,
        deployFailure: failure ? { version: failure.version, code: failure.code, detail: failure.detail, failures: failure.failures, since: failure.since, lastAt: failure.lastAt } : null,
        paths: current === null ? null : currentPaths(config.dataDir, d.name),
        nextRenewal: next,
        lastError: state?.lastError ?? null,
        failures: state?.failures ?? 0,
        nextAttemptAt: state?.nextAttemptAt ?? null,
        ari: state?.ari ?? null,
        versions: versions.map((v) => ({
          version: v.version,
          serial: v.serial,
          fingerprint256: v.fingerprint256,
          notBefore: v.notBefore,
          notAfter: v.notAfter,
          daysLeft: Math.floor((Date.parse(v.notAfter) - now.getTime()) / 86_400_000),
          issuer: v.issuer,
          /** The ACME directory (the CA) that issued this version (issue 17). */
          directoryUrl: v.directoryUrl,
          keyType: v.keyType,
          profile: v.profile,
          ariCertId: v.ariCertId,
          issuedAt: v.issuedAt,
          revokedAt: v.revokedAt,
          dir: v.dir,
        })),
      });
    }
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({ generatedAt: now.toISOString(), certificates: lineages }, null, 2)}\n`);
      return 0;
    }
    if (lineages.length === 0) {
      io.stdout.write('No managed domains.\n');
      return 0;
    }
    const colour = useColour(io.stdout);
    const blocks = lineages.map((l) => {
      const head = `${paint(colour, 'bold', l.domain)}${l.names.length > 1 ? ` (${l.names.slice(1).join(', ')})` : ''}`;
      const lines = [head];
      if (l.versions.length === 0) lines.push('  no certificate issued yet');
      for (const v of l.versions) {
        const mark = v.version === l.current ? '*' : ' ';
        lines.push(`  ${mark} v${v.version}  ${v.notAfter.slice(0, 10)}  ${String(v.daysLeft).padStart(4)} days  ${v.keyType}${v.profile ? ` ${v.profile}` : ''}  serial ${v.serial}${v.revokedAt ? '  REVOKED' : ''}`);
        lines.push(`      from ${v.directoryUrl}`);
      }
      if (l.paths) lines.push(`  files: ${l.paths.fullchain}, ${l.paths.privkey}`);
      lines.push(`  next: ${l.nextRenewal}`);
      if (l.lastError) lines.push(paint(colour, 'red', `  last failure (${l.failures}×): ${l.lastError}`));
      if (l.deployFailure) lines.push(paint(colour, 'red', `  deploy failed (${l.deployFailure.failures}×)${l.deployFailure.version !== null ? `, version ${l.deployFailure.version} issued but not deployed` : ''}: ${l.deployFailure.detail}`));
      return lines.join('\n');
    });
    io.stdout.write(`${blocks.join('\n\n')}\n`);
    return 0;
  } finally {
    await store?.close();
  }
}
