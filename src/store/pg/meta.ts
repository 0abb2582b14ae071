/** The `meta` table on PostgreSQL (store/meta.ts's behaviour). */
import type { MetaStore } from '../contract.js';
import type { PgQueryable } from './db.js';

export class PgMetaStore implements MetaStore {
  constructor(private readonly db: PgQueryable) {}

  async get(key: string): Promise<string | null> {
    const r = await this.db.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
    return r.rows[0]?.value ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  /** One statement: two processes setting at once both get the value that won. */
  async getOrSet(key: string, value: string): Promise<string> {
    const r = await this.db.query<{ value: string }>(
      `WITH ins AS (INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value)
       SELECT value FROM ins UNION ALL SELECT value FROM meta WHERE key = $1 LIMIT 1`,
      [key, value],
    );
    return r.rows[0]?.value ?? value;
  }
}
