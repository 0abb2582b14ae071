/**
 * The email channel: one SMTP connection per delivery through nodemailer (no pool), implicit TLS
 * (`secure`) or STARTTLS (`requireTLS`: refuse to send in clear), AUTH when a user is configured,
 * extra trust from `caFile` for a private server. Certificate verification is never disabled.
 *
 * Failures become NotifyError:
 *   smtp-auth         the server refused the login (EAUTH / 535) or no password is configured: not retryable
 *   smtp-unreachable  refused, timed out, DNS, the connection dropped (also in the middle of DATA): retryable
 *   smtp-tls          TLS handshake / certificate verification failed: retryable (the server's certificate
 *                     may be fixed without a change here); the server does not offer or refused STARTTLS
 *                     while requireTLS is set: retryable only for a 4xx answer — a 5xx (e.g. "502 command
 *                     not recognized") is a configuration mismatch that repeating will not fix
 *   smtp-rejected     the server answered 4xx (retryable) or 5xx (not) to the envelope or the message;
 *                     the message keeps the server's words
 *   smtp-protocol     the server's answer made no sense: retryable
 *   smtp-config       the CA file cannot be read, no recipients: not retryable
 * Messages name the server (host:port) and, for authentication, the user; never the password.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
import type { EmailConfig } from '../config/types.js';
import { NotifyError, errorMessage, type NotifyErrorCode } from '../core/errors.js';
import type { Channel, DeliveryReceipt, OutboxMessage } from './types.js';

/** Message-ID derived from the outbox key, so a retried delivery carries the same ID (receivers can deduplicate). */
export function messageIdForKey(key: string): string {
  return `<certs.${createHash('sha256').update(key).digest('hex').slice(0, 32)}@certs.invalid>`;
}

interface SmtpError extends Error {
  code?: string;
  originalCode?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ALTNAME|ERR_SSL/i;

function serverOf(cfg: EmailConfig): string {
  return `${cfg.smtp.host}:${cfg.smtp.port}`;
}

/** Removes the password from any text we pass on, in case a server echoes it back. */
function scrub(text: string, cfg: EmailConfig): string {
  const pass = cfg.smtp.pass;
  if (pass === undefined || pass.length < 1) return text;
  return text.split(pass).join('***');
}

/** Turns a nodemailer / socket error into a NotifyError (exported for unit tests). */
export function toNotifyError(err: unknown, cfg: EmailConfig): NotifyError {
  if (err instanceof NotifyError) return err;
  const e = (err ?? {}) as SmtpError;
  const server = serverOf(cfg);
  const said = e.response ? scrub(e.response.trim(), cfg) : '';
  const saidPart = said ? `: the server said "${said}"` : '';
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const code = e.code ?? '';
  const original = e.originalCode ?? '';
  const detail = scrub(errorMessage(err), cfg);
  const wrap = (c: NotifyErrorCode, message: string, retryable: boolean): NotifyError =>
    new NotifyError(c, scrub(message, cfg), retryable, { cause: err });

  if (code === 'EAUTH' || responseCode === 535) {
    const user = cfg.smtp.user ?? '(none)';
    if (!said && /missing credentials/i.test(detail)) {
      return wrap('smtp-auth', `SMTP server ${server}: no password configured for user "${user}"`, false);
    }
    return wrap('smtp-auth', `SMTP server ${server} refused the login of user "${user}"${saidPart || `: ${detail}`}`, false);
  }

  if (code === 'ETLS' || TLS_CODE.test(original) || (code === 'ESOCKET' && TLS_CODE.test(String((e as { reason?: unknown }).reason ?? '')))) {
    if (responseCode !== undefined) {
      // The server answered STARTTLS with an error, or does not offer it while requireTLS is set.
      return wrap('smtp-tls', `SMTP server ${server} did not start TLS (STARTTLS is required)${saidPart}`, responseCode < 500);
    }
    const verify = /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|HOSTNAME/i.test(`${original} ${detail}`);
    const hint = verify && !cfg.smtp.caFile ? '; if the server uses a private CA, set smtp.caFile to its certificate' : '';
    return wrap('smtp-tls', `SMTP server ${server}: TLS failed: ${detail}${original ? ` (${original})` : ''}${hint}`, true);
  }

  if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'ETIMEDOUT' || code === 'EDNS') {
    if (responseCode !== undefined && responseCode >= 500) {
      return wrap('smtp-rejected', `SMTP server ${server} refused the session${saidPart}`, false);
    }
    const what = code === 'ETIMEDOUT' ? 'did not answer in time'
      : original === 'ECONNREFUSED' ? 'refused the connection'
        : code === 'EDNS' ? 'could not be resolved'
          : 'could not be reached or closed the connection';
    return wrap('smtp-unreachable', `SMTP server ${server} ${what}: ${detail}${original && !detail.includes(original) ? ` (${original})` : ''}`, true);
  }

