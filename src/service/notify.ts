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
import { endpointLabel } from '../core/notify-policy.js';
import { nextBackoff } from '../core/backoff.js';
import { buildDigest, buildHeartbeat, channelExpiryKey, evaluateNotifications, eventSentKey, heartbeatDue, runEventToNotify, type Digest, type DigestLinks, type NotifyEvent, type RunEvent } from '../core/notify-policy.js';
import { nodeSilentLine } from '../core/nodes.js';
import { unexpectedChange } from '../core/cert-change.js';
import { FORMATTERS, type ChannelPayload } from '../notify/formats/index.js';
import { pagerdutyDedupKey } from '../notify/formats/pagerduty.js';
import { clusterNodes } from './status.js';
import { sortByUrgency } from '../core/digest.js';
import { fixFor } from '../core/advice.js';
import type { ChannelConfig, Config, NotifyConfig, NotifyEventType } from '../config/types.js';
import { loadEmailTemplates } from '../config/email-templates.js';
import { renderDigestEmail, type DigestInput } from '../notify/render.js';
import type { Channel, ChannelName, OutboxMessage } from '../notify/types.js';
import type { NewOutboxMessage, OutboxRow, SeenRow } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import type { Fence } from '../store/fence.js';
import { leaseMsOf } from '../config/node.js';
import { newOwnerId, tryLease, waitLease } from './lease.js';

/** email, webhook and notify.channels names → their channel. */
export type ChannelSet = Partial<Record<ChannelName | (string & {}), Channel>>;
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
  /**
   * What the run did that operators asked to hear about (issue 17): hook-failed from the renew
   * step (RenewOutcome.events), issuer-fallback from the renewal's CA fallback. Each alerts once
   * per RunEvent.key.
   */
  runEvents?: readonly RunEvent[];
}

