/** certs notify test | list | flush. */
import { hostname } from 'node:os';
import { ConfigError, UsageError } from '../../core/errors.js';
import { flushOutbox } from '../../service/notify.js';
import { channelsOf, compose } from '../compose.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import { paint, table, useColour } from '../style.js';

function notifyOf(config: ReturnType<typeof configFrom>) {
  if (!config.notify || (!config.notify.email && !config.notify.webhook && !config.notify.channels?.length)) {
    throw new ConfigError('no notification channel: add notify.email {smtp, from, to}, notify.webhook {url} or notify.channels [{name, format, …}]', { file: config.file, keyPath: 'notify' });
  }
  return config.notify;
}

export async function testCommand(opts: GlobalOptions & { channel?: string }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const notify = notifyOf(config);
  const want = opts.channel;
  const names = [...(notify.email ? ['email'] : []), ...(notify.webhook ? ['webhook'] : []), ...(notify.channels ?? []).map((c) => c.name)];
  if (want !== undefined && !names.includes(want)) throw new UsageError(`--channel: expected one of ${names.join(', ')} (the configured channels), got ${JSON.stringify(want)}`);
  const wanted = (name: string): boolean => want === undefined || want === name;
  let failed = false;
  const now = io.now();
  if (notify.email && wanted('email')) {
    const { sendTestEmail } = await import('../../notify/email.js');
    try {
      const r = await sendTestEmail(notify.email, now);
      io.stdout.write(`email to ${notify.email.to.join(', ')} via ${notify.email.smtp.host}:${notify.email.smtp.port}: accepted — ${r.response}\n`);
    } catch (err) {
      failed = true;
      io.stdout.write(`email to ${notify.email.to.join(', ')} via ${notify.email.smtp.host}:${notify.email.smtp.port}: FAILED — ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (notify.webhook && wanted('webhook')) {
    const { createWebhookChannel } = await import('../../notify/webhook.js');
    const at = now.toISOString();
    const text = `certs on ${hostname()}: test message`;
    try {
      const r = await createWebhookChannel(notify.webhook).deliver({ id: 0, key: `test:webhook:${at}`, channel: 'webhook', to: [], subject: '[certs] test message', text, html: null, payload: { version: 1, generatedAt: at, subject: '[certs] test message', counts: { critical: 0, warning: 0, info: 0 }, events: [], test: true }, createdAt: at });
      io.stdout.write(`webhook ${new URL(notify.webhook.url).origin}: accepted — ${r.response}\n`);
    } catch (err) {
      failed = true;
      io.stdout.write(`webhook ${new URL(notify.webhook.url).origin}: FAILED — ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  const channels = (notify.channels ?? []).filter((c) => wanted(c.name));
  if (channels.length > 0) {
    const { createHttpChannel } = await import('../../notify/channel.js');
    const { channelTestMessages } = await import('../../service/notify.js');
    for (const ch of channels) {
      const label = `channel ${ch.name} (${ch.format})`;
      try {
        const answers: string[] = [];
        // Each part as the outbox would hold it; PagerDuty gets a trigger and its resolve.
        for (const m of channelTestMessages(ch, now, hostname())) answers.push((await createHttpChannel(ch).deliver({ ...m, id: 0 })).response);
        io.stdout.write(`${label}: accepted — ${answers.join(', ')}\n`);
      } catch (err) {
        failed = true;
        io.stdout.write(`${label}: FAILED — ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  }
  return failed ? 1 : 0;
}

export async function listCommand(opts: GlobalOptions & { pending?: boolean; json?: boolean }, io: Io): Promise<number> {
  const config = configFrom(opts);
  const store = await compose().readStore(config);
  let rows: Awaited<ReturnType<NonNullable<typeof store>['notifications']['list']>> = [];
  try {
    if (store) rows = await store.notifications.list({ ...(opts.pending ? { pending: true } : {}), limit: 200 });
  } finally {
    await store?.close();
  }
  if (opts.json) {
    io.stdout.write(`${JSON.stringify({ generatedAt: io.now().toISOString(), messages: rows.map(({ text: _t, html: _h, payload: _p, ...r }) => r) }, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(opts.pending ? 'Nothing waiting in the outbox.\n' : 'The outbox is empty.\n');
    return 0;
  }
  const colour = useColour(io.stdout);
  io.stdout.write(`${table(rows.map((r) => [
    String(r.id),
    r.createdAt.slice(0, 16).replace('T', ' '),
    r.channel,
    r.deliveredAt ? paint(colour, 'green', 'delivered') : paint(colour, 'yellow', `pending (${r.attempts} tries)`),
    r.subject,
    r.deliveredAt ? (r.response ?? '') : `${r.lastError ?? 'not tried yet'}${r.deliveredAt ? '' : `; next ${r.nextAttemptAt.slice(0, 16).replace('T', ' ')}`}`,
  ]), ['ID', 'CREATED', 'CHANNEL', 'STATE', 'SUBJECT', 'DETAIL'])}\n`);
  return 0;
}

export async function flushCommand(opts: GlobalOptions, io: Io): Promise<number> {
  const config = configFrom(opts);
  notifyOf(config);
  const store = await compose().openStore(config);
  try {
    const r = await flushOutbox(config, store, { now: io.now(), random: Math.random, channels: channelsOf(config), log: (e) => io.stderr.write(`certs: notify: ${e}\n`) });
    io.stdout.write(`${r.delivered} delivered, ${r.failed.length} failed, ${r.pending} still pending.\n`);
    return r.failed.length > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}
