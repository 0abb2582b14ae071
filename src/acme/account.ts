/**
 * One ACME account per CA directory: created on first use, its key kept in a 0600 file
 * (<dataDir>/accounts/<id>/account.key) written before the CA ever sees it, so a crash between
 * "key made" and "account registered" re-registers the same key instead of orphaning an account.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AcmeError, errorMessage } from '../core/errors.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import type { AcmeConfig } from '../config/types.js';
import { createSession, type AcmeSession } from './client.js';
import { generateKey } from './keys.js';

export interface Account {
  directoryUrl: string;
  accountUrl: string;
  keyPem: string;
}

export function accountKeyFile(dataDir: string, directoryUrl: string): string {
  const id = createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16);
  return join(dataDir, 'accounts', id, 'account.key');
}

async function loadOrCreateKey(file: string): Promise<string> {
  if (existsSync(file)) return readFileSync(file, 'utf8');
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const pem = await generateKey('ecdsa-p256');
  writeFileAtomic(file, pem, 0o600, { overwrite: false });
  return pem;
}

/** Returns a session for the account, registering it with the CA when it has no URL yet. */
/** A stored ACME account, one per CA directory URL (the store's acme_accounts row). */
export interface StoredAccount {
  directoryUrl: string;
  accountUrl: string | null;
  keyFile: string;
  email: string | null;
  createdAt: string;
}

/** Where accounts are kept (store/accounts.ts implements it); acme/ does not import the store. */
export interface AccountStore {
  get(directoryUrl: string): Promise<StoredAccount | null>;
  save(account: StoredAccount): Promise<void>;
}

export async function ensureAccount(repo: AccountStore, dataDir: string, cfg: AcmeConfig, directoryUrl: string, now: () => Date): Promise<{ account: Account; session: AcmeSession }> {
  const stored = await repo.get(directoryUrl);
  const keyFile = stored?.keyFile ?? accountKeyFile(dataDir, directoryUrl);
  let keyPem: string;
  try {
    keyPem = await loadOrCreateKey(keyFile);
  } catch (err) {
    throw new AcmeError('acme-account', `ACME account key ${keyFile}: ${errorMessage(err)}`, {}, { cause: err });
  }
  const eab = cfg.eab ? { kid: cfg.eab.kid, hmacKey: cfg.eab.hmacKey } : undefined;
  if (stored?.accountUrl) {
    const session = createSession({ directoryUrl, accountKey: keyPem, accountUrl: stored.accountUrl, ...(eab ? { eab } : {}), http: cfg });
    try {
      // POST-as-GET: does the CA still know the account? A CA that lost or deleted it (a reset
      // test CA, a purge of unused accounts) would otherwise refuse every order, on every run.
      await session.call({ doing: `checking the ACME account ${stored.accountUrl}` }, (c) => c.updateAccount());
      return { account: { directoryUrl, accountUrl: stored.accountUrl, keyPem }, session };
    } catch (err) {
      const e = err as AcmeError;
      if (e.problemType !== 'urn:ietf:params:acme:error:accountDoesNotExist') throw e;
      // Unknown to the CA: register the same key again below, and store the new account URL.
    }
  }
  const session = createSession({ directoryUrl, accountKey: keyPem, ...(eab ? { eab } : {}), http: cfg });
  const tos = await session.call({ doing: `reading the CA directory ${directoryUrl}` }, (c) => c.getTermsOfServiceUrl());
  if (tos && !cfg.agreeToTerms) {
    throw new AcmeError('acme-terms', `the CA at ${directoryUrl} requires agreeing to its terms of service (${tos}); read them and set acme.agreeToTerms: true`);
  }
  let accountUrl: string;
  try {
    accountUrl = await session.call({ doing: `registering an ACME account at ${directoryUrl}` }, async (c) => {
      await c.createAccount({
        termsOfServiceAgreed: cfg.agreeToTerms,
        ...(cfg.email ? { contact: [`mailto:${cfg.email}`] } : {}),
      });
      return c.getAccountUrl();
    });
  } catch (err) {
    const e = err as AcmeError;
    if (e.problemType === 'urn:ietf:params:acme:error:externalAccountRequired' || (eab && e.problemType === 'urn:ietf:params:acme:error:unauthorized')) {
      throw new AcmeError('acme-account', `${e.message}${eab ? '; check acme.eab.kid and acme.eab.hmacKey' : '; this CA needs External Account Binding: set acme.eab {kid, hmacKey} from the CA\'s account page'}`, { ...e, retryable: false }, { cause: err });
    }
    throw e;
  }
  await repo.save({ directoryUrl, accountUrl, keyFile, email: cfg.email ?? null, createdAt: now().toISOString() });
  return { account: { directoryUrl, accountUrl, keyPem }, session };
}
