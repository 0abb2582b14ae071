/**
 * `certs nginx write` and the deploy step of `certs renew` / `certs run`: render the snippets, run
 * the transaction (src/deploy/transaction.ts), then rescan each changed domain's endpoints until
 * the new certificate is served (bounded). A certificate never seen is recorded as a stale
 * deployment.
 *
 * For a managed lineage `current` is part of the transaction: it moves to the newest issued
 * version only after that version passed the chain and key check, under the certificate's lock,
 * and when nginx refuses (test or reload) it goes back to the version nginx last accepted
 * (`deployments.version`). The new version stays in the archive, recorded as issued; the failure
 * is recorded (`deploy-failed` in status) and the next run deploys it again.
 */
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { notServedDetail } from '../core/addresses.js';
import { BusyError, CertsError, ConfigError, DeployError, errorMessage } from '../core/errors.js';
import type { EndpointReport } from '../core/model.js';
import type { Config, DomainConfig, NginxConfig } from '../config/types.js';
import { loadNginxTemplates } from '../deploy/templates.js';
import { renderAcmeChallenge, renderSnippet, snippetPath } from '../deploy/snippet.js';
import { applySnippets, assertDistinctPaths, planSnippets, type PlannedSnippet } from '../deploy/transaction.js';
import { currentVersion, switchCurrent, versionPaths } from '../store/archive.js';
import { assertVersionUsable } from '../store/cert-check.js';
import type { AsyncStore, StoreReader } from '../store/contract.js';
import { materialiseVersion } from '../store/materialise.js';
import { localCertLock, newOwnerId, tryLease, type Lease } from './lease.js';
import { leaseMsOf } from '../config/node.js';

/** File name (without .conf) of the http-01 location snippet. */
export const ACME_CHALLENGE_SNIPPET = '_acme-challenge';

export type DeployAction = 'unchanged' | 'deployed' | 'stale' | 'failed' | 'dry-run' | 'skipped' | 'not-included';

export interface DeployOutcome {
  domain: string;
  action: DeployAction;
  detail: string;
  snippet?: string;
  /** The certificate the snippet's files hold. */
  fingerprint256?: string | null;
  /** dry run: what would change, as a unified-style diff. */
  diff?: string;
  error?: CertsError;
}

export interface DeployOptions {
  dryRun?: boolean;
  now: () => Date;
  log?: (domain: string, event: string) => void;
  /** Rescans endpoints (stores and returns reports); injected so the CLI wires the scanner once. */
  rescan?: (domains: DomainConfig[]) => Promise<EndpointReport[]>;
  /** Deploy even when nothing changed (reload anyway). */
  force?: boolean;
  /** Lock owner for the certificates' `cert:<name>` locks (default: a new one). */
  owner?: string;
  /** The caller already holds `cert:<name>` for every managed domain passed (repair). */
  locksHeld?: boolean;
}

export function nginxOf(config: Config): NginxConfig & { snippetDir: string } {
  if (!config.nginx?.snippetDir) throw new ConfigError('no nginx.snippetDir: add nginx: {snippetDir: /etc/nginx/snippets/certs} to write snippets', { file: config.file, keyPath: 'nginx.snippetDir' });
  return config.nginx as NginxConfig & { snippetDir: string };
}

/** The program of an argv must exist before anything is written (a missing nginx is a precheck failure). */
export function assertProgram(argv: readonly string[], key: string): void {
  const program = argv[0] ?? '';
  const candidates = program.includes('/') ? [program] : (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return;
    } catch {
      // next candidate
    }
  }
  throw new DeployError('deploy-precheck', `${key}: ${program} not found${program.includes('/') || isAbsolute(program) ? '' : ' in PATH'} (is nginx installed?); nothing was written`);
}

/** The certificate a domain's snippet serves: the newest issued version, or the monitored cert file. */
export async function expectedFingerprint(_config: Config, store: StoreReader, d: DomainConfig): Promise<string | null> {
  if (d.managed) return (await store.issued.latest(d.name))?.fingerprint256 ?? null;
  if (!d.files) return null;
  try {
    return new X509Certificate(readFileSync(d.files.cert)).fingerprint256;
  } catch {
    return null;
  }
}

