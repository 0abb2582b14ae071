/**
 * `certs renew`: for each managed domain, decide (core/renewal), and when due, lock, re-check,
 * order, store, switch, run hooks. One domain's failure never stops the others; each failure is
 * persisted with its backoff so `certs status` shows renewal-failing and the next run waits.
 */
import { createHash } from 'node:crypto';
import type { RunEvent } from '../core/notify-policy.js';
import { AcmeError, ConfigError, errorMessage, inDomain, type CertsError } from '../core/errors.js';
import { ariRenewalTime } from '../core/ari.js';
import { nextBackoff } from '../core/backoff.js';
import { checkRenewBeforeDays, renewalDecision, type RenewalDecision } from '../core/renewal.js';
import { mapPool } from '../core/pool.js';
import type { AcmeConfig, Config, DomainConfig, IssuerConfig } from '../config/types.js';
import { createSession, loadAcmeTrust, resolveDirectory, type AcmeSession } from '../acme/client.js';
import { ensureAccount } from '../acme/account.js';
import { fetchRenewalInfo } from '../acme/ari.js';
import { generateKey } from '../acme/keys.js';
import { fallbackVerdict } from '../acme/fallback.js';
import { runProgram } from '../acme/program.js';
import type { ArchiveFs, CertPaths } from '../store/archive.js';
import type { IssuedCert, RenewalState } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import type { Fence } from '../store/fence.js';
import { tryLease } from './lease.js';
import { SolverSet } from './solvers.js';
import { caaCheckFor } from './caa-check.js';
import { memoizeAsync } from '../lib/memo.js';
import { issueCertificate, reconcileCurrent, wantedOf, type Wanted } from './issue.js';

export type RenewAction = 'issued' | 'not-due' | 'failed' | 'locked' | 'dry-run' | 'backoff';

export interface RenewOutcome {
  domain: string;
  action: RenewAction;
  /** The policy's sentence, or what went wrong. */
  reason: string;
  version?: number;
  notAfter?: string;
  fingerprint256?: string;
  error?: CertsError;
  /** When the next automatic attempt may happen (after a failure). */
  nextAttemptAt?: string;
  /** The directory URL of the CA that issued this version (issue 17). */
  issuer?: string;
  /** Set when an issuer before the one that issued (or the last one tried) failed or was skipped. */
  fellBack?: IssuerFallback;
  /**
   * What operators asked to hear about (issue 17), handed to notify by the run: hook-failed here;
   * issuer-fallback when the renewal had to use a CA other than the first.
   */
  events?: RunEvent[];
}

/** Issuers passed over for one order, in the order tried (issue 17). */
export interface IssuerFallback {
  /** Directory URLs tried before, with why each was left. */
  skipped: Array<{ directoryUrl: string; reason: string }>;
  /** The directory URL that issued; absent when every issuer failed. */
  to?: string;
}

/**
 * A renewal that had to use another CA than the first as a notification (issue 17): once per
 * version. The CA passed over may be down, rate-limited or refusing by policy; the operator
 * decides whether that is a fluke or a reason to change acme.issuers.
 */
export function issuerFellBack(domain: string, version: number, to: string, fellBack: IssuerFallback): RunEvent {
  const from = fellBack.skipped.map((s) => s.directoryUrl).join(', ');
  return {
    type: 'issuer-fallback',
    domain,
    key: `${domain}:v${version}`,
    message: `version ${version} issued by ${to} because ${from} could not`,
    detail: fellBack.skipped.map((s) => `${s.directoryUrl}: ${s.reason}`).join('; '),
  };
}

/**
 * A failed hook as a notification. After an issuance the key holds the version (one alert per
 * version); before one (pre, or post after a failed order) the last version and the error, so the
 * same failure retried by the backoff alerts once and a different one alerts again.
 */
export function hookFailed(domain: string, kind: 'pre' | 'deploy' | 'post', message: string, version: { issued: number } | { after: number }): RunEvent {
  // Digits left out of the hash: a pid, a timestamp or a duration in a hook's output must not make
  // every retry of the same failure a new alert.
  const key = 'issued' in version ? `${domain}:${kind}:v${version.issued}` : `${domain}:${kind}:after-v${version.after}:${createHash('sha256').update(message.replace(/\d+/g, '#')).digest('hex').slice(0, 12)}`;
  return { type: 'hook-failed', domain, key, message: `${kind} hook failed`, detail: message };
}

