/**
 * dns-01 through RFC 2136 dynamic updates: add the TXT value, wait until the authoritative
 * servers show it, delete exactly that value again.
 */
import type { PropagationConfig, Rfc2136Config } from '../../config/types.js';
import { AcmeError } from '../../core/errors.js';
import { formatEndpoint, waitForTxt, type DnsEndpoint } from '../dns/propagation.js';
import { findZone, updateTxt, DEFAULT_DNS_TIMEOUT_MS } from '../dns/rfc2136.js';
import type { TsigKey } from '../dns/wire.js';
import type { ChallengeSolver, ChallengeTask } from '../types.js';

export interface Rfc2136SolverOptions {
  /** Budget of one update or SOA lookup; default 10000 ms. */
  timeoutMs?: number;
  /** For TSIG time signed; tests move it to provoke BADTIME. */
  now?: () => number;
}

export function createRfc2136Solver(config: Rfc2136Config, propagation: PropagationConfig, opts: Rfc2136SolverOptions = {}): ChallengeSolver {
  const server: DnsEndpoint = { host: config.server, port: config.port ?? 53 };
  const at = formatEndpoint(server);
  const tsig = tsigKey(config);
  const ttl = config.ttl ?? 60;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  // One SOA walk per record name, shared by present and cleanup.
  const zones = new Map<string, Promise<string>>();

  function zoneOf(task: ChallengeTask, signal?: AbortSignal): Promise<string> {
    if (config.zone) return Promise.resolve(config.zone);
    let z = zones.get(task.recordName);
    if (!z) {
      z = findZone({ domain: task.domain, name: task.recordName, server, timeoutMs, signal });
      zones.set(task.recordName, z);
      // A failed lookup (server down for a moment) must not stick.
      z.catch(() => zones.delete(task.recordName));
    }
    return z;
  }

  async function update(task: ChallengeTask, action: 'add' | 'delete', signal?: AbortSignal): Promise<void> {
    const zone = await zoneOf(task, signal);
    await updateTxt({ domain: task.domain, server, zone, tsig, action, name: task.recordName, value: task.recordValue, ttl, timeoutMs, signal, now: opts.now });
  }

  const describe = `dns-01 rfc2136 ${at}${config.zone ? ` zone ${config.zone}` : ''}${tsig ? ` key "${tsig.name}" (${tsig.algorithm})` : ''}`;
  return {
    type: 'dns-01',
    describe,
    present: (task, signal) => update(task, 'add', signal),
    preflight: (task, signal) =>
      waitForTxt({
        domain: task.domain,
        name: task.recordName,
        value: task.recordValue,
        servers: propagation.servers?.length ? propagation.servers : [at],
        timeoutMs: propagation.timeoutMs,
        intervalMs: propagation.intervalMs,
        signal,
      }),
    // Deleting by value (class NONE) keeps other values of the same name; a missing one is no error.
    cleanup: (task) => update(task, 'delete'),
  };
}

function tsigKey(config: Rfc2136Config): TsigKey | undefined {
  const { tsigKeyName: name, tsigSecret: secret } = config;
  if (name === undefined && secret === undefined) return undefined;
  if (!name || !secret) {
    throw new AcmeError('challenge', `dns-01 rfc2136 ${config.server}: tsigKeyName and tsigSecret go together (only ${name ? 'tsigKeyName' : 'tsigSecret'} is set)`);
  }
  return { name, secret, algorithm: config.tsigAlgorithm ?? 'hmac-sha256' };
}
