/** Builds the challenge solver of each domain; domains with the same settings share one (one standalone server per address:port). */
import { ConfigError } from '../core/errors.js';
import type { AcmeConfig, ChallengeConfig, DomainConfig } from '../config/types.js';
import type { ChallengeSolver } from '../acme/types.js';
import { createWebrootSolver } from '../acme/solvers/http-webroot.js';
import { createStandaloneSolver } from '../acme/solvers/http-standalone.js';
import { createHookSolver } from '../acme/solvers/dns-hook.js';
import { createRfc2136Solver } from '../acme/solvers/dns-rfc2136.js';
import { createSharedSolver, type SharedTokens } from '../acme/solvers/http-shared.js';

export class SolverSet {
  private readonly solvers = new Map<string, ChallengeSolver>();
  /** `shared`: where shared http-01 tokens go (the store), for acme.challenge.shared. */
  constructor(private readonly acme: AcmeConfig, private readonly shared?: SharedTokens) {}

  challengeOf(domain: DomainConfig): ChallengeConfig {
    const c = domain.challenge ?? this.acme.challenge;
    if (!c) throw new ConfigError(`domain "${domain.name}": no ACME challenge configured; set acme.challenge or domains[].challenge (http-01 webroot/standalone, or dns-01 hook/rfc2136)`, {}, { domain: domain.name });
    return c;
  }

  for(domain: DomainConfig): ChallengeSolver {
    const c = this.challengeOf(domain);
    const key = JSON.stringify(c);
    let solver = this.solvers.get(key);
    if (!solver) {
      solver = build(c, this.acme, this.shared);
      this.solvers.set(key, solver);
    }
    return solver;
  }

  async close(): Promise<void> {
    await Promise.all([...this.solvers.values()].map((s) => s.close?.()));
    this.solvers.clear();
  }
}

function build(c: ChallengeConfig, acme: AcmeConfig, shared: SharedTokens | undefined): ChallengeSolver {
  const preflight = acme.preflight;
  if (c.shared) {
    if (!shared) throw new ConfigError('challenge http-01 shared: no store to share the tokens through');
    return createSharedSolver({ tokens: shared, preflight });
  }
  if (c.webroot) return createWebrootSolver({ webroot: c.webroot, preflight });
  if (c.standalone) return createStandaloneSolver({ ...(c.standalone.address ? { address: c.standalone.address } : {}), port: c.standalone.port, preflight });
  const propagation = c.propagation ?? { timeoutMs: 120_000, intervalMs: 2_000 };
  if (c.hook) return createHookSolver(c.hook, { timeoutMs: c.hookTimeoutMs ?? 60_000, propagation });
  if (c.rfc2136) return createRfc2136Solver(c.rfc2136, propagation);
  throw new ConfigError(`challenge ${c.type}: no solver configured`);
}