/** Domains that get a snippet and have something to point it at. */
export async function deployable(config: Config, store: StoreReader, domains: readonly DomainConfig[]): Promise<{ ready: DomainConfig[]; skipped: DeployOutcome[] }> {
  const ready: DomainConfig[] = [];
  const skipped: DeployOutcome[] = [];
  for (const d of domains) {
    if (!d.nginx) continue;
    if (d.managed && currentVersion(config.dataDir, d.name) === null && !(await store.issued.latest(d.name))) {
      skipped.push({ domain: d.name, action: 'skipped', detail: 'no certificate yet: run certs renew first' });
      continue;
    }
    if (!d.managed && d.files && !existsSync(d.files.cert)) {
      skipped.push({ domain: d.name, action: 'skipped', detail: `certificate file ${d.files.cert} does not exist` });
      continue;
    }
    ready.push(d);
  }
  return { ready, skipped };
}

/** The archive version nginx last accepted for a managed lineage, or null when none was. */
export async function acceptedVersion(store: StoreReader, lineage: string): Promise<number | null> {
  const dep = await store.deployments.get(lineage);
  if (!dep) return null;
  if (dep.version !== null && dep.version !== undefined) return dep.version;
  // A row written before versions were recorded: the newest version holding that certificate.
  if (!dep.fingerprint256) return null;
  return (await store.issued.list(lineage)).find((c) => c.fingerprint256 === dep.fingerprint256)?.version ?? null;
}

/**
 * Whether a domain has something to deploy that no run finished: a managed certificate issued
 * but not accepted by nginx (a crash between issue and deploy, or a deploy nginx refused), or a
 * deploy that failed (retried until it succeeds).
 */
export async function needsDeploy(store: StoreReader, d: DomainConfig): Promise<boolean> {
  if (!d.nginx) return false;
  if (await store.deployments.failure(d.name)) return true;
  if (!d.managed) return false;
  const latest = await store.issued.latest(d.name);
  if (!latest) return false;
  const dep = await store.deployments.get(d.name);
  if (dep?.version !== null && dep?.version !== undefined) return dep.version !== latest.version;
  return dep?.fingerprint256 !== latest.fingerprint256;
}

interface ManagedVersion {
  /** The version to deploy: the newest issued one. */
  target: number;
  /** The version nginx last accepted (null: none yet). */
  accepted: number | null;
}

/**
 * Puts `current` back on the version nginx accepted, for each managed domain whose `current`
 * moved past it. Returns, per domain, the sentence that says where `current` is now.
 */
function rollBackCurrent(config: Config, domains: readonly DomainConfig[], versions: ReadonlyMap<string, ManagedVersion>, log: DeployOptions['log']): Map<string, string> {
  const notes = new Map<string, string>();
  for (const d of domains) {
    const v = versions.get(d.name);
    if (!v) continue;
    const cur = currentVersion(config.dataDir, d.name);
    if (v.accepted === null) {
      if (cur !== null) notes.set(d.name, `no version was accepted by nginx before, so current/ stays on version ${cur}; the next run retries it`);
      continue;
    }
    if (cur === v.accepted) {
      if (v.target !== v.accepted) notes.set(d.name, `current/ stays on version ${v.accepted}; version ${v.target} stays in the archive, not deployed; the next run retries it`);
      continue;
    }
    if (!existsSync(versionPaths(config.dataDir, d.name, v.accepted).fullchain)) {
      notes.set(d.name, `version ${v.accepted} (the last one nginx accepted) is gone from the archive, so current/ stays on version ${cur}`);
      continue;
    }
    try {
      switchCurrent(config.dataDir, d.name, v.accepted);
      log?.(d.name, `current/ is back on version ${v.accepted}`);
      notes.set(d.name, `current/ is back on version ${v.accepted}, the one nginx accepted; version ${v.target} stays in the archive, not deployed; the next run retries it`);
    } catch (err) {
      notes.set(d.name, `current/ could not be put back on version ${v.accepted}: ${errorMessage(err)}`);
    }
  }
  return notes;
}