export interface RenewOptions {
  force?: boolean;
  dryRun?: boolean;
  now: () => Date;
  random: () => number;
  owner: string;
  /** One line per step, for logs (stderr / the daemon's JSON log). */
  log?: (domain: string, event: string) => void;
  /** Test seam for disk faults. */
  archiveFs?: ArchiveFs;
  /** This node's name (issue 16), recorded with attempts and versions. */
  node?: string;
  /** The `cert:<lineage>` lease (cluster.leaseSeconds); default one minute. */
  leaseMs?: number;
  /** The CAA preflight run before ordering at each issuer (default: caaCheckFor, with acme.preflight). */
  caa?: CaaCheck;
}

export function acmeOf(config: Config): AcmeConfig {
  if (!config.acme) throw new ConfigError('no acme section: add acme: {directory, email, agreeToTerms, challenge} to renew certificates', { file: config.file });
  return config.acme;
}

/** One issuer's view of the acme section: its directory, account, EAB, profile and trust. */
export function acmeForIssuer(acme: AcmeConfig, issuer: IssuerConfig): AcmeConfig {
  const out: AcmeConfig = { ...acme, directory: issuer.directory, issuers: [issuer] };
  delete out.eab;
  if (issuer.eab) out.eab = issuer.eab;
  const profile = issuer.profile ?? acme.profile;
  if (profile !== undefined) out.profile = profile;
  const caFile = issuer.caFile ?? acme.caFile;
  if (caFile !== undefined) out.caFile = caFile;
  const email = issuer.email ?? acme.email;
  if (email !== undefined) out.email = email;
  return out;
}

/** The configured issuer whose directory issued this version, if it is still configured. */
export function issuerOf(acme: AcmeConfig, version: Pick<IssuedCert, 'directoryUrl'> | null): IssuerConfig | undefined {
  if (!version) return undefined;
  return acme.issuers.find((i) => resolveDirectory(i.directory) === version.directoryUrl);
}

/**
 * What a renewal would ask for, judged for the current version's own CA: a profile name means
 * something at one CA only, so a version a fallback issuer made is not "wrong profile" at once.
 */
export function wantedFor(d: DomainConfig, acme: AcmeConfig, latest: Pick<IssuedCert, 'directoryUrl'> | null): Wanted {
  return wantedOf(d, acmeForIssuer(acme, issuerOf(acme, latest) ?? acme.issuers[0]!));
}

/**
 * The issuers to try, in order: as configured, or with acme.stickyIssuer the current version's
 * first (the rest after it, as configured).
 */
export function issuerOrder(acme: AcmeConfig, latest: Pick<IssuedCert, 'directoryUrl'> | null): IssuerConfig[] {
  const sticky = acme.stickyIssuer ? issuerOf(acme, latest) : undefined;
  return sticky ? [sticky, ...acme.issuers.filter((i) => i !== sticky)] : acme.issuers;
}

/** The directory to use; a dry run goes to the staging directory when the CA has one. */
export function directoryFor(acme: AcmeConfig, dryRun: boolean): { url: string; throwaway: boolean } {
  if (dryRun && acme.directory === 'letsencrypt') return { url: resolveDirectory('letsencrypt-staging'), throwaway: false };
  return { url: resolveDirectory(acme.directory), throwaway: dryRun };
}

/** The account session: the stored account, or for a dry run without staging a throwaway one never saved. */
async function sessionFor(config: Config, store: AsyncStore, acme: AcmeConfig, dryRun: boolean, now: () => Date): Promise<AcmeSession> {
  const dir = directoryFor(acme, dryRun);
  if (!dir.throwaway) return (await ensureAccount(store.accounts, config.dataDir, acme, dir.url, now)).session;
  const session = createSession({ directoryUrl: dir.url, accountKey: await generateKey('ecdsa-p256'), ...(acme.eab ? { eab: acme.eab } : {}), http: acme });
  await session.call({ doing: `registering a throwaway ACME account at ${dir.url}` }, (c) => c.createAccount({ termsOfServiceAgreed: acme.agreeToTerms, ...(acme.email ? { contact: [`mailto:${acme.email}`] } : {}) }));
  return session;
}

