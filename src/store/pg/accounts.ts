/**
 * AccountStore on PostgreSQL (issue 15): store/accounts.ts's AccountRepository, same rows and
 * the same upsert (an existing account keeps its created_at).
 */
import type { AccountRow } from '../accounts.js';
import type { AccountStore } from '../contract.js';
import type { PgQueryable } from './db.js';

interface Row {
  directory_url: string;
  account_url: string | null;
  key_file: string;
  email: string | null;
  created_at: string;
}

export class PgAccountStore implements AccountStore {
  constructor(private readonly db: PgQueryable) {}

  async get(directoryUrl: string): Promise<AccountRow | null> {
    const { rows } = await this.db.query<Row>('SELECT directory_url, account_url, key_file, email, created_at FROM acme_accounts WHERE directory_url = $1', [directoryUrl]);
    const row = rows[0];
    if (!row) return null;
    return { directoryUrl: row.directory_url, accountUrl: row.account_url, keyFile: row.key_file, email: row.email, createdAt: row.created_at };
  }

  async save(a: AccountRow): Promise<void> {
    await this.db.query(`INSERT INTO acme_accounts (directory_url, account_url, key_file, email, created_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (directory_url) DO UPDATE SET account_url = excluded.account_url, key_file = excluded.key_file, email = excluded.email`,
    [a.directoryUrl, a.accountUrl, a.keyFile, a.email, a.createdAt]);
  }
}
