/** Shared http-01 key authorisations on PostgreSQL (store/challenges.ts's behaviour). */
import type { ChallengeStore } from '../contract.js';
import { challengeValues, putChallengeSql, type ChallengeRow } from '../challenges.js';
import type { PgQueryable } from './db.js';

const PUT_SQL = putChallengeSql((i) => `$${i}`);

export class PgChallengeStore implements ChallengeStore {
  constructor(private readonly db: PgQueryable) {}

  async put(c: ChallengeRow): Promise<void> {
    await this.db.query(PUT_SQL, challengeValues(c));
  }

  async get(token: string, nowMs: number): Promise<string | null> {
    const r = await this.db.query<{ key_authorization: string }>('SELECT key_authorization FROM acme_challenges WHERE token = $1 AND expires_at > $2', [token, nowMs]);
    return r.rows[0]?.key_authorization ?? null;
  }

  async remove(token: string): Promise<void> {
    await this.db.query('DELETE FROM acme_challenges WHERE token = $1', [token]);
  }

  async pruneExpired(nowMs: number): Promise<number> {
    return (await this.db.query('DELETE FROM acme_challenges WHERE expires_at <= $1', [nowMs])).rowCount ?? 0;
  }
}
