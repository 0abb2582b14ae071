/**
 * The webhook channel: one HTTP POST per outbox message (see docs/webhook.md for receivers).
 *
 * Body: format "json" → JSON.stringify(msg.payload) (the documented {version: 1, …} digest);
 * format "slack" → {"text": msg.text}, for Slack-compatible incoming webhooks.
 *
 * Headers: Content-Type: application/json, User-Agent: certs, X-Certs-Delivery: msg.key (the
 * idempotency key: the same message retried carries the same key), and with a secret:
 *
 *   X-Certs-Timestamp: <unix seconds>
 *   X-Certs-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * where <body> is the exact bytes sent (UTF-8) and <timestamp> the header's decimal string. The
 * timestamp is signed so a receiver can refuse replays of an old, captured request.
 *
 * Outcome: 2xx → delivered ("HTTP <status>"). 408, 429, 5xx, a network failure or the timeout
 * (cfg.timeoutMs for the whole exchange) → NotifyError('webhook', …, retryable true); any other
 * answer (other 4xx, 3xx: redirects are not followed, a POST must not turn into a GET or carry the
 * signature elsewhere) → retryable false. Retry-After and the like are not honoured: the outbox
 * has its own backoff. Messages (errors, logs, the outbox) name the URL as scheme://host/… only:
 * userinfo and query may hold credentials, and Slack, Discord and Teams put the secret in the path
 * itself. Userinfo in the URL is sent as HTTP Basic authentication, since fetch refuses URLs that
 * carry it.
 *
 * format "slack" escapes &, < and > in the text as Slack requires: a TLS banner or a certificate
 * field reading `<!channel>` must stay text, not notify a whole channel.
 */
import { createHmac } from 'node:crypto';
import type { WebhookConfig } from '../config/types.js';
import { NotifyError, errorMessage } from '../core/errors.js';
import type { Channel, DeliveryReceipt, OutboxMessage } from './types.js';

export interface WebhookOptions {
  /** Clock for X-Certs-Timestamp (tests). */
  now?: () => Date;
}

/** How many bytes of an error answer's body are quoted in the message. */
const BODY_QUOTE_BYTES = 200;

/** The URL as messages may show it: scheme and host; the rest, when there is any, as "…". */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const bare = (u.pathname === '/' || u.pathname === '') && u.search === '' && u.hash === '';
    return `${u.protocol}//${u.host}/${bare ? '' : '…'}`;
  } catch {
    return '<invalid URL>';
  }
}

/** Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `sha256=<hex>` over "<timestamp>.<body>", as docs/webhook.md tells receivers to check it. */
export function signWebhookBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

function webhookBody(cfg: WebhookConfig, msg: OutboxMessage): string {
  if (cfg.format === 'slack') return JSON.stringify({ text: escapeSlackText(msg.text) });
  const body = JSON.stringify(msg.payload) as string | undefined;
  if (body === undefined) throw new NotifyError('webhook', `message ${msg.key} has no JSON payload to send`, false);
  return body;
}

/** Up to the first BODY_QUOTE_BYTES bytes of the answer, on one line; never throws. */
async function quoteBody(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < BODY_QUOTE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short (or the timeout firing while reading it): quote what arrived.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks).subarray(0, BODY_QUOTE_BYTES);
  // eslint-disable-next-line no-control-regex
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/** The interesting part of a fetch failure ("fetch failed" hides it in cause). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return errorMessage(err);
}

/** How one HTTP delivery is named in its errors, and what to say about a redirect. */
export interface SendContext {
  /** "webhook", or 'channel "ops" (discord)'. */
  label: string;
  /** The URL as errors may show it (redactUrl). */
  shown: string;
  timeoutMs: number;
  /** The config key of the URL, for the redirect hint (e.g. notify.webhook.url). */
  urlKey: string;
  /**
   * Credentials of this channel: any that shows up in a message anyway (an answer quoting the
   * request, a library putting the URL in an error) is replaced by "***" before the message leaves.
   */
  secrets?: readonly string[];
  /** Keep the underlying error as `cause` (the legacy webhook does; channels do not, so no secret travels in it). */
  keepCause?: boolean;
}

/** `text` with every secret (and its URL-encoded form) replaced by "***"; short ones (< 4) are not secrets worth the noise. */
export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}

/**
 * One HTTP request, judged as docs/webhook.md says: 2xx delivered; 408, 429, 5xx, a network error
 * or the timeout retryable; anything else (a redirect included: not followed) not.
 */
export async function sendHttp(req: { method: string; url: string; headers: Record<string, string>; body: string }, ctx: SendContext): Promise<DeliveryReceipt> {
  const fail = (message: string, retryable: boolean, cause?: unknown): NotifyError =>
    new NotifyError('webhook', scrubSecrets(message, ctx.secrets), retryable, ctx.keepCause && cause !== undefined ? { cause } : {});
  const signal = AbortSignal.timeout(ctx.timeoutMs);
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal });
  } catch (err) {
    if (isTimeout(err)) throw fail(`${ctx.label} ${ctx.shown}: no answer within ${ctx.timeoutMs} ms`, true, err);
    throw fail(`${ctx.label} ${ctx.shown} unreachable: ${networkReason(err)}`, true, err);
  }
  if (res.status >= 200 && res.status < 300) {
    res.body?.cancel().catch(() => undefined);
    return { response: `HTTP ${res.status}` };
  }
  const quoted = await quoteBody(res);
  const answer = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${quoted ? `: ${quoted}` : ''}`;
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location');
    const to = location === null ? '' : ` (redirect to ${redactUrl(URL.canParse(location, req.url) ? new URL(location, req.url).toString() : location)})`;
    throw fail(`${ctx.label} ${ctx.shown} answered ${answer}${to}; redirects are not followed, set ${ctx.urlKey} to the final URL`, false);
  }
  throw fail(`${ctx.label} ${ctx.shown} answered ${answer}`, retryableStatus(res.status));
}

export function createWebhookChannel(cfg: WebhookConfig, options: WebhookOptions = {}): Channel {
  const now = options.now ?? ((): Date => new Date());
  const shown = redactUrl(cfg.url);
  const target = new URL(cfg.url);
  let authorization: string | undefined;
  if (target.username !== '' || target.password !== '') {
    const user = decodeURIComponent(target.username);
    const pass = decodeURIComponent(target.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  const requestUrl = target.toString();

  return {
    name: 'webhook',
    async deliver(msg: OutboxMessage): Promise<DeliveryReceipt> {
      const body = webhookBody(cfg, msg);
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'User-Agent': 'certs',
        'X-Certs-Delivery': msg.key,
      };
      if (authorization !== undefined) headers.Authorization = authorization;
      if (cfg.secret !== undefined) {
        const timestamp = String(Math.floor(now().getTime() / 1000));
        headers['X-Certs-Timestamp'] = timestamp;
        headers['X-Certs-Signature'] = signWebhookBody(cfg.secret, timestamp, body);
      }
      return sendHttp({ method: 'POST', url: requestUrl, headers, body }, { label: 'webhook', shown, timeoutMs: cfg.timeoutMs, urlKey: 'notify.webhook.url', keepCause: true });
    },
  };
}
