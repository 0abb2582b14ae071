/**
 * The node's identity and the cluster's timings (issue 16), with their defaults, for code that
 * holds a Config whose `node`/`cluster` sections may be absent (every single-machine config).
 */
import { hostname } from 'node:os';
import type { ClusterConfig, Config } from './types.js';

export const NODE_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const CLUSTER_DEFAULTS: ClusterConfig = { leaseSeconds: 60, scanBatchSize: 200 };

/** The host name as a node name: characters outside [A-Za-z0-9._-] become '-', at most 64. */
export function defaultNodeName(host: string = hostname()): string {
  const name = host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return name === '' ? 'node' : name;
}

export function nodeNameOf(config: Pick<Config, 'node'>): string {
  return config.node?.name ?? defaultNodeName();
}

export function clusterOf(config: Pick<Config, 'cluster'>): ClusterConfig {
  return config.cluster ?? CLUSTER_DEFAULTS;
}

/** The lease of locks and claims, in milliseconds. */
export function leaseMsOf(config: Pick<Config, 'cluster'>): number {
  return clusterOf(config).leaseSeconds * 1000;
}