function currentOf(latest: IssuedCert | null) {
  return latest ? { notBefore: new Date(latest.notBefore), notAfter: new Date(latest.notAfter), names: latest.names, keyType: latest.keyType, profile: latest.profile } : undefined;
}

export function decide(d: DomainConfig, wanted: Wanted, latest: IssuedCert | null, state: RenewalState | null, acme: AcmeConfig, now: Date, force: boolean): RenewalDecision {
  const renewBeforeDays = d.renewBeforeDays ?? acme.renewBeforeDays;
  if (renewBeforeDays !== undefined && latest) {
    checkRenewBeforeDays(renewBeforeDays, Date.parse(latest.notAfter) - Date.parse(latest.notBefore));
  }
  const ari = state?.ari && latest && state.ari.certId === latest.ariCertId
    ? { start: new Date(state.ari.start), end: new Date(state.ari.end), chosen: new Date(state.ari.chosen) }
    : undefined;
  // A revoked certificate is as good as none: clients may refuse it.
  const current = latest?.revokedAt ? undefined : currentOf(latest);
  const decision = renewalDecision({
    now,
    ...(current ? { current } : {}),
    wanted,
    ...(renewBeforeDays !== undefined ? { renewBeforeDays } : {}),
    ...(ari ? { ari } : {}),
    force,
    ...(state?.nextAttemptAt ? { backoff: { nextAttemptAt: new Date(state.nextAttemptAt) } } : {}),
  });
  if (latest?.revokedAt && decision.source === 'new') return { ...decision, reason: decision.reason.replace('no certificate yet', `version ${latest.version} was revoked ${latest.revokedAt.slice(0, 10)}`) };
  return decision;
}

/** Refreshes the stored ARI window when it is missing, for another certificate, or past its Retry-After. */
async function refreshAri(store: AsyncStore, session: AcmeSession, latest: IssuedCert, state: RenewalState | null, opts: RenewOptions): Promise<void> {
  if (!latest.ariCertId) return;
  const now = opts.now();
  const stored = state?.ari;
  if (stored && stored.certId === latest.ariCertId && Date.parse(stored.retryAfter) > now.getTime()) return;
  try {
    const info = await fetchRenewalInfo(session, latest.ariCertId, { domain: latest.lineage, now });
    if (!info) return;
    const sameWindow = stored && stored.certId === latest.ariCertId && stored.start === info.start.toISOString() && stored.end === info.end.toISOString();
    const chosen = sameWindow ? stored.chosen : ariRenewalTime(info, now, opts.random).toISOString();
    await store.renewals.setAri(latest.lineage, {
      certId: latest.ariCertId,
      start: info.start.toISOString(),
      end: info.end.toISOString(),
      chosen,
      retryAfter: info.retryAfter.toISOString(),
      explanationUrl: info.explanationURL ?? null,
    });
  } catch (err) {
    // No ARI answer is not a reason to stop: the lifetime rule still applies.
    opts.log?.(latest.lineage, `renewal information unavailable: ${errorMessage(err)}`);
  }
}

function hookEnv(d: DomainConfig, paths: CertPaths | null, extra: Record<string, string>): Record<string, string> {
  return {
    CERTS_DOMAIN: d.name,
    CERTS_NAMES: [d.name, ...d.altNames].join(' '),
    ...(paths ? { CERTS_CERT: paths.cert, CERTS_CHAIN: paths.chain, CERTS_FULLCHAIN: paths.fullchain, CERTS_KEY: paths.privkey, CERTS_DIR: paths.dir } : {}),
    ...extra,
  };
}

async function hook(d: DomainConfig, kind: 'pre' | 'post' | 'deploy', paths: CertPaths | null, extra: Record<string, string> = {}): Promise<void> {
  const argv = d.hooks?.[kind];
  if (!argv) return;
  await runProgram(argv, { env: hookEnv(d, paths, { CERTS_HOOK: kind, ...extra }), timeoutMs: d.hooks?.timeoutMs ?? 60_000, what: `domain "${d.name}": ${kind} hook "${argv[0]}"`, domain: d.name });
}

