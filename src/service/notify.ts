/**
 * Notifications after a run (ARCHITECTURE §5): decide what is new (core/notify-policy), write
 * every message to the outbox in the same transaction as the decision, then deliver what is due.
 * A message is marked delivered only after the server accepted it; failures wait with backoff and
 * are retried by later runs, so an SMTP outage delays mail but neither loses nor doubles it.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage, NotifyError } from '../core/errors.js';
import type { EndpointReport } from '../core/model.js';
import { endpointKey, targetsOf } from '../core/report.js';
import { nextBackoff } from '../core/backoff.js';
import { buildDigest, buildHeartbeat, evaluateNotifications, heartbeatDue, type Digest, type DigestLinks, type NotifyEvent } from '../core/notify-policy.js';
import { sortByUrgency } from '../core/digest.js';
import { fixFor } from '../core/advice.js';
import type { Config, NotifyConfig } from '../config/types.js';
import { loadEmailTemplates } from '../config/email-templates.js';
import { renderDigestEmail, type DigestInput } from '../notify/render.js';
import type { Channel, ChannelName } from '../notify/types.js';
import type { NewOutboxMessage } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import type { Fence } from '../store/fence.js';
import { leaseMsOf } from '../config/node.js';
import { newOwnerId, tryLease } from './lease.js';

export type ChannelSet = Partial<Record<ChannelName, Channel>>;
export type ChannelFactory = () => Promise<ChannelSet>;

export interface NotifyRunOptions {
  now: Date;
  random: () => number;
  /**
   * The delivery channels, built by the caller (cli/compose.ts, or fakes in tests); a factory is
   * called only when something is due. Either way they are closed after the delivery.
   */
  channels: ChannelSet | ChannelFactory;
  log?: (event: string) => void;
  /** The HTML report this run writes (`certs run --report FILE`): a long digest points to it. */
  report?: string;
}

export interface NotifyRunResult {
  events: NotifyEvent[];
  queued: number;
  delivered: number;
  failed: Array<{ key: string; error: string }>;
  pending: number;
}

const HEARTBEAT_META = 'lastHeartbeat';

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/**
 * The webhook body (documented in docs/webhook.md). Version 1; `title`, `summary`, `story`,
 * `events[].issuer`, `events[].fix` and `events[].status` were added by issue 14 (receivers ignore
 * fields they do not know); events come in the digest's urgency order.
 */
function webhookPayload(digest: Digest, events: NotifyEvent[], now: Date): unknown {
  return {
    version: 1,
    generatedAt: now.toISOString(),
    subject: digest.subject,
    title: digest.subject,
    summary: digest.summary,
    story: digest.story,
    counts: digest.counts,
    events: sortByUrgency(events).map((e) => ({
      kind: e.kind,
      severity: e.severity,
      status: e.kind === 'recovery' ? 'recovered' : e.severity,
      domain: e.domain,
      endpoint: e.endpoint,
      daysLeft: e.daysLeft,
      notAfter: e.notAfter,
      ...(e.threshold !== undefined ? { threshold: e.threshold } : {}),
      ...(e.thresholdInForce !== undefined ? { thresholdInForce: Math.round(e.thresholdInForce * 1000) / 1000 } : {}),
      ...(e.code !== undefined ? { code: e.code } : {}),
      issuer: e.issuer ?? null,
      message: e.message,
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
      ...(e.fix !== undefined ? { fix: e.fix } : {}),
    })),
  };
}

/**
 * The dashboard's address (daemon.http), for the "all of them" link of a long digest. A
 * wildcard listen address (0.0.0.0, ::) is no place to browse to: the machine's name is.
 */