function lineDiff(path: string, before: string | null, after: string): string {
  const a = before === null ? [] : before.split('\n');
  const b = after.split('\n');
  const out = [`--- ${before === null ? '/dev/null' : path}`, `+++ ${path}`];
  // Snippets are a few dozen lines: a plain LCS table is plenty.
  const m = a.length;
  const n = b.length;
  const lcs = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  let i = 0;
  let j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) { out.push(` ${a[i]}`); i++; j++; }
    else if (j < n && (i >= m || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`+${b[j++]}`);
    else out.push(`-${a[i++]}`);
  }
  return out.join('\n');
}

/**
 * Per domain, whether any server block includes its snippet (per `nginx -T`); null when the
 * dump could not be had (the transaction's own nginx -t then speaks).
 */
async function includedAnywhere(nginx: NginxConfig, ready: DomainConfig[], targets: Array<{ domain: string; path: string }>, opts: DeployOptions): Promise<Map<string, boolean> | null> {
  const { checkSnippetIncludes, runNginxDump } = await import('../deploy/nginx-check.js');
  let dump: string;
  try {
    dump = await runNginxDump(nginx.dumpCommand, { timeoutMs: 60_000 });
  } catch (err) {
    opts.log?.('nginx', `cannot read the configuration (${nginx.dumpCommand.join(' ')}): ${errorMessage(err)}; not checking that the snippets are included`);
    return null;
  }
  try {
    const report = checkSnippetIncludes({ dump, domains: ready.map((d) => ({ name: d.name, names: [d.name, ...d.altNames], snippet: targets.find((t) => t.domain === d.name)!.path })) });
    return new Map(report.domains.map((c) => [c.domain, c.servers.some((x) => x.includes > 0) || c.problems.some((p) => p.code === 'included-outside-server')]));
  } catch (err) {
    opts.log?.('nginx', `cannot parse the configuration: ${errorMessage(err)}; not checking that the snippets are included`);
    return null;
  }
}

/** Renders, writes, tests, reloads and verifies snippets for `domains`. Throws on a config or precheck error. */
export async function deployDomains(config: Config, store: AsyncStore, domains: readonly DomainConfig[], opts: DeployOptions): Promise<DeployOutcome[]> {
  const nginx = nginxOf(config);
  const found = await deployable(config, store, domains);
  if (found.ready.length === 0) return found.skipped;
  // The certificate's lock, as renew takes it: no renew, repair or other deploy may move
  // `current` of these lineages while this transaction decides where it goes.
  const leases: Lease[] = [];
  const owner = opts.owner ?? newOwnerId();
  const ready: DomainConfig[] = [];
  const skipped = found.skipped;
  for (const d of found.ready) {
    if (!d.managed || opts.locksHeld || opts.dryRun) {
      ready.push(d);
      continue;
    }
    const lock = localCertLock(store, d.name);
    const lease = await tryLease(store.locks, lock, owner, leaseMsOf(config));
    if (lease) {
      leases.push(lease);
      ready.push(d);
      continue;
    }
    const h = await store.locks.holder(lock);
    const e = new BusyError(`domain "${d.name}": another certs process is renewing or deploying it${h ? ` (${h.owner})` : ''}; nothing was written for it, try again when it has finished`);
    skipped.push({ domain: d.name, action: 'failed', detail: e.message, error: e });
  }
  try {
    return await deployLocked(config, store, nginx, ready, skipped, opts);
  } finally {
    for (const l of leases) await l.release();
  }
}

