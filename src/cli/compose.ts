/**
 * The composition root: the one place that builds what the use cases in service/ are given —
 * the store, the notification channels, the scanner and the clock. service/ never opens a store
 * or a channel itself, so a test (or, later, another store or a cluster) passes its own.
 */
import { nodeNameOf } from '../config/node.js';
import type { Config } from '../config/types.js';
import type { Channel, ChannelName } from '../notify/types.js';
import { openStore } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import { asyncStore } from '../store/sqlite-async.js';
import type { ChannelFactory } from '../service/notify.js';
import type { Rescanner } from '../service/scan-record.js';
import type { Domain } from '../core/model.js';
import type { RecordItem } from '../store/index.js';

export interface Composition {
  now: () => Date;
  random: () => number;
  /** The store for writing (created on first use): store.engine's. */
  openStore(config: Config): Promise<AsyncStore>;
  /** The store for reading; null when nothing has been stored yet (nothing is created). */
  readStore(config: Config): Promise<AsyncStore | null>;
  /** The configured channels, built when the outbox has something to deliver. */
  channels(config: Config): ChannelFactory;
  /** A scanner recording into `store`, with the trust anchors loaded once. */
  scanner(config: Config, store: AsyncStore): Promise<Rescanner>;
  /** A scanner that records nothing and returns what to record (a sharded cycle's batches). */
  collector(config: Config): Promise<(domains: readonly Domain[]) => Promise<RecordItem[]>>;
}

export function compose(now: () => Date = () => new Date()): Composition {
  return {
    now,
    random: Math.random,
    openStore: (config) => openConfiguredStore(config, false) as Promise<AsyncStore>,
    readStore: (config) => openConfiguredStore(config, true),
    channels: (config) => channelsOf(config),
    async scanner(config, store) {
      // Loaded here so that commands that never scan never load the TLS scanner.
      const { loadScanDeps, recordingScanner } = await import('../service/scan-record.js');
      return recordingScanner(config, store, await loadScanDeps(config, now));
    },
    async collector(config) {
      const { loadScanDeps, collectingScanner } = await import('../service/scan-record.js');
      return collectingScanner(config, await loadScanDeps(config, now));
    },
  };
}

/**
 * The store that store.engine names. SQLite opens at once (and read-only opens create nothing);
 * PostgreSQL is loaded only when configured, so the embedded path never loads the pg driver.
 */
export async function openConfiguredStore(config: Config, readonly: boolean): Promise<AsyncStore | null> {
  if (config.store.engine === 'postgres') {
    const { openPgStore } = await import('../store/pg/store.js');
    return openPgStore(config.store.url!, { keyEncryptionKey: config.store.keyEncryptionKey!, readonly, node: nodeNameOf(config) });
  }
  const store = openStore(config.dataDir, { readonly, node: nodeNameOf(config) });
  return store ? asyncStore(store, config.dataDir) : null;
}

/** notify.email, notify.webhook and notify.channels as channels; each loaded only when configured. */
export function channelsOf(config: Config): ChannelFactory {
  return async () => {
    const out: Partial<Record<ChannelName | (string & {}), Channel>> = {};
    const notify = config.notify;
    if (notify?.email) out.email = (await import('../notify/email.js')).createEmailChannel(notify.email);
    if (notify?.webhook) out.webhook = (await import('../notify/webhook.js')).createWebhookChannel(notify.webhook);
    if (notify?.channels?.length) {
      const { createHttpChannel } = await import('../notify/channel.js');
      for (const ch of notify.channels) out[ch.name] = createHttpChannel(ch);
    }
    return out;
  };
}