/** Every failure names its domain, also those met before any order (account, directory). */
function asCertsError(err: unknown, domain: string): CertsError {
  return inDomain(err, domain);
}

/**
 * A CAA preflight for one issuer (issue 17): resolves when the CA may issue for every name,
 * otherwise says why not (naming the record). Costs no CA rate limit.
 */
export type CaaCheck = (issuer: IssuerConfig, directory: () => Promise<Record<string, unknown>>, names: string[]) => Promise<{ allowed: true } | { allowed: false; reason: string }>;

interface RenewContext {
  config: Config;
  store: AsyncStore;
  acme: AcmeConfig;
  solvers: SolverSet;
  /** The account session at one issuer, made once per run. */
  session: (issuer: IssuerConfig) => Promise<AcmeSession>;
  /** An issuer's directory object, read without an account (the CAA check needs no more). */
  directory: (issuer: IssuerConfig) => Promise<Record<string, unknown>>;
  caa?: CaaCheck;
  opts: RenewOptions;
}

async function renewOne(d: DomainConfig, ctx: RenewContext): Promise<RenewOutcome> {
  const { config, store, acme, opts } = ctx;
  const log = (e: string) => opts.log?.(d.name, e);
  // A lineage deployed to nginx has `current` moved by the deploy, inside its transaction (a
  // version nginx refused is left behind on purpose); others catch up here after a crash.
  const deployedByNginx = d.nginx && Boolean(config.nginx?.snippetDir);
  if (!opts.dryRun && !deployedByNginx && (await reconcileCurrent(config.dataDir, store, d.name))) log('current switched to the newest recorded version (an earlier run was interrupted)');

  let latest = await store.issued.latest(d.name);
  let state = await store.renewals.get(d.name);
  // The current version is judged against what its own CA would issue (a profile name means
  // something only at one CA), and ARI is asked of that CA: it alone knows its certificates.
  const currentIssuer = issuerOf(acme, latest);
  const wanted = wantedFor(d, acme, latest);
  if (latest && !opts.force && !opts.dryRun) {
    if (!currentIssuer) {
      if (latest.ariCertId) log(`renewal information not asked: version ${latest.version} came from ${latest.directoryUrl}, which is not among acme.issuers any more`);
    } else {
      try {
        await refreshAri(store, await ctx.session(currentIssuer), latest, state, opts);
      } catch (err) {
        // The CA unreachable is only a failure when a renewal is due; that attempt records it.
        log(`renewal information unavailable: ${errorMessage(err)}`);
      }
      state = await store.renewals.get(d.name);
    }
  }
  let decision: RenewalDecision;
  try {
    decision = decide(d, wanted, latest, state, acme, opts.now(), opts.force === true || opts.dryRun === true);
  } catch (err) {
    return { domain: d.name, action: 'failed', reason: errorMessage(err), error: asCertsError(err, d.name) };
  }
  if (!decision.due) {
    return { domain: d.name, action: decision.waitUntil ? 'backoff' : 'not-due', reason: decision.reason, ...(decision.waitUntil ? { nextAttemptAt: decision.waitUntil.toISOString() } : {}) };
  }

  // Lock, then look again: another process may have renewed it while we were deciding.
  const lease = opts.dryRun ? null : await tryLease(store.locks, `cert:${d.name}`, opts.owner, opts.leaseMs);
  if (!opts.dryRun && !lease) {
    const h = await store.locks.holder(`cert:${d.name}`);
    return { domain: d.name, action: 'locked', reason: `another certs process is renewing it${h ? ` (${h.owner})` : ''}` };
  }
  try {
    if (!opts.dryRun) {
      const before = latest?.version;
      latest = await store.issued.latest(d.name);
      state = await store.renewals.get(d.name);
      if (latest?.version !== before) {
        const again = decide(d, wanted, latest, state, acme, opts.now(), opts.force === true);
        if (!again.due) return { domain: d.name, action: 'not-due', reason: `renewed by another process meanwhile; ${again.reason}` };
      }
    }
    log(`renewing: ${decision.reason}`);
    const attempt = opts.dryRun ? null : await store.renewals.attemptStarted(d.name, opts.now().toISOString(), decision.reason, opts.node ?? null);
    const fence = lease?.fence;
    let fellBack: IssuerFallback | undefined;
    const events: RunEvent[] = [];
    const before = { after: latest?.version ?? 0 };
    try {
      try {
        await hook(d, 'pre', null);
      } catch (err) {
        events.push(hookFailed(d.name, 'pre', errorMessage(err), before));
        throw err;
      }
      const ordered = await orderAtIssuers(d, ctx, latest, state, decision.reason, fence, log);
      fellBack = ordered.fellBack;
      const result = ordered.result;
      if (!result) {
        return { domain: d.name, action: 'dry-run', reason: `dry run: the CA issued a test certificate for ${wanted.names.join(', ')}; nothing was stored or replaced`, issuer: directoryFor(acmeForIssuer(acme, ordered.issuer), true).url, ...(fellBack ? { fellBack } : {}) };
      }
      const at = opts.now().toISOString();
      await store.renewals.recordSuccess(d.name, at, fence);
      if (attempt !== null) await store.renewals.attemptFinished(attempt, { at, outcome: 'issued' });
      log(`issued version ${result.issued.version}, valid until ${result.issued.notAfter}`);
      if (fellBack) events.push(issuerFellBack(d.name, result.issued.version, result.issued.directoryUrl, fellBack));
      const afterHooks: string[] = [];
      for (const kind of ['deploy', 'post'] as const) {
        try {
          await hook(d, kind, result.paths, { CERTS_OUTCOME: 'success' });
        } catch (err) {
          afterHooks.push(errorMessage(err));
          events.push(hookFailed(d.name, kind, errorMessage(err), { issued: result.issued.version }));
        }
      }
      return {
        domain: d.name,
        action: 'issued',
        reason: decision.reason + (fellBack ? `; issued by ${result.issued.directoryUrl} after ${fellBack.skipped.map((x) => `${x.directoryUrl} (${x.reason})`).join(', ')}` : '') + (afterHooks.length ? `; but ${afterHooks.join('; ')}` : ''),
        version: result.issued.version,
        notAfter: result.issued.notAfter,
        fingerprint256: result.issued.fingerprint256,
        issuer: result.issued.directoryUrl,
        ...(fellBack ? { fellBack } : {}),
        ...(events.length > 0 ? { events } : {}),
      };
    } catch (err) {
      if (err instanceof FallbackExhausted) fellBack = err.fellBack;
      const e = err instanceof FallbackExhausted ? err.error : asCertsError(err, d.name);
      const at = opts.now();
      if (e.code === 'fenced') {
        // Our lease ran out (a pause, a stall) and another node took the certificate over: its
        // version is the one recorded. Not a failure of the domain; nothing of ours was kept.
        const h = await store.locks.holder(`cert:${d.name}`).catch(() => null);
        log(`lease lost${h ? ` to ${h.owner}` : ''}; our late writes were refused (fencing token ${fence?.token})`);
        if (attempt !== null) await store.renewals.attemptFinished(attempt, { at: at.toISOString(), outcome: 'failed', error: e.message }).catch(() => undefined);
        return { domain: d.name, action: 'locked', reason: `the lease on ${d.name} ran out during the order and another certs process${h ? ` (${h.owner})` : ''} took it over; our late writes were refused and it renews the certificate` };
      }
      if (!opts.dryRun) {
        const failures = ((await store.renewals.get(d.name))?.failures ?? 0) + 1;
        const next = nextBackoff({ failures, now: at, ...(e instanceof AcmeError && e.retryAfter ? { retryAfter: e.retryAfter } : {}), random: opts.random });
        await store.renewals.recordFailure(d.name, { at: at.toISOString(), error: e.message, code: e.code, nextAttemptAt: next.toISOString() }, fence);
        if (attempt !== null) await store.renewals.attemptFinished(attempt, { at: at.toISOString(), outcome: 'failed', error: e.message });
        try {
          await hook(d, 'post', null, { CERTS_OUTCOME: 'failure', CERTS_ERROR: e.message });
        } catch (hookErr) {
          log(`post hook failed too: ${errorMessage(hookErr)}`);
          events.push(hookFailed(d.name, 'post', errorMessage(hookErr), before));
        }
        return { domain: d.name, action: 'failed', reason: e.message, error: e, nextAttemptAt: next.toISOString(), ...(fellBack ? { fellBack } : {}), ...(events.length > 0 ? { events } : {}) };
      }
      return { domain: d.name, action: 'failed', reason: e.message, error: e, ...(fellBack ? { fellBack } : {}), ...(events.length > 0 ? { events } : {}) };
    }
  } finally {
    await lease?.release();
  }
}

