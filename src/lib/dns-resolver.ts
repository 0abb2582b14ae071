/**
 * A node:dns Resolver (c-ares) bounded by one budget, asking `server` ("host:port") or the
 * system's servers: the preflights' (http-01 addresses, CAA records) shared setting.
 */
import { Resolver } from 'node:dns/promises';

/** Throws when c-ares refuses the server spec; callers word it for their own report. */
export function budgetedResolver(timeoutMs: number, server?: string): Resolver {
  // c-ares doubles the timeout on the second try: three per-try budgets fit the whole budget.
  const perTry = Math.max(50, Math.min(5000, Math.floor(timeoutMs / 3)));
  const resolver = new Resolver({ timeout: perTry, tries: 2 });
  if (server !== undefined) resolver.setServers([server]);
  return resolver;
}