/** Whether notify has anywhere to deliver: email, webhook or a channel. */
export function hasDelivery(notify: NotifyConfig | undefined): boolean {
  return Boolean(notify && (notify.email || notify.webhook || (notify.channels?.length ?? 0) > 0));
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

/** Per target events and digest when routing (domains[].notify.channels) or opt-out made them differ from the whole run's; null: nothing for it. */
export interface LegacyRoute {
  email?: { events: NotifyEvent[]; digest: Digest } | null;
  webhook?: { events: NotifyEvent[]; digest: Digest } | null;
}

/**
 * Digest messages of one run: the main recipients and the webhook get everything (or what
 * `route` gives them), extra per-domain recipients their domains (of all `events`, routing or not).
 */
export function messagesFor(config: Config, notify: NotifyConfig, events: NotifyEvent[], digest: Digest, now: Date, kind: 'digest' | 'heartbeat', links: DigestLinks = {}, route: LegacyRoute = {}): NewOutboxMessage[] {
  const at = now.toISOString();
  const out: NewOutboxMessage[] = [];
  const templates = notify.email || notify.webhook ? loadEmailTemplates(notify.templateDir) : undefined;
  const email = (to: string[], d: Digest): void => {
    const r = renderDigestEmail(templates!, digestInput(d, now));
    out.push({ key: `${kind}:email:${shortHash(to.join(','))}:${at}`, channel: 'email', to, subject: r.subject, text: r.text, html: r.html, payload: null, createdAt: at, nextAttemptAt: at });
  };
  const mainEmail = route.email === undefined ? { events, digest } : route.email;
  if (notify.email && mainEmail) email(notify.email.to, mainEmail.digest);
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
  const hook = route.webhook === undefined ? { events, digest } : route.webhook;
  if (notify.webhook && hook) {
    out.push({ key: `${kind}:webhook:${at}`, channel: 'webhook', to: [], subject: hook.digest.subject, text: hook.digest.text, html: null, payload: webhookPayload(hook.digest, hook.events, now), createdAt: at, nextAttemptAt: at });
  }
  return out;
}

/** The outbox rows of one channel: one per part its format rendered (formats/), each with its own key. */
export function channelMessages(ch: ChannelConfig, events: readonly NotifyEvent[], digest: Digest, now: Date, kind: 'digest' | 'heartbeat'): NewOutboxMessage[] {
  const at = now.toISOString();
  const parts = FORMATTERS[ch.format].render({ kind, digest, events: sortByUrgency(events), now }, ch);
  return parts.map((part, i) => {
    const payload: ChannelPayload = { format: ch.format, body: part.body };
    return { key: `${kind}:${ch.name}:${at}:${i + 1}`, channel: 'webhook', target: ch.name, to: [], subject: part.subject, text: part.text, html: null, payload, createdAt: at, nextAttemptAt: at };
  });
}

/**
 * The messages of `certs notify test` for one channel: its format's rendering of a one-line test
 * digest; PagerDuty, which pages rather than posts, gets an info trigger and at once its resolve.
 */
export function channelTestMessages(ch: ChannelConfig, now: Date, machine: string): NewOutboxMessage[] {
  const at = now.toISOString();
  const subject = '[certs] test message';
  const text = `certs on ${machine}: test message`;
  if (ch.format === 'pagerduty') {
    const dedup_key = `certs:test:${machine}:${at}`;
    const trigger = { event_action: 'trigger', dedup_key, payload: { summary: text, source: machine, severity: 'info', timestamp: at, component: 'certs', group: 'certs', class: 'test' }, client: 'certs' };
    return [trigger, { event_action: 'resolve', dedup_key }].map((body, i) => ({ key: `test:${ch.name}:${at}:${i + 1}`, channel: 'webhook', target: ch.name, to: [], subject, text, html: null, payload: { format: ch.format, body } satisfies ChannelPayload, createdAt: at, nextAttemptAt: at }));
  }
  const digest: Digest = { subject, story: text, summary: '', counts: { critical: 0, warning: 0, info: 0 }, groups: [], rows: [], shown: 0, rest: null, text };
  return channelMessages(ch, [], digest, now, 'heartbeat').map((m) => ({ ...m, key: m.key.replace(/^heartbeat:/, 'test:') }));
}

/** Whether a domain's events go to `target` (domains[].notify.channels; events of no domain, like node-silent, go everywhere). */
function routedTo(config: Config, target: string): (e: NotifyEvent) => boolean {
  const routes = new Map(config.domains.filter((d) => d.notify?.channels).map((d) => [d.name, new Set(d.notify!.channels)]));
  return (e) => {
    const r = routes.get(e.domain);
    return r === undefined || r.has(target);
  };
}

/**
 * Events of the run that a scan does not show (issue 17): run events (hook-failed,
 * issuer-fallback), a served certificate that changed to one certs never issued
 * (unexpected-change; the first sighting of an endpoint is not a change), and cluster nodes gone
 * silent (PostgreSQL only, once per silence: the key holds the last time it was seen).
 */
async function storeEvents(config: Config, store: AsyncStore, reports: readonly EndpointReport[], sent: ReadonlySet<string>, runEvents: readonly RunEvent[], now: Date): Promise<{ events: NotifyEvent[]; markSent: string[]; seen: SeenRow[]; changed: Array<{ endpointKey: string; domain: string; from: string }> }> {
  const events: NotifyEvent[] = [];
  const add = (e: NotifyEvent): void => {
    if (sent.has(e.key) || events.some((x) => x.key === e.key)) return;
    events.push(e);
  };
  for (const r of runEvents) add(runEventToNotify(r));

  const before = await store.notifications.seen();
  const seen: SeenRow[] = [];
  const changed: Array<{ endpointKey: string; domain: string; from: string }> = [];
  let issued: Map<string, Set<string>> | undefined;
  const managed = new Map(config.domains.map((d) => [d.name, d.managed]));
  const done = new Set<string>();
  for (const r of reports) {
    if (!r.fingerprint256) continue;
    const ep = endpointKey(r);
    if (done.has(ep)) continue;
    done.add(ep);
    seen.push({ endpointKey: ep, fingerprint256: r.fingerprint256, notBefore: r.notBefore ?? null, notAfter: r.notAfter ?? null });
    const prev = before.get(ep);
    if (prev === undefined || prev.fingerprint256 === r.fingerprint256) continue;
    changed.push({ endpointKey: ep, domain: r.domain, from: prev.fingerprint256 });
    const isManaged = managed.get(r.domain) === true;
    if (isManaged && !issued) {
      // Read once, only when a managed endpoint changed: most runs change nothing.
      issued = new Map();
      for (const v of await store.issued.list()) {
        const set = issued.get(v.lineage) ?? new Set<string>();
        set.add(v.fingerprint256);
        issued.set(v.lineage, set);
      }
    }
    const what = unexpectedChange({ managed: isManaged, previous: prev, fingerprint256: r.fingerprint256, issuedByCerts: issued?.get(r.domain) ?? new Set(), now });
    if (what === null) continue;
    const endpoint = endpointLabel(r);
    add({
      key: eventSentKey('unexpected-change', `${ep}:${r.fingerprint256}`),
      kind: 'unexpected-change',
      severity: 'warning',
      domain: r.domain,
      endpoint,
      endpointKey: ep,
      fingerprint256: r.fingerprint256,
      daysLeft: r.daysLeft,
      notAfter: r.notAfter,
      issuer: r.issuer ?? null,
      message: `${r.domain} ${endpoint}: unexpected-change: ${what}`,
      detail: what,
      fix: isManaged
        ? `find out who replaced it; \`certs status ${r.domain}\` shows what is served, \`certs nginx write ${r.domain}\` deploys certs' own`
        : `if nobody renewed it early on purpose, find out who replaced it (a load balancer or CDN serving another certificate, a manual swap); \`certs status ${r.domain}\` shows what is served`,
    });
  }

  for (const n of await clusterNodes(store, now)) {
    if (!n.silent) continue;
    add({
      key: eventSentKey('node-silent', `${n.name}:${n.lastSeenAt}`),
      kind: 'node-silent',
      severity: 'warning',
      domain: '',
      endpoint: `node ${n.name}`,
      endpointKey: `node:${n.name}`,
      fingerprint256: null,
      daysLeft: null,
      notAfter: null,
      message: nodeSilentLine(n),
      detail: nodeSilentLine(n).replace(/^node-silent: /, ''),
      fix: `check certs daemon on ${n.name} (its log, its cron or systemd unit, its connection to PostgreSQL)`,
    });
  }
  return { events, markSent: events.map((e) => e.key), seen, changed };
}

/**
 * PagerDuty alerts for an expiring certificate close when the endpoint serves another one (a
 * renewal, by certs or anyone): a resolve with the expiry alert's dedup_key, for each certificate
 * replaced whose expiry was alerted (its sent keys). Once per (channel, endpoint, certificate):
 * the outbox key is unique.
 */
function expiryResolves(targets: readonly Target[], changed: ReadonlyArray<{ endpointKey: string; domain: string; from: string }>, sent: ReadonlySet<string>, config: Config, now: Date): NewOutboxMessage[] {
  const at = now.toISOString();
  const out: NewOutboxMessage[] = [];
  const pagers = targets.filter((t) => t.channel?.format === 'pagerduty' && !t.off.has('expiry'));
  if (pagers.length === 0 || changed.length === 0) return out;
  // Each sent expiry key without its threshold (`…:<t>`, digits only): the certificates alerted,
  // read once rather than the whole set once per change.
  const alerted = new Set([...sent].filter((k) => k.startsWith('expiry')).map((k) => k.slice(0, k.lastIndexOf(':'))));
  for (const t of pagers) {
    const routed = routedTo(config, t.name);
    for (const c of changed) {
      if (!routed({ domain: c.domain } as NotifyEvent)) continue;
      // The expiry keys this channel triggered with: its own thresholds' or the shared ones.
      if (!alerted.has(t.channel!.thresholds ? `expiry@${t.name}:${c.endpointKey}:${c.from}` : `expiry:${c.endpointKey}:${c.from}`)) continue;
      const dedup_key = pagerdutyDedupKey({ kind: 'expiry', key: '', endpointKey: c.endpointKey, fingerprint256: c.from });
      const text = `${c.domain} ${c.endpointKey}: the certificate that was expiring has been replaced`;
      const payload: ChannelPayload = { format: 'pagerduty', body: { event_action: 'resolve', dedup_key } };
      out.push({ key: `resolve:${t.name}:${c.endpointKey}:${c.from}`, channel: 'webhook', target: t.name, to: [], subject: text, text, html: null, payload, createdAt: at, nextAttemptAt: at });
    }
  }
  return out;
}

interface Target {
  name: string;
  off: ReadonlySet<NotifyEventType>;
  channel?: ChannelConfig;
}

/**
 * Decides this run's notifications, then queues them and records what was sent in one transaction (commitRun).
 *
 * Each target (email, webhook, each notify.channels entry) gets the run's events that its
 * domains route to it and that it did not turn off; a channel with thresholds of its own gets its
 * own expiry crossings (sent keys expiry@<channel>:…) instead of the shared ones.
 */
export async function queueNotifications(config: Config, store: AsyncStore, reports: EndpointReport[], now: Date, opts: { report?: string; fence?: Fence; runEvents?: readonly RunEvent[] } = {}): Promise<{ events: NotifyEvent[]; queued: number }> {
  const notify = config.notify;
  if (!notify) return { events: [], queued: 0 };
  const thresholds = new Map(config.domains.map((d) => [d.name, d.notify?.thresholds ?? notify.thresholds]));
  const repo = store.notifications;
  const active = (await repo.active()) as Parameters<typeof evaluateNotifications>[0]['active'];
  const domains = new Map(config.domains.map((d) => [d.name, d]));
  const sent = await repo.sentKeys();
  const common = {
    reports,
    sentExpiry: sent,
    // The fix fits the domain: certs renew for a managed one, the operator's own for monitor-only (core/advice.ts).
    isManaged: (domain: string) => domains.get(domain)?.managed ?? true,
    certFileFor: (domain: string) => domains.get(domain)?.files?.cert,
    // The scanner's windows: notification thresholds scale with them (core/thresholds.ts).
    warningDays: config.scan.warningDays,
    criticalDays: config.scan.criticalDays,
    now,
  };
  const decision = evaluateNotifications({ ...common, active, thresholdsFor: (domain: string) => thresholds.get(domain) ?? notify.thresholds });
  const extra = await storeEvents(config, store, reports, sent, opts.runEvents ?? [], now);
  const all = [...decision.events, ...extra.events];
  const markSent = [...decision.markSent, ...extra.markSent];

  const targets: Target[] = [
    ...(notify.email ? [{ name: 'email', off: new Set<NotifyEventType>(notify.email.events?.off ?? []) }] : []),
    ...(notify.webhook ? [{ name: 'webhook', off: new Set<NotifyEventType>(notify.webhook.events?.off ?? []) }] : []),
    ...(notify.channels ?? []).map((ch) => ({ name: ch.name, off: new Set(ch.events.off), channel: ch })),
  ];
  const own = new Map<string, NotifyEvent[]>();
  for (const t of targets) {
    const th = t.channel?.thresholds;
    if (!th) continue;
    const mine = evaluateNotifications({ ...common, active: [], expiryOnly: true, thresholdsFor: () => th, expiryKeyOf: (ep, fp, x) => channelExpiryKey(t.name, ep, fp, x) });
    own.set(t.name, mine.events);
    markSent.push(...mine.markSent);
  }
  const eventsOf = (t: Target): NotifyEvent[] => {
    const base = own.has(t.name) ? [...all.filter((e) => e.kind !== 'expiry'), ...own.get(t.name)!] : all;
    const routed = routedTo(config, t.name);
    return base.filter((e) => routed(e) && !t.off.has(e.kind));
  };

  const messages: NewOutboxMessage[] = [];
  const meta: Record<string, string> = {};
  const links = digestLinks(config, opts.report);
  const anything = all.length > 0 || [...own.values()].some((x) => x.length > 0);
  if (anything) {
    // Still open: problems alerted by an earlier digest that did not clear in this run.
    const cleared = new Set(decision.clear.map((a) => `${a.endpointKey}\u0000${a.code}`));
    const stillOpen = active.filter((a) => !cleared.has(`${a.endpointKey}\u0000${a.code}`)).length;
    const digestOf = (events: NotifyEvent[]): Digest => buildDigest(events, { now, total: reports.length, stillOpen, links });
    const whole = all.length > 0 ? digestOf(all) : null;
    const routeOf = (name: 'email' | 'webhook'): LegacyRoute['email'] => {
      const t = targets.find((x) => x.name === name);
      if (!t) return null;
      const events = eventsOf(t);
      if (events.length === 0) return null;
      return { events, digest: events.length === all.length && whole ? whole : digestOf(events) };
    };
    if (notify.email || notify.webhook) {
      // Extra recipients of a domain are email too: what email turned off, they do not get either.
      const emailOff = targets.find((t) => t.name === 'email')?.off ?? new Set<NotifyEventType>();
      messages.push(...messagesFor(config, notify, all.filter((e) => !emailOff.has(e.kind)), whole ?? digestOf([]), now, 'digest', links, { email: routeOf('email'), webhook: routeOf('webhook') }));
    }
    for (const t of targets) {
      if (!t.channel) continue;
      const events = eventsOf(t);
      if (events.length > 0) messages.push(...channelMessages(t.channel, events, events.length === all.length && whole && !own.has(t.name) ? whole : digestOf(events), now, 'digest'));
    }
  }
  messages.push(...expiryResolves(targets, extra.changed, sent, config, now));
  if (messages.length === 0 && !anything && notify.heartbeat) {
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
      const heartbeat = buildHeartbeat({ now, total: reports.length, worst, fixOf });
      const wants = (name: 'email' | 'webhook'): { events: NotifyEvent[]; digest: Digest } | null => (targets.find((t) => t.name === name)?.off.has('heartbeat') ? null : { events: [], digest: heartbeat });
      if (notify.email || notify.webhook) messages.push(...messagesFor(config, notify, [], heartbeat, now, 'heartbeat', links, { email: wants('email'), webhook: wants('webhook') }));
      for (const t of targets) if (t.channel && !t.off.has('heartbeat')) messages.push(...channelMessages(t.channel, [], heartbeat, now, 'heartbeat'));
      meta[HEARTBEAT_META] = now.toISOString();
    }
  }
  // An alert for an endpoint no longer in the inventory (removed, or its port changed) can never
  // recover: forget it quietly, so that the endpoint alerts afresh if it comes back.
  const configured = new Set(targetsOf(config.domains).map((t) => endpointKey({ ...t, domain: t.domain.name })));
  const orphans = (await repo.active()).filter((a) => !configured.has(a.endpointKey));
  const ids = await repo.commitRun({
    at: now.toISOString(),
    markSent,
    activate: decision.activate,
    clear: [...decision.clear, ...orphans],
    messages,
    meta,
    seen: extra.seen,
  }, opts.fence);
  return { events: all, queued: ids.length };
}