export function dashboardUrl(config: Pick<Config, 'daemon'>, machine: () => string = hostname): string | undefined {
  const http = config.daemon?.http;
  if (!http) return undefined;
  const address = http.address === '0.0.0.0' || http.address === '::' ? machine() : http.address;
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${http.port}/`;
}

export function digestLinks(config: Pick<Config, 'daemon'>, report: string | undefined): DigestLinks {
  const dashboard = dashboardUrl(config);
  return { ...(dashboard ? { dashboard } : {}), ...(report ? { report } : {}) };
}

/** What the email templates are given of a digest (also the golden files' input). */
export function digestInput(d: Digest, now: Date): DigestInput {
  return {
    subject: d.subject,
    story: d.story,
    summary: d.summary,
    rows: d.rows,
    shown: d.shown,
    rest: d.rest,
    // The per-severity blocks of older user templates: the fix once, after the message.
    groups: d.groups.map((g) => ({ severity: g.severity, events: g.events.map((e) => ({ kind: e.kind, message: e.message, ...(e.fix ?? e.hint ? { hint: e.fix ?? e.hint } : {}) })) })),
    now,
  };
}

/** Digest messages of one run: the main recipients and the webhook get everything, extra per-domain recipients their domains. */
export function messagesFor(config: Config, notify: NotifyConfig, events: NotifyEvent[], digest: Digest, now: Date, kind: 'digest' | 'heartbeat', links: DigestLinks = {}): NewOutboxMessage[] {
  const at = now.toISOString();
  const out: NewOutboxMessage[] = [];
  const templates = notify.email || notify.webhook ? loadEmailTemplates(notify.templateDir) : undefined;
  const email = (to: string[], d: Digest): void => {
    const r = renderDigestEmail(templates!, digestInput(d, now));
    out.push({ key: `${kind}:email:${shortHash(to.join(','))}:${at}`, channel: 'email', to, subject: r.subject, text: r.text, html: r.html, payload: null, createdAt: at, nextAttemptAt: at });
  };
  if (notify.email) email(notify.email.to, digest);
  if (notify.email && kind === 'digest') {
    // Extra recipients of a domain: one digest per distinct list, with only their domains' lines.
    const byList = new Map<string, { to: string[]; domains: Set<string> }>();
    for (const d of config.domains) {
      const to = d.notify?.to?.filter((a) => !notify.email!.to.includes(a));
      if (!to || to.length === 0) continue;
      const k = [...to].sort().join(',');
      const entry = byList.get(k) ?? { to: [...to].sort(), domains: new Set<string>() };
      entry.domains.add(d.name);
      byList.set(k, entry);
    }
    for (const { to, domains } of byList.values()) {
      const mine = events.filter((e) => domains.has(e.domain));
      if (mine.length > 0) email(to, buildDigest(mine, { now, links }));
    }
  }
  if (notify.webhook) {
    out.push({ key: `${kind}:webhook:${at}`, channel: 'webhook', to: [], subject: digest.subject, text: digest.text, html: null, payload: webhookPayload(digest, events, now), createdAt: at, nextAttemptAt: at });
  }
  return out;
}

/** Decides this run's notifications, then queues them and records what was sent in one transaction (commitRun). */
export async function queueNotifications(config: Config, store: AsyncStore, reports: EndpointReport[], now: Date, opts: { report?: string; fence?: Fence } = {}): Promise<{ events: NotifyEvent[]; queued: number }> {
  const notify = config.notify;
  if (!notify) return { events: [], queued: 0 };
  const thresholds = new Map(config.domains.map((d) => [d.name, d.notify?.thresholds ?? notify.thresholds]));
  const repo = store.notifications;
  const active = (await repo.active()) as Parameters<typeof evaluateNotifications>[0]['active'];
  const domains = new Map(config.domains.map((d) => [d.name, d]));
  const decision = evaluateNotifications({
    reports,
    sentExpiry: await repo.sentKeys(),
    active,
    // The fix fits the domain: certs renew for a managed one, the operator's own for monitor-only (core/advice.ts).
    isManaged: (domain) => domains.get(domain)?.managed ?? true,
    certFileFor: (domain) => domains.get(domain)?.files?.cert,
    thresholdsFor: (domain: string) => thresholds.get(domain) ?? notify.thresholds,
    // The scanner's windows: notification thresholds scale with them (core/thresholds.ts).
    warningDays: config.scan.warningDays,
    criticalDays: config.scan.criticalDays,
    now,
  });
  const messages: NewOutboxMessage[] = [];
  const meta: Record<string, string> = {};
  const links = digestLinks(config, opts.report);
  if (decision.events.length > 0) {
    // Still open: problems alerted by an earlier digest that did not clear in this run.
    const cleared = new Set(decision.clear.map((a) => `${a.endpointKey}\u0000${a.code}`));
    const stillOpen = active.filter((a) => !cleared.has(`${a.endpointKey}\u0000${a.code}`)).length;
    messages.push(...messagesFor(config, notify, decision.events, buildDigest(decision.events, { now, total: reports.length, stillOpen, links }), now, 'digest', links));
  } else if (notify.heartbeat) {
    const last = await repo.meta(HEARTBEAT_META);
    if (heartbeatDue(last ? new Date(last) : null, now, notify.heartbeat.intervalHours)) {
      // Problems still open (alerted earlier, not cleared) are named, so a heartbeat never says
      // "nothing wrong" while something is; each with its fix, as in a digest.
      const configured = new Set(targetsOf(config.domains).map((t) => endpointKey({ ...t, domain: t.domain.name })));
      const worst = active.filter((a) => configured.has(a.endpointKey));
      const fixOf = (a: (typeof active)[number]): string => {
        const d = domains.get(a.domain);
        return fixFor(a.code, { domain: a.domain, managed: d?.managed ?? true, endpoint: a.endpoint, ...(d?.files?.cert !== undefined ? { certFile: d.files.cert } : {}) });
      };
      messages.push(...messagesFor(config, notify, [], buildHeartbeat({ now, total: reports.length, worst, fixOf }), now, 'heartbeat', links));
      meta[HEARTBEAT_META] = now.toISOString();
    }
  }
  // An alert for an endpoint no longer in the inventory (removed, or its port changed) can never
  // recover: forget it quietly, so that the endpoint alerts afresh if it comes back.
  const configured = new Set(targetsOf(config.domains).map((t) => endpointKey({ ...t, domain: t.domain.name })));
  const orphans = (await repo.active()).filter((a) => !configured.has(a.endpointKey));
  const ids = await repo.commitRun({
    at: now.toISOString(),
    markSent: decision.markSent,
    activate: decision.activate,
    clear: [...decision.clear, ...orphans],
    messages,
    meta,
  }, opts.fence);
  return { events: decision.events, queued: ids.length };
}


/** Delivers every due message; each outcome is stored as it happens. */
export async function flushOutbox(config: Config, store: AsyncStore, opts: NotifyRunOptions): Promise<Pick<NotifyRunResult, 'delivered' | 'failed' | 'pending'>> {
  const notify = config.notify;
  const result = { delivered: 0, failed: [] as Array<{ key: string; error: string }>, pending: 0 };
  if (!notify) return result;
  const repo = store.notifications;
  // Claimed, not read (issue 16): every node of a cluster flushes, and each message is sent by
  // the one node that claimed it; a claim left by a node that died runs out after one lease.
  const claimMs = leaseMsOf(config);
  const due = await repo.claimDue(store.node, opts.now.toISOString(), new Date(opts.now.getTime() + claimMs).toISOString());
  if (due.length > 0) {
    const channels = typeof opts.channels === 'function' ? await opts.channels() : opts.channels;
    for (const msg of due) {
      const channel = channels[msg.channel];
      const at = opts.now.toISOString();
      if (!channel) {
        // The channel was removed from the config: keep the message, say why.
        await repo.markFailed(msg.id, at, `notify.${msg.channel} is not configured any more`, nextBackoff({ failures: 10, now: opts.now, random: opts.random }).toISOString(), store.node);
        result.failed.push({ key: msg.key, error: `notify.${msg.channel} is not configured` });
        continue;
      }
      // Another node may have taken the claim over (ours ran out while earlier messages were
      // sent) or delivered the message: then it is theirs.
      if (!(await repo.stillClaimed(msg.id, store.node, at))) {
        opts.log?.(`not sent "${msg.subject}": its claim ran out and another node has it`);
        continue;
      }
      try {
        const receipt = await channel.deliver(msg);
        await repo.markDelivered(msg.id, at, receipt.response, store.node);
        result.delivered += 1;
        opts.log?.(`delivered ${msg.channel} "${msg.subject}": ${receipt.response}`);
      } catch (err) {
        const e = err instanceof NotifyError ? err : new NotifyError('notify', errorMessage(err), true, { cause: err });
        const next = nextBackoff({ failures: Math.min(msg.attempts + 1, 30), now: opts.now, random: opts.random });
        await repo.markFailed(msg.id, at, e.message, next.toISOString(), store.node);
        result.failed.push({ key: msg.key, error: e.message });
        opts.log?.(`not delivered (${e.retryable ? 'will retry' : 'fix the configuration; will retry'} after ${next.toISOString()}): ${e.message}`);
      }
    }
    await Promise.all(Object.values(channels).map((c) => c?.close?.()));
  }
  result.pending = await repo.pendingCount();
  return result;
}

/** The notify step of a run: queue what is new, then deliver what is due. */
export async function notifyAfterRun(config: Config, store: AsyncStore, reports: EndpointReport[], opts: NotifyRunOptions): Promise<NotifyRunResult> {
  // Deciding and queueing under the cluster-wide notify lock (issue 16): of the nodes reaching
  // this step at once one queues, from the shared store, and its commit is fenced; the others
  // only deliver. A node that finds the lock taken decides nothing this time (the holder does).
  const lease = await tryLease(store.locks, 'notify', newOwnerId(), leaseMsOf(config));
  let queued = { events: [] as NotifyEvent[], queued: 0 };
  if (lease) {
    try {
      queued = await queueNotifications(config, store, reports, opts.now, { ...(opts.report !== undefined ? { report: opts.report } : {}), fence: lease.fence });
    } finally {
      await lease.release();
    }
  } else {
    opts.log?.('another node is deciding notifications now; this one only delivers');
  }
  const flushed = await flushOutbox(config, store, opts);
  return { ...queued, ...flushed };
}
