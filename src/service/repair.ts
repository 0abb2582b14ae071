/**
 * `certs repair`: complete a served chain with the issuers its AIA names. Only files this host
 * writes are repaired: a managed lineage's current version (written as a new archive version,
 * recorded as issued, deployed through the deploy transaction) or a monitored domain's own
 * certificate file. Verification uses the deploy's proof rule (proveServed): two scans in a
 * row, the second started after nginx's old workers are gone.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BusyError, UsageError } from '../core/errors.js';
import type { EndpointReport } from '../core/model.js';
import { certName, oneLineName } from '../core/x509.js';
import type { Config, DomainConfig } from '../config/types.js';
import type { RepairedChain } from '../deploy/aia.js';
import { currentPaths, currentVersion, switchCurrent, versionPaths, writeArchiveVersion } from '../store/archive.js';
import { assertCertificateSet } from '../store/cert-check.js';
import type { AsyncStore } from '../store/contract.js';
import { deployDomains, proveServed, type DeployOutcome, type ProofClock } from './deploy.js';
import { newOwnerId, tryLease } from './lease.js';

/** What a repair would write; nothing is written yet. */
export interface RepairPlan {
  domain: DomainConfig;
  /** The file the chain was read from (and, for a monitored domain, is written to). */
  chainFile: string;
  pem: string;
  repaired: RepairedChain;
  /** The fetched issuers in words, for messages and the issued row's reason. */
  fetched: string;
}

/** Reads the domain's served chain and fetches what is missing; null when it is already complete. */
export async function planRepair(config: Config, domain: DomainConfig, opts: { timeoutMs: number }): Promise<{ plan: RepairPlan | null; chainFile: string; ending: RepairedChain['ending'] }> {
  let chainFile: string;
  if (domain.managed) {
    if (currentVersion(config.dataDir, domain.name) === null) throw new UsageError(`domain "${domain.name}" has no certificate issued by certs yet; nothing to repair`);
    chainFile = currentPaths(config.dataDir, domain.name).fullchain;
  } else if (domain.files) {
    chainFile = domain.files.cert;
  } else {
    throw new UsageError(`domain "${domain.name}" is monitor-only without files: certs does not manage what its servers send`);
  }
  // Loaded here: only repair fetches issuers.
  const [{ repairChain }, { loadTrust }] = await Promise.all([import('../deploy/aia.js'), import('../scan/trust.js')]);
  const trust = loadTrust({ ...config.trust });
  const pem = readFileSync(chainFile, 'utf8');
  const repaired = await repairChain([pem], { anchors: trust.anchors, timeoutMs: opts.timeoutMs, allowPrivateAddresses: config.fetch.allowPrivateAddresses });
  if (repaired.fetched.length === 0) return { plan: null, chainFile, ending: repaired.ending };
  const fetched = repaired.fetched.map((f) => `${oneLineName(f.issuer.subject) || certName(f.issuer)} from ${f.url}`).join('; ');
  return { plan: { domain, chainFile, pem, repaired, fetched }, chainFile, ending: repaired.ending };
}

export interface RepairDeps {
  now: () => Date;
  rescan: (domains: DomainConfig[]) => Promise<EndpointReport[]>;
  log: (domain: string, event: string) => void;
  /** For the proof loop (tests). */
  clock?: ProofClock;
}

export interface RepairResult {
  /** The archive version written (managed lineages). */
  version?: number;
  deploy: DeployOutcome[];
  /** The last scan of the domain's endpoints. */
  reports: EndpointReport[];
  /** Endpoints still serving an incomplete chain when the budget ran out. */
  still: EndpointReport[];
}

