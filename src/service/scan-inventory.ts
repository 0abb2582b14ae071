import type { SecureContext } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { hintFor } from '../core/advice.js';
import { analyseChain } from '../core/chain.js';
import { crossCheck } from '../core/cross-check.js';
import type { ChainAnalysis, EndpointReport, ProbeResult } from '../core/model.js';
import { mapPool } from '../core/pool.js';
import { statusOf, type Problem } from '../core/problems.js';
import { targetsOf, unknownReport, type ScanTarget } from '../core/report.js';
import { issuerLabel, subjectLabel, toX509 } from '../core/x509.js';
import type { TrustAnchors } from '../core/trust-anchors.js';
import { errorMessage } from '../core/errors.js';
import type { Config } from '../config/types.js';
import type { Domain } from '../core/model.js';
import { probe as tlsProbe } from '../scan/tls-probe.js';
import { readCertFiles as readFiles } from '../scan/cert-files.js';
import { uncoveredNames } from '../core/hostname.js';
import type { RevocationChecker, RevocationRun } from '../scan/revocation.js';
import type { ResolveName } from '../scan/resolve.js';
import { expandTargets, namesToResolve, type PlannedTarget } from '../core/addresses.js';

export interface ScanDeps {
  anchors: TrustAnchors;
  secureContext: SecureContext;
  now: () => Date;
  probe?: typeof tlsProbe;
  readCertFiles?: typeof readFiles;
  /** CRL checks (scan.revocation); absent: none. */
  revocation?: RevocationChecker;
  /** Set by scanDomains: this run's CRL fetches (each URL at most once per run). */
  revocationRun?: RevocationRun;
  /**
   * scan.addresses `all` (issue 12 §1): a resolver for one run, each name asked once; every name
   * without an `address` is scanned at each of its addresses. Absent: one connection per endpoint.
   */
  resolveRun?: () => ResolveName;
}

export interface ScanOutcome {
  report: EndpointReport;
  /** The served chain (DER, as received) for the store. */
  chain: Buffer[];
  path?: ChainAnalysis['path'];
}

export interface ScanOptions {
  onProgress?: (done: number, total: number, target: ScanTarget) => void;
  /** Each outcome as it completes, with the served chain, e.g. to store it. */
  onOutcome?: (outcome: ScanOutcome) => void;
  /** Keep each certificate's details in the returned reports (default false: 10,000 chains add up). */
  keepChain?: boolean;
}

/** Scans every endpoint and certificate file of `domains`, bounded by scan.concurrency; reports in inventory order. */
export async function scanDomains(config: Config, domains: readonly Domain[], deps: ScanDeps, opts: ScanOptions = {}): Promise<EndpointReport[]> {
  const planned = await planTargets(config, targetsOf(domains), deps);
  if (deps.revocation && config.scan.revocation) deps = { ...deps, revocationRun: deps.revocation.startRun() };
  let done = 0;
  return mapPool(planned, config.scan.concurrency, async ({ target, unresolved }) => {
    const outcome = unresolved !== undefined ? unresolvedOutcome(target, unresolved, deps) : target.source === 'tls' ? await scanEndpoint(config, target, deps) : scanFiles(config, target, deps);
    opts.onOutcome?.(outcome);
    opts.onProgress?.(++done, planned.length, target);
    if (opts.keepChain) return outcome.report;
    const { chain: _chain, ...slim } = outcome.report;
    return slim;
  });
}

/** Every address of each name (scan.addresses all, deps.resolveRun set); otherwise the targets as configured. */
async function planTargets(config: Config, targets: ScanTarget[], deps: ScanDeps): Promise<PlannedTarget[]> {
  if (!deps.resolveRun || config.scan.addresses === 'first') return targets.map((target) => ({ target }));
  const names = namesToResolve(targets);
  if (names.length === 0) return targets.map((target) => ({ target }));
  const resolve = deps.resolveRun();
  const answers = await mapPool(names, config.scan.concurrency, async (name) => [name, await resolve(name)] as const);
  return expandTargets(targets, new Map(answers));
}

/** A name that resolved to nothing: one unreachable row (no address) with the resolver's answer. */
function unresolvedOutcome(target: ScanTarget, answer: string, deps: ScanDeps): ScanOutcome {
  const problem: Problem = { code: 'unreachable', severity: 'critical', message: `${target.host}:${target.port}: ${answer}`, hint: hintFor('unreachable') };
  return { report: { ...baseReport(target, deps.now()), status: 'critical', problems: [problem], chain: [] }, chain: [] };
}

function baseReport(target: ScanTarget, scannedAt: Date): EndpointReport {
  return { ...unknownReport(target), scannedAt: scannedAt.toISOString() };
}