/** An order that failed after one or more issuers were passed over: the error, and the trail. */
class FallbackExhausted extends Error {
  constructor(readonly error: CertsError, readonly fellBack: IssuerFallback) {
    super(error.message);
  }
}

/** The failure of an order tried at several issuers names every one of them and why. */
function exhausted(last: CertsError, skipped: IssuerFallback['skipped'], lastUrl: string, lastFellBack: boolean): FallbackExhausted {
  const earlier = skipped.map((s) => `${s.directoryUrl}: ${s.reason}`).join('; ');
  if (!lastFellBack) {
    // Stopped at this issuer for a reason every CA would share: that reason first.
    return new FallbackExhausted(rewrap(last, `${last.message} (issuers passed over before: ${earlier})`), { skipped });
  }
  const all = [...skipped, { directoryUrl: lastUrl, reason: last.message }];
  return new FallbackExhausted(rewrap(last, `domain "${last.domain ?? '?'}": every issuer failed: ${all.map((s) => `${s.directoryUrl}: ${s.reason}`).join('; ')}`), { skipped: all });
}

/** The same failure (code, retry hints) with a longer message. */
function rewrap(err: CertsError, message: string): CertsError {
  if (err instanceof AcmeError) {
    return new AcmeError(err.code, message, {
      ...(err.domain !== undefined ? { domain: err.domain } : {}),
      ...(err.problemType !== undefined ? { problemType: err.problemType } : {}),
      ...(err.detail !== undefined ? { detail: err.detail } : {}),
      ...(err.status !== undefined ? { status: err.status } : {}),
      retryable: err.retryable,
      ...(err.retryAfter !== undefined ? { retryAfter: err.retryAfter } : {}),
    }, { cause: err });
  }
  return err;
}