async function deployLocked(config: Config, store: AsyncStore, nginx: NginxConfig & { snippetDir: string }, readyIn: DomainConfig[], skipped: DeployOutcome[], opts: DeployOptions): Promise<DeployOutcome[]> {
  let ready = readyIn;
  if (ready.length === 0) return skipped;
  const templates = loadNginxTemplates(nginx.templateDir);
  let targets = ready.map((d) => ({ domain: d.name, path: snippetPath(nginx, d), content: renderSnippet(config, d, templates) }));
  assertDistinctPaths(targets);
  // A domain not deployed in this run (renew deploys only what it issued; one may lack its
  // certificate yet) can still own the same file (2001:db8::1 and 2001-db8--1): refuse, never overwrite.
  const readyNames = new Set(ready.map((d) => d.name));
  for (const other of config.domains) {
    if (!other.nginx || readyNames.has(other.name)) continue;
    let otherPath: string;
    try {
      otherPath = snippetPath(nginx, other);
    } catch {
      continue; // its own deploy reports what is wrong with its name
    }
    const clash = targets.find((t) => t.path === otherPath);
    if (clash) throw new DeployError('deploy-precheck', `domains "${other.name}" and "${clash.domain}" would both write ${otherPath}; nothing was written`);
  }
  // The http-01 location for port-80 server blocks, when a webroot is configured. "_" cannot
  // start a domain's file name, so it never collides with one.
  const acmeTarget = config.acme?.challenge?.webroot || config.acme?.challenge?.shared
    ? [{ domain: ACME_CHALLENGE_SNIPPET, path: join(nginx.snippetDir, `${ACME_CHALLENGE_SNIPPET}.conf`), content: renderAcmeChallenge(config, templates) }]
    : [];
  assertProgram(nginx.testCommand, 'nginx.testCommand');
  assertProgram(nginx.reloadCommand, 'nginx.reloadCommand');
  const at = (): string => opts.now().toISOString();
  // Managed lineages: the version to deploy, the one to return to, and the chain/key check of
  // the new one before `current` may point at it.
  const versions = new Map<string, ManagedVersion>();
  for (const d of ready) {
    if (!d.managed) continue;
    const latest = await store.issued.latest(d.name);
    const cur = currentVersion(config.dataDir, d.name);
    const target = latest?.version ?? cur;
    if (target === null) continue;
    const v: ManagedVersion = { target, accepted: await acceptedVersion(store, d.name) };
    versions.set(d.name, v);
    if (v.accepted === target && cur === target) continue;
    try {
      // A shared store (postgres) holds versions another node issued: write this node's copy
      // of the archive version first (atomically; nothing when it is already here).
      if (!opts.dryRun) await materialiseVersion(config.dataDir, store.issued, d.name, target);
      assertVersionUsable(config.dataDir, d.name, target);
    } catch (err) {
      const e = err instanceof CertsError ? err : new DeployError('chain-invalid', errorMessage(err), { cause: err });
      let detail = e.message;
      if (!opts.dryRun) {
        const note = rollBackCurrent(config, [d], versions, opts.log).get(d.name);
        if (note) detail += `; ${note}`;
        await store.deployments.recordFailure({ lineage: d.name, version: target, fingerprint256: latest?.fingerprint256 ?? null, code: e.code, detail: e.message, at: at() });
      }
      skipped.push({ domain: d.name, action: 'failed', detail, snippet: targets.find((t) => t.domain === d.name)?.path, error: e });
    }
  }
  // A snippet no server block includes is never served, whatever we reload. An existing one is
  // refused (writing it would change nothing clients see); a new one is written so that the
  // include line can be added, and reported instead of verified.
  const checked = ready.filter((d) => !skipped.some((o) => o.domain === d.name));
  const inclusion = checked.length > 0 ? await includedAnywhere(nginx, checked, targets, opts) : null;
  const unincluded = new Set<string>();
  for (const d of checked) {
    const t = targets.find((x) => x.domain === d.name)!;
    if (inclusion?.get(d.name) !== false) continue;
    if (!existsSync(t.path)) {
      unincluded.add(d.name);
      continue;
    }
    const e = new DeployError('not-included', `domain "${d.name}": ${t.path} is not included by any nginx server block, so a reload would not serve it; add "include ${t.path};" to the server block for ${[d.name, ...d.altNames].join(' ')} (see certs nginx check); nothing was written for it`);
    skipped.push({ domain: d.name, action: 'failed', detail: e.message, snippet: t.path, error: e });
  }
  const refused = new Set(skipped.filter((o) => o.action === 'failed').map((o) => o.domain));
  ready = ready.filter((d) => !refused.has(d.name));
  targets = targets.filter((t) => !refused.has(t.domain));
  if (ready.length === 0 && acmeTarget.length === 0) return skipped;
  const fullPlan = planSnippets([...targets, ...acmeTarget]);
  const plan = fullPlan.slice(0, targets.length);
  const extraChanged = fullPlan.slice(targets.length).some((p) => p.changed);
  const expected = new Map<string, string | null>();
  for (const d of ready) expected.set(d.name, await expectedFingerprint(config, store, d));
  const deployments = await store.deployments.all();
  const deployFailures = await store.deployments.failures();
  const certChanged = (d: DomainConfig): boolean => {
    const v = versions.get(d.name);
    const dep = deployments.get(d.name);
    if (v && dep?.version !== null && dep?.version !== undefined) return dep.version !== v.target;
    return dep?.fingerprint256 !== expected.get(d.name);
  };
  // A domain whose last deploy failed is tried again even when nothing else changed; so is one
  // whose last reload was never seen served (stale): a run that said "unchanged" would leave it
  // recorded stale, unverified, and exit 0 while an address may still serve the old certificate.
  const failedBefore = (d: DomainConfig): boolean => deployFailures.has(d.name) || !!deployments.get(d.name)?.staleSince;
  const moves = (d: DomainConfig): boolean => {
    const v = versions.get(d.name);
    return v !== undefined && currentVersion(config.dataDir, d.name) !== v.target;
  };
  const touched = ready.filter((d, i) => opts.force || plan[i]!.changed || certChanged(d) || failedBefore(d) || moves(d));
  const byDomain = new Map<string, PlannedSnippet>(plan.map((p) => [p.domain, p]));

  if (opts.dryRun) {
    return [...skipped, ...ready.map((d): DeployOutcome => {
      const p = byDomain.get(d.name)!;
      if (p.changed) return { domain: d.name, action: 'dry-run', detail: `would write ${p.path}`, snippet: p.path, diff: lineDiff(p.path, p.previous, p.content) };
      return { domain: d.name, action: 'dry-run', detail: touched.includes(d) ? `snippet unchanged; would reload nginx for the new certificate` : 'unchanged: nothing to do', snippet: p.path };
    })];
  }
  if (touched.length === 0 && !extraChanged) {
    return [...skipped, ...ready.map((d): DeployOutcome => ({ domain: d.name, action: 'unchanged', detail: 'snippet and certificate unchanged: nothing written, no reload', snippet: byDomain.get(d.name)!.path, fingerprint256: expected.get(d.name) ?? null }))];
  }

  try {
    // `current` moves inside the transaction: a failure below puts it back.
    for (const d of touched) {
      const v = versions.get(d.name);
      if (v && currentVersion(config.dataDir, d.name) !== v.target) {
        switchCurrent(config.dataDir, d.name, v.target);
        opts.log?.(d.name, `current/ switched to version ${v.target}`);
      }
    }
    await applySnippets(fullPlan, { testCommand: nginx.testCommand, reloadCommand: nginx.reloadCommand, reload: touched.length > 0 });
  } catch (err) {
    const e = err instanceof CertsError ? err : new DeployError('deploy', errorMessage(err), { cause: err });
    const when = at();
    // nginx is not running: the files nginx -t accepted stay, `current` included, for its start.
    const notes = e.code === 'nginx-not-running' ? new Map<string, string>() : rollBackCurrent(config, ready, versions, opts.log);
    for (const d of touched) {
      await store.deployments.recordFailure({ lineage: d.name, version: versions.get(d.name)?.target ?? null, fingerprint256: expected.get(d.name) ?? null, code: e.code, detail: e.message, at: when });
    }
    return [...skipped, ...ready.map((d): DeployOutcome => {
      const note = notes.get(d.name);
      return { domain: d.name, action: 'failed', detail: note ? `${e.message}; ${note}` : e.message, snippet: byDomain.get(d.name)!.path, error: e };
    })];
  }
  const when = at();
  for (const d of ready) {
    const p = byDomain.get(d.name)!;
    // nginx now runs what is on disk for every domain of the transaction.
    await store.deployments.clearFailure(d.name);
    if (!touched.includes(d)) continue;
    await store.deployments.save({ lineage: d.name, snippetPath: p.path, snippetSha256: p.sha256, fingerprint256: expected.get(d.name) ?? null, version: versions.get(d.name)?.target ?? null, deployedAt: when, verifiedAt: null, staleSince: null, staleDetail: null });
    opts.log?.(d.name, p.changed ? `wrote ${p.path}` : 'snippet unchanged');
  }
  opts.log?.('nginx', 'configuration tested and reloaded');

  const verified = await verifyServed(config, store, touched.filter((d) => !unincluded.has(d.name)), expected, opts);
  return [...skipped, ...ready.map((d): DeployOutcome => {
    const p = byDomain.get(d.name)!;
    if (unincluded.has(d.name)) {
      return { domain: d.name, action: 'not-included', detail: `wrote ${p.path}, but no nginx server block includes it yet: add "include ${p.path};" to the server block for ${[d.name, ...d.altNames].join(' ')}, then run certs nginx write`, snippet: p.path, fingerprint256: expected.get(d.name) ?? null };
    }
    if (!touched.includes(d)) return { domain: d.name, action: 'unchanged', detail: 'snippet and certificate unchanged', snippet: p.path, fingerprint256: expected.get(d.name) ?? null };
    const v = verified.get(d.name);
    if (v && !v.ok) return { domain: d.name, action: 'stale', detail: v.detail, snippet: p.path, fingerprint256: expected.get(d.name) ?? null };
    return { domain: d.name, action: 'deployed', detail: `${p.changed ? `wrote ${p.path}; ` : ''}nginx reloaded${v ? `; ${v.detail}` : ''}`, snippet: p.path, fingerprint256: expected.get(d.name) ?? null };
  })];
}

