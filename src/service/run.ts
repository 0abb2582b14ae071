/**
 * One full cycle (ARCHITECTURE §1): scan → renew what is due → deploy → rescan → notify. Every
 * step records what it did, so a crash anywhere is finished by the next cycle: renew reconciles
 * `current`, deploy sees the certificate it has not deployed, notify queues what it has not sent.
 */
import { CertsError, errorMessage } from '../core/errors.js';
import type { EndpointReport } from '../core/model.js';
import { nagiosExitCode, worstStatus, type Status } from '../core/problems.js';
import { overallStatus } from '../core/report.js';
import type { LastRun } from '../core/metrics.js';
import type { Config, DomainConfig } from '../config/types.js';
import type { RunSummary } from '../store/index.js';
import type { AsyncStore, StoreReader } from '../store/contract.js';
import { renewDomains, type RenewOutcome } from './renew.js';
import { deployDomains, needsDeploy, type DeployOutcome } from './deploy.js';
import { hasDelivery, notifyAfterRun, type ChannelFactory, type ChannelSet, type NotifyRunResult } from './notify.js';
import { pruneStore, type PruneReport } from './prune.js';
import { newOwnerId, waitLease } from './lease.js';
import { clusterOf, leaseMsOf, nodeNameOf } from '../config/node.js';
import { scanCycle } from './scan-cycle.js';
import { statusReports } from './status.js';
import type { RecordItem } from '../store/index.js';