/**
 * Orders at the issuers in turn (issue 17): a CAA record that does not allow an issuer skips it
 * without asking it anything; a failure another CA could fix moves on to the next one; any other
 * failure stops here. Throws the failure (with every issuer's reason when more than one was tried).
 */
async function orderAtIssuers(
  d: DomainConfig,
  ctx: RenewContext,
  latest: IssuedCert | null,
  state: RenewalState | null,
  reason: string,
  fence: Fence | undefined,
  log: (e: string) => void,
): Promise<{ result: Awaited<ReturnType<typeof issueCertificate>>; issuer: IssuerConfig; fellBack?: IssuerFallback }> {
  const { config, store, acme, opts } = ctx;
  const issuers = issuerOrder(acme, latest);
  const skipped: IssuerFallback['skipped'] = [];
  const trail = (): IssuerFallback | undefined => (skipped.length > 0 ? { skipped: [...skipped] } : undefined);
  for (const [i, issuer] of issuers.entries()) {
    const url = directoryFor(acmeForIssuer(acme, issuer), opts.dryRun === true).url;
    const next = issuers[i + 1];
    const moveOn = (why: string): void => {
      skipped.push({ directoryUrl: url, reason: why });
      if (next) log(`issuer ${url}: ${why}; trying the next issuer, ${resolveDirectory(next.directory)}`);
    };
    const wanted = wantedOf(d, acmeForIssuer(acme, issuer));
    let caught: CertsError;
    try {
      // CAA first: an issuer the records exclude is skipped before any account exists there.
      if (ctx.caa) {
        const verdict = await ctx.caa(issuer, () => ctx.directory(issuer), wanted.names);
        if (!verdict.allowed) {
          moveOn(verdict.reason);
          continue;
        }
      }
      const session = await ctx.session(issuer);
      // `replaces` names a certificate of this CA only; another CA would refuse or misread it.
      const sameCa = latest?.directoryUrl === session.directoryUrl;
      const result = await issueCertificate({
        dataDir: config.dataDir,
        store,
        session,
        domain: d,
        wanted,
        solver: ctx.solvers.for(d),
        preflight: acme.preflight.enabled,
        reuseKey: acme.reuseKey,
        previous: latest,
        ...(sameCa && latest?.ariCertId && state?.ari ? { replaces: latest.ariCertId } : {}),
        reason,
        now: opts.now,
        dryRun: opts.dryRun === true,
        onEvent: (e) => log(e),
        ...(fence ? { fence } : {}),
        ...(opts.node !== undefined ? { node: opts.node } : {}),
        ...(opts.archiveFs ? { archiveFs: opts.archiveFs } : {}),
      });
      const fellBack = trail();
      return { result, issuer, ...(fellBack ? { fellBack: { ...fellBack, to: session.directoryUrl } } : {}) };
    } catch (err) {
      caught = asCertsError(err, d.name);
    }
    const verdict = fallbackVerdict(caught);
    if (!verdict.fallBack || !next) {
      if (skipped.length === 0) throw caught;
      throw exhausted(caught, skipped, url, verdict.fallBack);
    }
    moveOn(`${verdict.why}: ${caught.message}`);
  }
  // Every issuer was skipped by its CAA check: the name cannot be issued by any configured CA.
  throw new FallbackExhausted(
    new AcmeError('caa', `domain "${d.name}": no configured issuer may issue for it: ${skipped.map((s) => `${s.directoryUrl}: ${s.reason}`).join('; ')}`, { domain: d.name, retryable: true }),
    { skipped },
  );
}