/** The dedup_key of a PagerDuty event stored in the outbox, if it is one. */
function pagerdutyKeyOf(msg: Pick<OutboxMessage, 'payload'>): string | undefined {
  const p = msg.payload as { format?: unknown; body?: { dedup_key?: unknown } } | null;
  return p?.format === 'pagerduty' && typeof p.body?.dedup_key === 'string' ? p.body.dedup_key : undefined;
}

/**
 * For a PagerDuty resolve: an older trigger of the same incident and target not delivered yet
 * (failed and waiting, or being sent by another node), which must go first; otherwise null.
 */
async function triggerFirst(pendingOf: () => Promise<OutboxRow[]>, msg: OutboxMessage): Promise<OutboxRow | null> {
  const key = pagerdutyKeyOf(msg);
  if (key === undefined || (msg.payload as { body: { event_action?: unknown } }).body.event_action !== 'resolve') return null;
  const pending = await pendingOf();
  return pending.find((m) => m.id < msg.id && m.target === msg.target && pagerdutyKeyOf(m) === key && (m.payload as { body: { event_action?: unknown } }).body.event_action === 'trigger') ?? null;
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
    // Undelivered messages, read at most once per flush and only for a PagerDuty resolve, less
    // what this flush has delivered since.
    let pendingRead: Promise<OutboxRow[]> | undefined;
    const deliveredNow = new Set<number>();
    const pending = async (): Promise<OutboxRow[]> => (await (pendingRead ??= repo.list({ pending: true, limit: 1000 }))).filter((m) => !deliveredNow.has(m.id));
    for (const msg of due) {
      // A channel's message goes to its target (notify.channels name); legacy ones by channel.
      const name = msg.target ?? msg.channel;
      const channel = Object.hasOwn(channels, name) ? channels[name] : undefined;
      const at = opts.now.toISOString();
      const waitFor = channel ? await triggerFirst(pending, msg) : null;
      if (waitFor) {
        // A resolve sent before its incident's trigger (kept back by an outage) would close
        // nothing, and the trigger, delivered later, would open an incident nobody closes.
        await repo.markFailed(msg.id, at, `held back until the trigger of ${pagerdutyKeyOf(msg)} (${waitFor.key}) is delivered`, new Date(Math.max(Date.parse(waitFor.nextAttemptAt), opts.now.getTime()) + 1000).toISOString(), store.node);
        result.failed.push({ key: msg.key, error: 'held back until its trigger is delivered' });
        continue;
      }
      if (!channel) {
        // The channel was removed from the config: keep the message, say why.
        const what = msg.target !== undefined ? `notify.channels "${msg.target}"` : `notify.${msg.channel}`;
        await repo.markFailed(msg.id, at, `${what} is not configured any more`, nextBackoff({ failures: 10, now: opts.now, random: opts.random }).toISOString(), store.node);
        result.failed.push({ key: msg.key, error: `${what} is not configured` });
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
        deliveredNow.add(msg.id);
        result.delivered += 1;
        opts.log?.(`delivered ${msg.target ?? msg.channel} "${msg.subject}": ${receipt.response}`);
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
  const owner = newOwnerId();
  let lease = await tryLease(store.locks, 'notify', owner, leaseMsOf(config));
  let waited = false;
  if (!lease && (opts.runEvents?.length ?? 0) > 0) {
    // What happened on this node (a hook that failed, a fallback to another CA) is known here
    // only: wait for the holder's decision (one lease at most), then queue just that. The scan
    // was the holder's to judge: this node's reports may be older than what it committed.
    opts.log?.('another node is deciding notifications now; waiting to queue what happened on this one');
    lease = await waitLease(store.locks, 'notify', owner, leaseMsOf(config), { leaseMs: leaseMsOf(config) }).catch(() => null);
    waited = true;
  }
  let queued = { events: [] as NotifyEvent[], queued: 0 };
  if (lease) {
    try {
      queued = await queueNotifications(config, store, waited ? [] : reports, opts.now, { ...(opts.report !== undefined ? { report: opts.report } : {}), fence: lease.fence, ...(opts.runEvents ? { runEvents: opts.runEvents } : {}) });
    } finally {
      await lease.release();
    }
  } else {
    opts.log?.(`another node is deciding notifications now; this one only delivers${opts.runEvents?.length ? ` (${opts.runEvents.length} event(s) of this run not queued: ${opts.runEvents.map((e) => `${e.type} ${e.domain}`).join(', ')})` : ''}`);
  }
  const flushed = await flushOutbox(config, store, opts);
  return { ...queued, ...flushed };
}
