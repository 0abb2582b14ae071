/**
 * A `fetch` for URLs found inside certificates (AIA caIssuers now, CRLs next) that only connects
 * to destinations a check allows: by default public addresses (see core/address-class.ts).
 *
 * The check runs on the address the socket actually connects to: the request's `lookup` resolves
 * the name, drops refused addresses and hands the rest to connect. Checking a name first and
 * connecting later would let DNS answer differently the second time (rebinding). IP literals skip
 * `lookup` in Node, so they are checked before the request. Each redirect is a new call, so every
 * hop is checked again. One socket per request (no agent), so no connection is reused across hops.
 *
 * Only what aia.ts needs of fetch is supported: GET with headers, a signal and `redirect: 'manual'`
 * (redirects are never followed here).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { refusedDestination } from '../core/address-class.js';

/** Why a connection to `address` must not be made, or null when it may. */
export type AddressCheck = (address: string) => string | null;

/** The default: public addresses only. */
export const publicOnly: AddressCheck = refusedDestination;
/** fetch.allowPrivateAddresses: true. */
export const anyAddress: AddressCheck = () => null;

/** A destination the check refused; `reason` names the address and its class. */
export class BlockedDestinationError extends Error {
  constructor(readonly host: string, readonly reason: string) {
    super(host === reason.split(' ')[0] ? reason : `${host}: ${reason}`);
    this.name = 'BlockedDestinationError';
  }
}

/** Finds a BlockedDestinationError in an error's cause chain (fetch-style errors nest them). */
export function blockedDestination(err: unknown): BlockedDestinationError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BlockedDestinationError) return e;
  }
  return undefined;
}

function guardedLookup(check: AddressCheck): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { family: options.family ?? 0, hints: options.hints ?? 0, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const allowed = addresses.filter((a) => check(a.address) === null);
      const first = allowed[0];
      if (!first) {
        const refused = addresses[0];
        const why = refused ? check(refused.address) ?? 'refused' : 'no address';
        return callback(new BlockedDestinationError(hostname, `resolves to ${why}` + (addresses.length > 1 ? ` (and ${addresses.length - 1} more refused)` : '')) as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

function toHeaders(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

/** A fetch (GET, manual redirects) that connects only where `check` allows. */
export function createGuardedFetch(check: AddressCheck): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported scheme ${url.protocol}`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const why = check(host);
      if (why !== null) throw new BlockedDestinationError(host, why);
    }
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = client.request(url, {
        method: init.method ?? 'GET',
        headers,
        agent: false,
        lookup: guardedLookup(check),
        ...(signal ? { signal } : {}),
      }, (res) => {
        try {
          const status = res.statusCode ?? 0;
          // Response refuses a body on these statuses.
          const noBody = status === 204 || status === 205 || status === 304;
          if (noBody) res.resume();
          const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: toHeaders(res.rawHeaders) }));
        } catch (err) {
          res.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      req.once('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
      req.end();
    });
  }) as typeof fetch;
}

/** A response body over the limit: announced by Content-Length (`declared`) or seen while reading. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number, readonly declared: string | null, readonly seen: number) {
    super(declared !== null ? `larger than ${limit} bytes (Content-Length: ${declared})` : `larger than ${limit} bytes (cut off after ${seen} bytes)`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads a body of at most `limit` bytes, refusing a larger one before reading it (Content-Length)
 * or as soon as it passes the limit, without buffering the rest. Other failures (network, abort)
 * are thrown as they come; the stream is cancelled either way.
 */
export async function readBoundedBody(res: Response, limit: number): Promise<Buffer> {
  const declared = res.headers.get('content-length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > limit) {
    void res.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(limit, declared.trim(), 0);
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) throw new BodyTooLargeError(limit, null, total);
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (err) {
    reader.cancel().catch(() => undefined);
    throw err;
  }
  return Buffer.concat(chunks, total);
}