function withAnalysis(report: EndpointReport, analysis: ChainAnalysis, extra: Problem[] = []): EndpointReport {
  const problems = [...analysis.problems, ...extra];
  const leaf = analysis.served[0];
  return {
    ...report,
    status: statusOf(problems),
    daysLeft: analysis.daysLeft,
    notAfter: analysis.notAfter,
    notBefore: leaf?.notBefore ?? null,
    // The lifetime thresholds scale to is the leaf's; keep its notAfter when the path's is earlier.
    ...(leaf && analysis.notAfter && Date.parse(leaf.notAfter) !== Date.parse(analysis.notAfter) ? { leafNotAfter: leaf.notAfter } : {}),
    fingerprint256: leaf?.fingerprint256 ?? null,
    // Labels where a DN is empty: "(empty subject) <first SAN>" names the certificate in status and JSON.
    issuer: leaf ? issuerLabel(leaf) : null,
    subject: leaf ? subjectLabel(leaf) : null,
    problems,
    chain: [...analysis.served, ...analysis.added],
    servedCount: analysis.served.length,
  };
}

async function scanEndpoint(config: Config, target: ScanTarget, deps: ScanDeps): Promise<ScanOutcome> {
  const probe = deps.probe ?? tlsProbe;
  const result: ProbeResult = await probe(
    { host: target.host, port: target.port, ...(target.address ? { address: target.address } : {}), ...(target.protocol ? { protocol: target.protocol } : {}) },
    { secureContext: deps.secureContext, timeoutMs: config.scan.timeoutMs, connectTimeoutMs: config.scan.connectTimeoutMs },
  );
  const report = baseReport(target, deps.now());
  report.protocol = result.protocol ?? null;
  report.orderKnown = result.orderKnown;
  if (result.note && !result.orderKnown) report.note = result.note;
  if (result.error || result.chain.length === 0) {
    const code = result.error?.code ?? 'handshake-failed';
    const message = result.error?.message ?? 'the server completed the handshake without sending a certificate';
    const problem: Problem = { code, severity: 'critical', message: `${target.host}:${target.port}: ${message}`, hint: hintFor(code) };
    return { report: { ...report, status: 'critical', problems: [problem], chain: [] }, chain: [] };
  }
  try {
    const served = result.chain.map((der, i) => toX509(der, `${target.host}:${target.port} certificate #${i}`));
    const analysis = analyseChain({
      served,
      anchors: deps.anchors,
      name: target.host,
      now: report.scannedAt ? new Date(report.scannedAt) : deps.now(),
      warningDays: config.scan.warningDays,
      criticalDays: config.scan.criticalDays,
      orderKnown: result.orderKnown,
    });
    // Off the hot path: only certificates with a CRL Distribution Point cost anything here.
    const revocation = deps.revocationRun ? await deps.revocationRun.check(served, deps.anchors, new Date(report.scannedAt ?? deps.now().toISOString())) : [];
    const out = withAnalysis(report, analysis, revocation);
    out.crossCheck = crossCheck(analysis.problems, result.opensslError);
    return { report: out, chain: result.chain, path: analysis.path };
  } catch (err) {
    const problem: Problem = {
      code: 'handshake-failed',
      severity: 'critical',
      message: `${target.host}:${target.port}: the server sent a certificate that cannot be parsed: ${errorMessage(err)}`,
      hint: hintFor('handshake-failed', { variant: 'unparsable' }),
    };
    return { report: { ...report, status: 'critical', problems: [problem], chain: [] }, chain: result.chain };
  }
}

function scanFiles(config: Config, target: ScanTarget, deps: ScanDeps): ScanOutcome {
  const files = target.domain.files;
  const report = baseReport(target, deps.now());
  if (!files) return { report, chain: [] };
  const read = deps.readCertFiles ?? readFiles;
  let chain: X509Certificate[];
  let keyMatches: boolean | null;
  try {
    ({ chain, keyMatches } = read(files));
  } catch (err) {
    // A file we cannot read says nothing about the certificate: the target is unknown, and
    // the scan goes on with the others.
    return { report: { ...report, status: 'unknown', error: errorMessage(err), chain: [] }, chain: [] };
  }
  const now = new Date(report.scannedAt ?? deps.now().toISOString());
  const names = [target.domain.name, ...target.domain.altNames];
  const checkName = names.find((n) => !n.startsWith('*.')) ?? names[0] ?? target.domain.name;
  const analysis = analyseChain({
    served: chain,
    anchors: deps.anchors,
    name: checkName.startsWith('*.') ? `wildcard-probe${checkName.slice(1)}` : checkName,
    now,
    warningDays: config.scan.warningDays,
    criticalDays: config.scan.criticalDays,
    orderKnown: true,
  });
  const extra: Problem[] = [];
  const leaf = chain[0];
  const alreadyMismatch = analysis.problems.some((p) => p.code === 'hostname-mismatch');
  if (leaf && !alreadyMismatch) {
    const missing = uncoveredNames(leaf, names);
    if (missing.length > 0) {
      extra.push({
        code: 'hostname-mismatch',
        severity: 'critical',
        message: `${files.cert} does not cover ${missing.join(', ')}`,
        hint: hintFor('hostname-mismatch', { names }),
      });
    }
  }
  if (keyMatches === false && files.key) {
    extra.push({
      code: 'key-mismatch',
      severity: 'critical',
      message: `private key ${files.key} does not match certificate ${files.cert}`,
      hint: hintFor('key-mismatch'),
    });
  }
  return { report: withAnalysis(report, analysis, extra), chain: chain.map((c) => c.raw), path: analysis.path };
}
