import type { Db } from './db.js';

export interface AccountRow {
  directoryUrl: string;
  accountUrl: string | null;
  keyFile: string;
  email: string | null;
  createdAt: string;
}

/** ACME accounts, one per CA directory URL. */
export class AccountRepository {
  constructor(private readonly db: Db) {}

  get(directoryUrl: string): AccountRow | null {
    const row = this.db.prepare('SELECT directory_url, account_url, key_file, email, created_at FROM acme_accounts WHERE directory_url = ?').get(directoryUrl) as
      | { directory_url: string; account_url: string | null; key_file: string; email: string | null; created_at: string }
      | undefined;
    if (!row) return null;
    return { directoryUrl: row.directory_url, accountUrl: row.account_url, keyFile: row.key_file, email: row.email, createdAt: row.created_at };
  }

  save(a: AccountRow): void {
    this.db.prepare(`INSERT INTO acme_accounts (directory_url, account_url, key_file, email, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(directory_url) DO UPDATE SET account_url = excluded.account_url, key_file = excluded.key_file, email = excluded.email`)
      .run(a.directoryUrl, a.accountUrl, a.keyFile, a.email, a.createdAt);
  }
}