/** Renews the given managed domains (all managed ones when `domains` is the whole inventory). */
export async function renewDomains(config: Config, store: AsyncStore, domains: DomainConfig[], opts: RenewOptions): Promise<RenewOutcome[]> {
  const acme = acmeOf(config);
  // Every issuer's extra trust is read now: an unreadable file fails the run before any order.
  for (const issuer of acme.issuers) loadAcmeTrust(acmeForIssuer(acme, issuer));
  // Shared http-01 tokens live in the store for every node's daemon to serve; cleanup removes
  // them, and an hour (longer than any order is waited for) bounds one a crash left behind.
  const solvers = new SolverSet(acme, {
    put: (t) => store.challenges.put({ ...t, node: opts.node ?? '', createdAt: opts.now().getTime(), expiresAt: opts.now().getTime() + 3_600_000 }),
    remove: (token) => store.challenges.remove(token),
  });
  // Checked up front: a domain without a challenge is a config error, not a failed renewal.
  for (const d of domains) solvers.challengeOf(d);
  const caa = opts.caa ?? caaCheckFor(acme, opts.log);
  // The directory alone, through a session whose key never signs anything: reading it is a GET.
  const directory = memoizeAsync(async (issuer: IssuerConfig) => {
    const own = acmeForIssuer(acme, issuer);
    return createSession({ directoryUrl: directoryFor(own, opts.dryRun === true).url, accountKey: await generateKey('ecdsa-p256'), http: own }).directory();
  });
  // One account session per issuer and run, made when first needed: an issuer that cannot be
  // reached fails fast for every later domain of this run, which then falls back at once.
  const session = memoizeAsync(async (issuer: IssuerConfig) => sessionFor(config, store, acmeForIssuer(acme, issuer), opts.dryRun === true, opts.now));
  try {
    return await mapPool(domains, acme.concurrency, async (d) => {
      try {
        return await renewOne(d, { config, store, acme, solvers, session, directory, ...(caa ? { caa } : {}), opts });
      } catch (err) {
        // An account or CA failure reached before any order: recorded like any other failure.
        const e = asCertsError(err, d.name);
        return { domain: d.name, action: 'failed' as const, reason: e.message, error: e };
      }
    });
  } finally {
    await solvers.close();
  }
}