export interface RunDeps {
  /** Scans and stores (the CLI wires the scanner once). */
  scan: (domains: DomainConfig[]) => Promise<EndpointReport[]>;
  /** Lays renewal-failing and stale-deployment over reports. */
  overlay: (reports: EndpointReport[]) => Promise<EndpointReport[]>;
  now: () => Date;
  random: () => number;
  owner: string;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** The notification channels (built by the CLI's composition root). */
  channels: ChannelSet | ChannelFactory;
  /** The HTML report the run writes (`certs run --report FILE`): a digest too long to show whole points to it. */
  report?: string;
  /** The cycle's steps; the real ones unless a test passes fakes. */
  steps?: Partial<RunSteps>;
  /** Who runs the cycle (issue 16): recorded in `runs.node` and as the node's heartbeat. */
  node?: NodeIdentity;
  /**
   * A scanner that records nothing (issue 16). With it, a cycle with a key on PostgreSQL scans
   * in batches shared with the other nodes (service/scan-cycle.ts) and judges every endpoint from
   * the store afterwards.
   */
  collect?: (domains: DomainConfig[]) => Promise<RecordItem[]>;
  /** Injected for tests of the sharded scan's waiting. */
  sleep?: (ms: number) => Promise<void>;
}

export interface NodeIdentity {
  name: string;
  version: string;
  /** When this process started (ISO). */
  startedAt: string;
  /** The node's cycle interval (its schedule), for node-silent; null when it has none (cron's certs run). */
  cycleMs: number | null;
}

/** Records `node`'s heartbeat (with the run when given); a failure is logged, never thrown. */
export async function beat(store: Pick<AsyncStore, 'nodes'>, node: NodeIdentity | undefined, now: Date, log: RunDeps['log'], lastRun?: { startedAt: string; finishedAt: string | null; outcome: string | null }): Promise<void> {
  if (!node) return;
  try {
    await store.nodes.heartbeat({ name: node.name, version: node.version, startedAt: node.startedAt, lastSeenAt: now.toISOString(), cycleMs: node.cycleMs, lastRun: lastRun ?? null });
  } catch (err) {
    log('node.heartbeat-error', { error: errorMessage(err) });
  }
}

export interface RunSteps {
  renew: typeof renewDomains;
  deploy: typeof deployDomains;
  notify: typeof notifyAfterRun;
  prune: typeof pruneStore;
}

const REAL_STEPS: RunSteps = { renew: renewDomains, deploy: deployDomains, notify: notifyAfterRun, prune: pruneStore };

/**
 * One failure of a cycle, kept structured (as lego's obtainError keeps one error per domain):
 * the step, the domain when it is one domain's, and the error's kind, code and hint.
 */
export interface RunFailure {
  step: 'renew' | 'deploy' | 'notify' | 'prune';
  domain?: string;
  kind: string;
  code: string;
  message: string;
  hint?: string;
}

/** A thrown error as a RunFailure; an error that is not ours is internal. */
export function runFailureOf(step: RunFailure['step'], err: unknown, domain?: string): RunFailure {
  const e = err instanceof CertsError ? err : null;
  // AcmeError has always named its domain; other kinds may (CertsErrorOptions.domain).
  const named = (e as { domain?: unknown } | null)?.domain;
  const d = domain ?? (typeof named === 'string' ? named : undefined);
  return {
    step,
    ...(d ? { domain: d } : {}),
    kind: e?.kind ?? 'internal',
    code: e?.code ?? 'internal',
    message: errorMessage(err),
    ...(e?.hint ? { hint: e.hint } : {}),
  };
}

export interface RunOptions {
  /** false: a scan-only cycle (the daemon's scan schedule). */
  renew: boolean;
  notify: boolean;
  /** The cycle's key, the same on every node for one scheduled fire (service/scan-cycle.ts cycleKeyOf). */
  cycle?: string;
}

export interface RunResult {
  run: LastRun;
  status: Status;
  reports: EndpointReport[];
  renew: RenewOutcome[];
  deploy: DeployOutcome[];
  notify: NotifyRunResult | null;
  /** Retention (store.retention) applied at the end of the cycle; null if it could not run at all. */
  pruned: PruneReport | null;
  /** Failures of whole steps (a step that threw), as one line each: `<step>: <message>`. */
  errors: string[];
  /** Every failure of the cycle, structured: whole steps and each domain's renewal, deploy or delivery. */
  failures: RunFailure[];
}

/**
 * The exit code of a run: the Nagios code of what clients see after the run (renewal-failing and
 * stale-deployment included), and at least 1 when a renewal, deploy or delivery failed.
 */
export function runExitCode(status: Status, failedSteps: number): number {
  const code = nagiosExitCode(status);
  return failedSteps > 0 && code === 0 ? 1 : code;
}

/**
 * One cycle under the run lock, for cron's `certs run` and the daemon alike. Another holder (a
 * second daemon, cron's certs run) is waited for up to `waitMs`; it will usually have left
 * nothing to do, and this cycle decides again from what it recorded.
 */
export async function runLocked(config: Config, store: AsyncStore, deps: Omit<RunDeps, 'owner'>, opts: RunOptions & { waitMs: number }): Promise<RunResult> {
  const owner = newOwnerId();
  const lease = await waitLease(store.locks, runLockName(config, store), owner, opts.waitMs, { leaseMs: leaseMsOf(config) });
  try {
    return await runCycle(config, store, { ...deps, owner }, { renew: opts.renew, notify: opts.notify, ...(opts.cycle !== undefined ? { cycle: opts.cycle } : {}) });
  } finally {
    await lease.release();
  }
}

/**
 * The run lock's name. On SQLite (one machine) `run`: one cycle at a time. On PostgreSQL, per
 * node (`run:<node>`): the nodes of a cluster run their cycles at the same time, each certificate
 * guarded by its own `cert:` lock, and one node never overlaps itself (daemon and cron).
 */
export function runLockName(config: Pick<Config, 'node'>, store: Pick<AsyncStore, 'engine'>): string {
  return store.engine === 'postgres' ? `run:${nodeNameOf(config)}` : 'run';
}

/**
 * Runs one cycle with the run lock already held by the caller. The run is recorded in the `runs`
 * table (the dashboard's "last run") when it starts and when it ends; a cycle that throws is
 * finished there as outcome `error` before the error goes on. Recording never fails the cycle.
 */
export async function runCycle(config: Config, store: AsyncStore, deps: RunDeps, opts: RunOptions): Promise<RunResult> {
  const startedAt = deps.now().toISOString();
  const runId = await recordRun(deps, () => store.runs.start(startedAt, deps.node?.name ?? null));
  await beat(store, deps.node, deps.now(), deps.log, { startedAt, finishedAt: null, outcome: null });
  let result: RunResult;
  try {
    result = await cycleSteps(config, store, deps, opts, startedAt);
  } catch (err) {
    if (runId !== null) {
      await recordRun(deps, () => store.runs.finish(runId, { finishedAt: deps.now().toISOString(), outcome: 'error', exitCode: null, summary: { renewed: [], deployed: [], failed: [], notified: 0 } }));
    }
    await beat(store, deps.node, deps.now(), deps.log, { startedAt, finishedAt: deps.now().toISOString(), outcome: 'error' });
    throw err;
  }
  if (runId !== null) {
    const { run } = result;
    await recordRun(deps, () => store.runs.finish(runId, { finishedAt: run.finishedAt ?? deps.now().toISOString(), outcome: run.outcome, exitCode: run.exitCode, summary: runSummary(result) }));
  }
  await beat(store, deps.node, deps.now(), deps.log, { startedAt, finishedAt: result.run.finishedAt ?? deps.now().toISOString(), outcome: result.run.outcome });
  return result;
}

/** What a finished cycle did, as the `runs` table keeps it: domains and a count, no messages. */
export function runSummary(result: Pick<RunResult, 'renew' | 'deploy' | 'notify' | 'failures'>): RunSummary {
  const unique = (xs: string[]): string[] => [...new Set(xs)];
  return {
    renewed: unique(result.renew.filter((o) => o.action === 'issued').map((o) => o.domain)),
    deployed: unique(result.deploy.filter((o) => o.action === 'deployed').map((o) => o.domain)),
    failed: unique(result.failures.flatMap((f) => (f.domain ? [f.domain] : []))),
    notified: result.notify?.queued ?? 0,
  };
}

/** A write to the `runs` table; a failure (a locked or read-only store) is logged, not thrown. */
async function recordRun<T>(deps: Pick<RunDeps, 'log'>, write: () => Promise<T>): Promise<T | null> {
  try {
    return await write();
  } catch (err) {
    deps.log('run.record-error', { error: errorMessage(err) });
    return null;
  }
}

async function cycleSteps(config: Config, store: AsyncStore, deps: RunDeps, opts: RunOptions, startedAt: string): Promise<RunResult> {
  const errors: string[] = [];
  const failures: RunFailure[] = [];
  const steps: RunSteps = { ...REAL_STEPS, ...deps.steps };
  /** A step that threw: the cycle goes on with the next one, and reports it. */
  const stepFailed = (step: RunFailure['step'], err: unknown): void => {
    errors.push(`${step}: ${errorMessage(err)}`);
    failures.push(runFailureOf(step, err));
  };
  const domains = config.domains as DomainConfig[];
  deps.log('run.start', { domains: domains.length, renew: opts.renew });

  let reports: EndpointReport[];
  if (deps.collect && opts.cycle && store.engine === 'postgres') {
    const shard = await scanCycle(domains, store, {
      cycle: opts.cycle,
      node: nodeNameOf(config),
      leaseMs: leaseMsOf(config),
      batchSize: clusterOf(config).scanBatchSize,
      collect: deps.collect,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      log: deps.log,
    });
    deps.log('scan.cycle', { cycle: opts.cycle, batches: shard.batches, mine: shard.mine, scanned: shard.scanned, lost: shard.lost, complete: shard.complete, created: shard.created });
    // Every endpoint as the cluster scanned it this cycle, whoever scanned it.
    reports = await statusReports(config, store, { lifecycle: false });
  } else {
    reports = await deps.scan(domains);
  }
  deps.log('scan.done', { endpoints: reports.length });

  let renew: RenewOutcome[] = [];
  let deploy: DeployOutcome[] = [];
  const managed = domains.filter((d) => d.managed);
  if (opts.renew && config.acme && managed.length > 0) {
    try {
      renew = await steps.renew(config, store, managed, { now: deps.now, random: deps.random, owner: deps.owner, log: (domain, detail) => deps.log('renew', { domain, detail }), node: nodeNameOf(config), leaseMs: leaseMsOf(config) });
    } catch (err) {
      stepFailed('renew', err);
    }
    for (const o of renew) if (o.action !== 'not-due' && o.action !== 'backoff') deps.log('renew.result', { domain: o.domain, action: o.action, reason: o.reason, ...(o.issuer ? { issuer: o.issuer } : {}), ...(o.fellBack ? { fellBack: o.fellBack } : {}) });
    for (const o of renew) if (o.action === 'failed') failures.push(o.error ? runFailureOf('renew', o.error, o.domain) : { step: 'renew', domain: o.domain, kind: 'acme', code: 'failed', message: o.reason });
    const issued = new Set(renew.filter((o) => o.action === 'issued').map((o) => o.domain));
    // Deploy what was issued now, and what an earlier cycle issued but never got nginx to accept
    // (it crashed, or nginx refused it and `current` went back): retried until it succeeds.
    const deployable: DomainConfig[] = [];
    if (config.nginx?.snippetDir) {
      for (const d of domains) if (d.nginx && (issued.has(d.name) || (await needsDeploy(store, d)))) deployable.push(d);
    }
    if (deployable.length > 0) {
      try {
        deploy = await steps.deploy(config, store, deployable, { now: deps.now, owner: deps.owner, rescan: deps.scan, log: (domain, detail) => deps.log('deploy', { domain, detail }) });
      } catch (err) {
        stepFailed('deploy', err);
      }
      for (const o of deploy) deps.log('deploy.result', { domain: o.domain, action: o.action, detail: o.detail });
      for (const o of deploy) {
        if (o.action !== 'failed' && o.action !== 'stale' && o.action !== 'not-included') continue;
        failures.push(o.error ? runFailureOf('deploy', o.error, o.domain) : { step: 'deploy', domain: o.domain, kind: 'deploy', code: o.action, message: o.detail });
      }
    }
    const changed = new Set([...issued, ...deploy.filter((o) => o.action === 'deployed' || o.action === 'stale').map((o) => o.domain)]);
    if (changed.size > 0) {
      // Judge what clients see now: the rescanned domains replace their earlier reports.
      const again = await deps.scan(domains.filter((d) => changed.has(d.name)));
      reports = [...reports.filter((r) => !changed.has(r.domain)), ...again];
    }
  }
  reports = await deps.overlay(reports);

  let notify: NotifyRunResult | null = null;
  if (opts.notify && hasDelivery(config.notify)) {
    // hook-failed (and the lead's issuer-fallback) travel on each renewal's outcome.
    const runEvents = renew.flatMap((o) => o.events ?? []);
    try {
      notify = await steps.notify(config, store, reports, { now: deps.now(), random: deps.random, channels: deps.channels, log: (detail) => deps.log('notify', { detail }), ...(deps.report !== undefined ? { report: deps.report } : {}), ...(runEvents.length > 0 ? { runEvents } : {}) });
    } catch (err) {
      stepFailed('notify', err);
    }
    for (const f of notify?.failed ?? []) failures.push({ step: 'notify', kind: 'notify', code: 'delivery-failed', message: `${f.key}: ${f.error}` });
  }

  // Last, once the cycle's own work is recorded: a failure here is reported, never fatal.
  let pruned: PruneReport | null = null;
  try {
    pruned = await steps.prune(config, store, { now: deps.now(), owner: deps.owner });
    for (const e of pruned.errors) {
      errors.push(`prune: ${e}`);
      failures.push({ step: 'prune', kind: 'io', code: 'prune', message: e });
    }
    deps.log('prune.done', { scans: pruned.scans, certificates: pruned.certificates, versions: pruned.versions, ...(pruned.skipped.length > 0 ? { skipped: pruned.skipped } : {}) });
  } catch (err) {
    stepFailed('prune', err);
  }

  const failedSteps = renew.filter((o) => o.action === 'failed').length + deploy.filter((o) => o.action === 'failed' || o.action === 'stale' || o.action === 'not-included').length + (notify?.failed.length ?? 0) + errors.length;
  let status = overallStatus(reports);
  if (failedSteps > 0) status = worstStatus(status, 'warning');
  const exitCode = runExitCode(status, failedSteps);
  const outcome: LastRun['outcome'] = errors.length > 0 ? 'failed' : status === 'unknown' ? 'warning' : status;
  const run: LastRun = { startedAt, finishedAt: deps.now().toISOString(), outcome, exitCode };
  await store.meta.set('lastRun', JSON.stringify(run));
  deps.log('run.done', { outcome, exitCode, renewed: renew.filter((o) => o.action === 'issued').length, failed: failedSteps });
  return { run, status, reports, renew, deploy, notify, pruned, errors, failures };
}


export async function lastRunOf(store: StoreReader): Promise<LastRun | null> {
  const raw = await store.meta.get('lastRun');
  if (!raw) return null;
  try {
    return JSON.parse(raw) as LastRun;
  } catch {
    return null;
  }
}

export function asRunError(err: unknown): CertsError {
  return err instanceof CertsError ? err : new CertsError('internal', 'run', errorMessage(err), { cause: err });
}