/** Time for the proof loop; tests inject one that moves on when asked to sleep. */
export interface ProofClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: ProofClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface ServedProof {
  /** Domains proven to serve what was asked. */
  proven: Set<string>;
  /** The last scan's reports of the domains not proven. */
  last: Map<string, EndpointReport[]>;
}

/**
 * Rescans until each domain is proven to serve what `served` accepts, or the budget runs out;
 * the one proof rule for deploy verification and `certs repair`.
 *
 * After a reload, nginx's old workers keep accepting connections beside the new ones: the
 * master starts the new workers and signals the old ones only 100 ms later (ngx_msleep(100) in
 * ngx_master_process_cycle). One scan seeing the new certificate is not proof, nor are two
 * scans inside that overlap: proof is two in a row, the confirming one started OVERLAP_MS after
 * the first one ended.
 */
export async function proveServed(
  domains: readonly DomainConfig[],
  rescan: (domains: DomainConfig[]) => Promise<EndpointReport[]>,
  served: (d: DomainConfig, reports: readonly EndpointReport[]) => boolean,
  budget: { timeoutMs: number; intervalMs: number },
  clock: ProofClock = REAL_CLOCK,
): Promise<ServedProof> {
  const { timeoutMs, intervalMs } = budget;
  const deadline = clock.now() + timeoutMs;
  const proven = new Set<string>();
  let left = [...domains];
  let last = new Map<string, EndpointReport[]>();
  const NEEDED = 2;
  const OVERLAP_MS = 300;
  const seen = new Map<string, number>();
  const firstSeenAt = new Map<string, number>();
  const isProven = (d: DomainConfig, scanStart: number): boolean => (seen.get(d.name) ?? 0) >= NEEDED && scanStart - (firstSeenAt.get(d.name) ?? Infinity) >= OVERLAP_MS;
  while (left.length > 0) {
    const scanStart = clock.now();
    const reports = await rescan(left);
    const scanEnd = clock.now();
    last = new Map<string, EndpointReport[]>();
    for (const r of reports) last.set(r.domain, [...(last.get(r.domain) ?? []), r]);
    for (const d of left) {
      const n = served(d, last.get(d.name) ?? []) ? (seen.get(d.name) ?? 0) + 1 : 0;
      seen.set(d.name, n);
      if (n === 1) firstSeenAt.set(d.name, scanEnd);
    }
    for (const d of left) if (isProven(d, scanStart)) proven.add(d.name);
    left = left.filter((d) => !proven.has(d.name));
    if (left.length === 0) break;
    // The budget ends the wait, unless the last scan already saw the new certificate: then the
    // confirming scans still run.
    if (clock.now() + intervalMs > deadline && !left.some((d) => (seen.get(d.name) ?? 0) > 0)) break;
    if (clock.now() > deadline + Math.max(intervalMs * 2, OVERLAP_MS + intervalMs)) break;
    await clock.sleep(intervalMs);
  }
  return { proven, last };
}