/** Writes the repaired chain, deploys it with nginx, and verifies that clients get it. */
export async function applyRepair(config: Config, store: AsyncStore, plan: RepairPlan, deps: RepairDeps): Promise<RepairResult> {
  const { domain, repaired } = plan;
  const withNginx = Boolean(config.nginx?.snippetDir && domain.nginx);
  // The certificate's lock, as renew takes it, from reading `current` to the end of the deploy:
  // no renew may switch `current` between the leaf we read and the version we write.
  const owner = newOwnerId();
  const lease = domain.managed ? await tryLease(store.locks, `cert:${domain.name}`, owner) : null;
  try {
    if (domain.managed && !lease) {
      const h = await store.locks.holder(`cert:${domain.name}`);
      throw new BusyError(`domain "${domain.name}": another certs process is renewing or deploying it${h ? ` (${h.owner})` : ''}; nothing was written, try again when it has finished`);
    }
    let version: number | undefined;
    if (domain.managed) {
      version = await writeManagedVersion(config, store, plan, deps, withNginx);
    } else {
      const { writeFileAtomic } = await import('../lib/atomic-write.js');
      writeFileAtomic(`${plan.chainFile}.prev`, plan.pem);
      writeFileAtomic(plan.chainFile, repaired.fullchainPem);
      deps.log(domain.name, `wrote ${plan.chainFile} (previous kept as ${plan.chainFile}.prev)`);
    }
    const deploy = withNginx ? await deployDomains(config, store, [domain], { force: true, owner, locksHeld: true, now: deps.now, rescan: deps.rescan, log: deps.log }) : [];
    // The leaf did not change, so the deploy's own check cannot tell old workers from new ones:
    // the proof is on the chain instead, with the same rule.
    let reports: EndpointReport[] = [];
    let still: EndpointReport[] = [];
    if (domain.endpoints.length > 0) {
      const budget = config.nginx?.verify ?? { timeoutMs: 30_000, intervalMs: 500 };
      const complete = (rs: readonly EndpointReport[]): boolean => !rs.some((r) => r.problems.some((p) => p.code === 'incomplete-chain'));
      const rescan = async (ds: DomainConfig[]): Promise<EndpointReport[]> => (reports = await deps.rescan(ds));
      const proof = await proveServed([domain], rescan, (_d, rs) => complete(rs), budget, deps.clock);
      if (!proof.proven.has(domain.name)) still = reports.filter((r) => r.problems.some((p) => p.code === 'incomplete-chain'));
    }
    return { ...(version !== undefined ? { version } : {}), deploy, reports, still };
  } finally {
    await lease?.release();
  }
}

/** The repaired chain as a new archive version of the leaf `current` points at, recorded as issued. */
async function writeManagedVersion(config: Config, store: AsyncStore, plan: RepairPlan, deps: RepairDeps, withNginx: boolean): Promise<number> {
  const { domain, repaired } = plan;
  // The leaf we repaired is the one `current` points at: its own version's record and key,
  // never the newest version's (current is behind it after a deploy nginx refused).
  const at = currentVersion(config.dataDir, domain.name);
  const source = at === null ? null : await store.issued.byVersion(domain.name, at);
  if (at === null || !source) throw new UsageError(`domain "${domain.name}": current/ points at no recorded version; run certs renew ${domain.name} first`);
  const from = versionPaths(config.dataDir, domain.name, at);
  const certPem = readFileSync(from.cert, 'utf8');
  if (new X509Certificate(certPem).fingerprint256 !== repaired.chain[0]!.fingerprint256) {
    throw new UsageError(`domain "${domain.name}": current/ changed while the chain was being repaired; run certs repair ${domain.name} again`);
  }
  const chainPem = repaired.chain.slice(1).map((c) => c.toString()).join('');
  const pems = { cert: certPem, chain: chainPem, fullchain: repaired.fullchainPem, privkey: readFileSync(from.privkey, 'utf8') };
  assertCertificateSet(pems, `domain "${domain.name}": the repaired chain`);
  const { version, paths } = writeArchiveVersion(config.dataDir, domain.name, pems, { minVersion: (await store.issued.maxVersion(domain.name)) + 1 });
  const { id: _id, ...rest } = source;
  await store.issued.putPems(domain.name, version, pems);
  await store.issued.record({ ...rest, version, dir: paths.dir, issuedAt: deps.now().toISOString(), reason: `repair of version ${at}: added ${plan.fetched}` });
  // With nginx, the deploy moves current (and puts it back if nginx refuses).
  if (!withNginx) switchCurrent(config.dataDir, domain.name, version);
  deps.log(domain.name, `wrote version ${version} (version ${at} with the completed chain)`);
  return version;
}
