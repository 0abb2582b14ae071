/**
 * RFC 2136 dynamic updates of one TXT record, sent to the zone's primary server over UDP
 * (TCP when the answer is truncated or the request too big), signed with TSIG when a key is set.
 */
import dgram from 'node:dgram';
import { promises as dnsp } from 'node:dns';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { AcmeError, CertsError, errorMessage } from '../../core/errors.js';
import { formatEndpoint, type DnsEndpoint } from './propagation.js';
import {
  RRTYPE,
  UDP_MAX,
  decodeMessage,
  describeFailure,
  encodeQuery,
  encodeUpdate,
  rcodeName,
  signMessage,
  verifyResponse,
  type DnsMessage,
  type TsigKey,
} from './wire.js';

export const DEFAULT_DNS_TIMEOUT_MS = 10_000;

export interface ExchangeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** UDP resend interval; default 1000 ms (UDP may be lost; updates are idempotent). */
  resendMs?: number;
  tcp?: boolean;
}

/** Transport failure (no answer, refused, reset); the caller names what was being sent. */
export class DnsTransportError extends CertsError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('acme', 'dns-transport', message, options);
  }
}

/**
 * Sends one message and returns the answer with the same id. A truncated UDP answer is retried
 * over TCP. Rejects with signal.reason when aborted.
 */
export async function exchange(query: Buffer, server: DnsEndpoint, opts: ExchangeOptions): Promise<{ raw: Buffer; msg: DnsMessage }> {
  opts.signal?.throwIfAborted();
  const deadline = Date.now() + opts.timeoutMs;
  const address = await resolveHost(server.host);
  const ep = { host: address, port: server.port };
  if (!opts.tcp && query.length <= UDP_MAX) {
    const raw = await overUdp(query, ep, opts);
    const msg = answerOf(raw);
    if (!msg.tc) return { raw, msg };
  }
  const raw = await overTcp(query, ep, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) });
  return { raw, msg: answerOf(raw) };
}

function answerOf(raw: Buffer): DnsMessage {
  const msg = decodeMessage(raw);
  if (!msg.qr) throw new DnsTransportError('the server sent a query instead of an answer');
  return msg;
}

async function resolveHost(host: string): Promise<string> {
  if (net.isIP(host)) return host;
  try {
    return (await dnsp.lookup(host)).address;
  } catch (err) {
    throw new DnsTransportError(`cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, { cause: err });
  }
}

function overUdp(query: Buffer, ep: DnsEndpoint, opts: ExchangeOptions): Promise<Buffer> {
  const id = query.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(ep.host) ? 'udp6' : 'udp4');
    let resend: NodeJS.Timeout | undefined;
    const finish = (err: unknown, raw?: Buffer): void => {
      clearTimeout(timer);
      clearInterval(resend);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.close();
      if (raw) resolve(raw);
      else reject(err);
    };
    const onAbort = (): void => finish(opts.signal?.reason);
    const timer = setTimeout(() => finish(new DnsTransportError(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(new DnsTransportError(err.code === 'ECONNREFUSED' ? 'connection refused (nothing listens on that port)' : errorMessage(err), { cause: err })));
    // A connected socket only receives from the server, and gets ICMP "port unreachable" as ECONNREFUSED.
    sock.on('message', (raw) => {
      if (raw.length >= 2 && raw.readUInt16BE(0) === id) finish(undefined, raw);
    });
    sock.connect(ep.port, ep.host, () => {
      const send = (): void => sock.send(query, (err) => err && finish(new DnsTransportError(errorMessage(err), { cause: err })));
      send();
      resend = setInterval(send, opts.resendMs ?? 1000);
    });
  });
}

const TCP_MAX = 0xffff;

function overTcp(query: Buffer, ep: DnsEndpoint, opts: ExchangeOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: ep.host, port: ep.port });
    const chunks: Buffer[] = [];
    let got = 0;
    const finish = (err: unknown, raw?: Buffer): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (raw) resolve(raw);
      else reject(err);
    };
    const onAbort = (): void => finish(opts.signal?.reason);
    const timer = setTimeout(() => finish(new DnsTransportError(`no answer over TCP within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(new DnsTransportError(err.code === 'ECONNREFUSED' ? 'TCP connection refused' : `TCP: ${errorMessage(err)}`, { cause: err })));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got > TCP_MAX + 2) return finish(new DnsTransportError('TCP answer longer than a DNS message can be'));
      const all = Buffer.concat(chunks);
      if (all.length < 2) return;
      const need = all.readUInt16BE(0);
      if (all.length >= need + 2) finish(undefined, all.subarray(2, 2 + need));
    });
    sock.on('end', () => finish(new DnsTransportError('the server closed the TCP connection before answering in full')));
  });
}

