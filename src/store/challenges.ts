/**
 * http-01 key authorisations of orders in flight, shared by the nodes of a cluster (issue 16,
 * acme.challenge.shared): the node that orders writes them here and every node's daemon answers
 * `/.well-known/acme-challenge/<token>` from them, so the CA may reach any node behind the load
 * balancer. Public by design (the CA fetches them without credentials); they expire on their own.
 */
import type { Db } from './db.js';

export interface ChallengeRow {
  token: string;
  keyAuthorization: string;
  domain: string;
  node: string;
  createdAt: number;
  expiresAt: number;
}

/** The upsert of a key authorisation for both engines, `param(i)` writing the i-th placeholder. */
export function putChallengeSql(param: (i: number) => string): string {
  return `INSERT INTO acme_challenges (token, key_authorization, domain, node, created_at, expires_at) VALUES (${[1, 2, 3, 4, 5, 6].map(param).join(', ')})
    ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization, domain = excluded.domain, node = excluded.node, created_at = excluded.created_at, expires_at = excluded.expires_at`;
}

export const challengeValues = (c: ChallengeRow): unknown[] => [c.token, c.keyAuthorization, c.domain, c.node, c.createdAt, c.expiresAt];

const PUT_SQL = putChallengeSql(() => '?');

export class ChallengeRepository {
  constructor(private readonly db: Db) {}

  put(c: ChallengeRow): void {
    this.db.prepare(PUT_SQL).run(...challengeValues(c));
  }

  /** The key authorisation of a token not expired at `nowMs`, or null. */
  get(token: string, nowMs: number): string | null {
    return (this.db.prepare('SELECT key_authorization FROM acme_challenges WHERE token = ? AND expires_at > ?').pluck().get(token, nowMs) as string | undefined) ?? null;
  }

  remove(token: string): void {
    this.db.prepare('DELETE FROM acme_challenges WHERE token = ?').run(token);
  }

  pruneExpired(nowMs: number): number {
    return this.db.prepare('DELETE FROM acme_challenges WHERE expires_at <= ?').run(nowMs).changes;
  }
}