/** Whether an address is this node's (node.addresses); every address when none are configured. */
export function ownEndpointFilter(config: Pick<Config, 'node'>): (address: string) => boolean {
  const mine = config.node?.addresses;
  if (!mine || mine.length === 0) return () => true;
  const set = new Set(mine.map((a) => a.toLowerCase()));
  return (address) => set.has(address.toLowerCase());
}

/**
 * Rescans until every TLS endpoint of each domain serves the expected certificate, or the
 * verify budget runs out. Domains without endpoints are not judged.
 */
async function verifyServed(config: Config, store: AsyncStore, domains: DomainConfig[], expected: Map<string, string | null>, opts: DeployOptions): Promise<Map<string, { ok: boolean; detail: string }>> {
  const result = new Map<string, { ok: boolean; detail: string }>();
  const rescan = opts.rescan;
  const own = ownEndpointFilter(config);
  // A node of a cluster proves its own nginx (node.addresses): the others deploy and prove theirs.
  const pending = domains.map((d) => ({ ...d, endpoints: d.endpoints.filter((e) => e.address === undefined || own(e.address)) })).filter((d) => d.endpoints.length > 0 && expected.get(d.name));
  if (!rescan || pending.length === 0) return result;
  const { timeoutMs } = config.nginx!.verify;
  const ownRescan = async (ds: DomainConfig[]): Promise<EndpointReport[]> => (await rescan(ds)).filter((r) => r.address === undefined || own(r.address));
  const { proven, last } = await proveServed(pending, ownRescan, (d, reports) => reports.filter((r) => r.source === 'tls').every((r) => r.fingerprint256 === expected.get(d.name)), config.nginx!.verify);
  for (const d of pending) if (proven.has(d.name)) {
    // Every address of every endpoint (scan.addresses all) was checked: count what was scanned.
    const n = (last.get(d.name) ?? []).filter((r) => r.source === 'tls').length || d.endpoints.length;
    result.set(d.name, { ok: true, detail: `clients now get the new certificate (${n} endpoint${n === 1 ? '' : 's'} checked)` });
  }
  const left = pending.filter((d) => !proven.has(d.name));
  const at = opts.now().toISOString();
  for (const d of left) {
    // Every address of every endpoint is judged; each one still serving something else is named.
    const detail = `after the reload ${notServedDetail(last.get(d.name) ?? [], expected.get(d.name)!).join('; ')} instead of ${expected.get(d.name)!.slice(0, 17)}… within ${timeoutMs} ms`;
    await store.deployments.markStale(d.name, at, detail);
    result.set(d.name, { ok: false, detail: `stale deployment: ${detail}` });
  }
  for (const [name, v] of result) if (v.ok) await store.deployments.markVerified(name, at);
  return result;
}