  if (responseCode !== undefined) {
    const step = e.command ? ` to ${e.command}` : '';
    return wrap('smtp-rejected', `SMTP server ${server} answered ${responseCode}${step}${saidPart || `: ${detail}`}`, responseCode < 500);
  }

  if (code === 'EENVELOPE' || code === 'EMESSAGE') {
    return wrap('smtp-config', `cannot send through ${server}: ${detail}`, false);
  }
  if (code === 'EPROTOCOL') {
    return wrap('smtp-protocol', `SMTP server ${server} answered something unexpected: ${detail}`, true);
  }
  return wrap('smtp-failed', `sending through SMTP server ${server} failed: ${detail}`, true);
}

async function buildTransport(cfg: EmailConfig) {
  const s = cfg.smtp;
  let ca: string | undefined;
  if (s.caFile !== undefined && s.caFile !== '') {
    try {
      ca = await readFile(s.caFile, 'utf8');
    } catch (err) {
      throw new NotifyError('smtp-config', `cannot read the SMTP CA file ${s.caFile}: ${errorMessage(err)}`, false, { cause: err });
    }
  }
  return nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.secure ? false : s.requireTLS,
    ...(ca !== undefined ? { tls: { ca: [ca] } } : {}),
    ...(s.user !== undefined && s.user !== '' ? { auth: { user: s.user, pass: s.pass ?? '' } } : {}),
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    dnsTimeout: s.timeoutMs,
  });
}

export function createEmailChannel(cfg: EmailConfig): Channel {
  return {
    name: 'email',
    async deliver(msg: OutboxMessage): Promise<DeliveryReceipt> {
      if (msg.to.length === 0) {
        throw new NotifyError('smtp-config', `email ${msg.key} has no recipients`, false);
      }
      const transport = await buildTransport(cfg);
      try {
        const info = await transport.sendMail({
          from: cfg.from,
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
          ...(msg.html !== null ? { html: msg.html } : {}),
          messageId: messageIdForKey(msg.key),
          headers: { 'X-Certs-Key': msg.key },
        });
        return { response: info.response };
      } catch (err) {
        throw toNotifyError(err, cfg);
      } finally {
        transport.close();
      }
    },
  };
}

/** Sends "[certs] test message" to cfg.to and returns the server's answer; throws NotifyError. */
export async function sendTestEmail(cfg: EmailConfig, now: Date): Promise<DeliveryReceipt> {
  const at = now.toISOString();
  const host = hostname();
  const text = [
    `This is a test message from certs on ${host}, sent at ${at}`,
    `through the SMTP server ${serverOf(cfg)} (${cfg.smtp.secure ? 'implicit TLS' : cfg.smtp.requireTLS ? 'STARTTLS required' : 'STARTTLS when offered'}) from ${cfg.from}.`,
    '',
    'If you can read this, certs can send you email notifications. Nothing needs to be done.',
    '',
  ].join('\n');
  const channel = createEmailChannel(cfg);
  try {
    return await channel.deliver({
      id: 0,
      key: `test:email:${host}:${at}`,
      channel: 'email',
      to: cfg.to,
      subject: '[certs] test message',
      text,
      html: null,
      payload: null,
      createdAt: at,
    });
  } finally {
    await channel.close?.();
  }
}
