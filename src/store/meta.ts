import type { Db } from './db.js';

/** Key-value facts of the installation (the daemon's minute, the last run). */
export class MetaRepository {
  constructor(private readonly db: Db) {}

  get(key: string): string | null {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined) ?? null;
  }

  set(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Sets the value unless one is there; returns the value that is there afterwards. */
  getOrSet(key: string, value: string): string {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING').run(key, value);
    return this.get(key) as string;
  }
}