export interface TxtUpdateOptions {
  /** Configured domain, for messages. */
  domain: string;
  server: DnsEndpoint;
  /** Found with findZone when absent. */
  zone?: string;
  tsig?: TsigKey;
  action: 'add' | 'delete';
  name: string;
  value: string;
  ttl?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * Adds or deletes one TXT value. Throws AcmeError('challenge') naming the domain, the record,
 * the server and the server's reason (in words). Deleting a value that is not there succeeds.
 */
export async function updateTxt(opts: TxtUpdateOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  const at = formatEndpoint(opts.server);
  const what = `dns-01 ${opts.action === 'add' ? 'update' : 'removal'} of ${opts.name} TXT at ${at}`;
  const fail = (why: string, cause?: unknown, retryable = false): AcmeError =>
    new AcmeError('challenge', `domain "${opts.domain}": ${what} ${why}`, { domain: opts.domain, retryable }, cause === undefined ? {} : { cause });
  const zone = opts.zone ?? (await findZone({ domain: opts.domain, name: opts.name, server: opts.server, timeoutMs, signal: opts.signal }));
  let request: Buffer;
  let requestMac: Buffer | undefined;
  try {
    request = encodeUpdate({ id: randomInt(0x10000), zone, changes: [{ action: opts.action, name: opts.name, value: opts.value, ttl: opts.ttl }] });
    if (opts.tsig) ({ message: request, mac: requestMac } = signMessage(request, opts.tsig, { nowMs: now() }));
  } catch (err) {
    throw fail(`cannot be built: ${errorMessage(err)}`, err);
  }
  let answer: { raw: Buffer; msg: DnsMessage };
  try {
    answer = await exchange(request, opts.server, { timeoutMs, signal: opts.signal });
  } catch (err) {
    opts.signal?.throwIfAborted();
    const transport = err instanceof DnsTransportError;
    throw fail(transport ? `failed: ${err.message}` : `got an unreadable answer: ${errorMessage(err)}`, err, transport);
  }
  const failure = describeFailure(answer.msg, opts.tsig?.name);
  if (failure) {
    const refused = answer.msg.rcode === 5 || answer.msg.rcode === 9 || (answer.msg.tsig?.error ?? 0) !== 0;
    throw fail(`${refused ? 'refused' : 'failed'}: ${failure}; zone ${zone}`, undefined, answer.msg.rcode === 2);
  }
  if (opts.tsig && requestMac) {
    const bad = verifyResponse(answer.raw, answer.msg, opts.tsig, requestMac, { nowMs: now() });
    if (bad) throw fail(`got an answer that cannot be trusted: ${bad}`);
  }
}

/**
 * The zone containing `name`, asked of the server itself: an authoritative server answers a
 * SOA query with the zone's SOA (in the answer at the apex, else in the authority section);
 * names it does not serve get REFUSED, so walk up the labels until one is served.
 */
export async function findZone(opts: { domain: string; name: string; server: DnsEndpoint; timeoutMs?: number; signal?: AbortSignal }): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const at = formatEndpoint(opts.server);
  const labels = opts.name.replace(/\.$/, '').split('.');
  const answers: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    let msg: DnsMessage;
    try {
      ({ msg } = await exchange(encodeQuery({ id: randomInt(0x10000), name: candidate, type: RRTYPE.SOA }), opts.server, {
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal: opts.signal,
      }));
    } catch (err) {
      opts.signal?.throwIfAborted();
      throw new AcmeError('challenge', `domain "${opts.domain}": dns-01 could not find the zone of ${opts.name} at ${at}: SOA query for ${candidate} failed: ${errorMessage(err)}`, { domain: opts.domain, retryable: true }, { cause: err });
    }
    const soa = [...msg.answers, ...msg.authority].find((r) => r.type === RRTYPE.SOA && isSuffix(r.name, opts.name));
    if (msg.rcode !== 5 && soa) return soa.name.replace(/\.$/, '') || '.';
    answers.push(`${candidate}: ${rcodeName(msg.rcode)}`);
  }
  throw new AcmeError(
    'challenge',
    `domain "${opts.domain}": dns-01 could not find the zone of ${opts.name} at ${at}: no SOA for it or any parent (${answers.join(', ')}); set challenge.rfc2136.zone`,
    { domain: opts.domain },
  );
}

function isSuffix(zone: string, name: string): boolean {
  const z = zone.toLowerCase().replace(/\.$/, '');
  const n = name.toLowerCase().replace(/\.$/, '');
  return z === '' || n === z || n.endsWith(`.${z}`);
}
