/**
 * http-01 without a web server: certs listens on port 80 itself for the time the challenges are
 * out. One node:http server serves every task of the run; it starts on the first present() and
 * stops when the last token is cleaned up (or on close()). It answers only
 * `GET /.well-known/acme-challenge/<token>` for tokens currently presented; everything else is a
 * 404, with small header limits and short timeouts since it faces the internet.
 *
 * Listening: with `address` the server binds exactly there; without it, Node's default (the IPv6
 * wildcard in dual-stack mode when the host has IPv6, else 0.0.0.0), so a CA that prefers the
 * AAAA record reaches it too.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { AcmeError, errorMessage } from '../../core/errors.js';
import type { PreflightConfig } from '../../config/types.js';
import type { ChallengeSolver, ChallengeTask } from '../types.js';
import { TOKEN_PATTERN, assertValidToken, preflightHttp01 } from './http-preflight.js';

export interface StandaloneSolverOptions {
  /** Address to listen on; default all addresses (IPv6 and IPv4 where available). */
  address?: string;
  /** Port to listen on (80 in production). */
  port: number;
  preflight: PreflightConfig;
}

const WHO = 'http-01 standalone';
const PREFIX = '/.well-known/acme-challenge/';

/** Limits of the server; exported for tests and docs. */
export const STANDALONE_LIMITS = {
  /** Bytes of request headers (Node's default is 16 KiB). */
  maxHeaderSize: 4096,
  maxHeadersCount: 32,
  /** Whole request, headers included, must arrive within this. */
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  /** An idle socket is closed after this. */
  socketTimeoutMs: 10_000,
} as const;

export function createStandaloneSolver(opts: StandaloneSolverOptions): ChallengeSolver & { close(): Promise<void> } {
  const { port, preflight } = opts;
  const where = `${opts.address === undefined ? '*' : isIP(opts.address) === 6 ? `[${opts.address}]` : opts.address}:${port}`;
  const tokens = new Map<string, string>();
  const sockets = new Set<Socket>();
  let server: http.Server | undefined;
  // start/stop run one at a time, in call order, so a cleanup racing a present never leaves the
  // server closed while a token is presented (or open with none).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // No keep-alive: a CA makes one request per connection, and closing bounds what we hold.
    res.setHeader('Connection', 'close');
    const url = req.url ?? '';
    const token = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
    const keyAuthorization = req.method === 'GET' && TOKEN_PATTERN.test(token) ? tokens.get(token) : undefined;
    if (keyAuthorization === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(keyAuthorization) });
    res.end(keyAuthorization);
  };

  const start = (task: ChallengeTask): Promise<void> =>
    new Promise((resolve, reject) => {
      const srv = http.createServer(
        { maxHeaderSize: STANDALONE_LIMITS.maxHeaderSize, requestTimeout: STANDALONE_LIMITS.requestTimeoutMs, headersTimeout: STANDALONE_LIMITS.headersTimeoutMs },
        handle,
      );
      srv.maxHeadersCount = STANDALONE_LIMITS.maxHeadersCount;
      srv.headersTimeout = STANDALONE_LIMITS.headersTimeoutMs;
      srv.requestTimeout = STANDALONE_LIMITS.requestTimeoutMs;
      srv.keepAliveTimeout = 1000;
      srv.setTimeout(STANDALONE_LIMITS.socketTimeoutMs, (sock: Socket) => sock.destroy());
      srv.on('connection', (sock: Socket) => {
        sockets.add(sock);
        sock.once('close', () => sockets.delete(sock));
      });
      // A malformed request: answer 400 if the socket still can, then drop it.
      srv.on('clientError', (_err, sock: Socket) => {
        if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        sock.destroy();
      });
      const onListenError = (err: NodeJS.ErrnoException): void => {
        srv.close();
        reject(listenError(task, where, err));
      };
      srv.once('error', onListenError);
      const listenOpts = opts.address === undefined ? { port, exclusive: true } : { host: opts.address, port, exclusive: true };
      srv.listen(listenOpts, () => {
        srv.off('error', onListenError);
        // Later errors of a listening server (none expected) must not crash the process.
        srv.on('error', (err) => process.emitWarning(`${WHO} server on ${where}: ${errorMessage(err)}`));
        server = srv;
        resolve();
      });
    });

  const stop = (): Promise<void> => {
    const srv = server;
    server = undefined;
    if (!srv) return Promise.resolve();
    return new Promise((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
      for (const sock of sockets) sock.destroy();
      sockets.clear();
    });
  };

  return {
    type: 'http-01',
    describe: `${WHO} on ${where}`,
    present(task, signal) {
      return serial(async () => {
        assertValidToken(task, WHO);
        signal?.throwIfAborted();
        tokens.set(task.token, task.keyAuthorization);
        if (server) return;
        try {
          await start(task);
        } catch (err) {
          tokens.delete(task.token);
          throw err;
        }
      });
    },
    async preflight(task: ChallengeTask, signal?: AbortSignal) {
      await preflightHttp01(task, preflight, signal);
    },
    cleanup(task) {
      return serial(async () => {
        tokens.delete(task.token);
        if (tokens.size === 0) await stop();
      });
    },
    close() {
      return serial(async () => {
        tokens.clear();
        await stop();
      });
    },
  };
}

function listenError(task: ChallengeTask, where: string, err: NodeJS.ErrnoException): AcmeError {
  const pre = `domain "${task.domain}": ${WHO}: cannot listen on ${where}`;
  const details = { domain: task.domain };
  switch (err.code) {
    case 'EADDRINUSE':
      return new AcmeError('challenge', `${pre}: the address is already in use: something else listens there (a web server such as nginx?)`, details, {
        cause: err,
        hint: 'when a web server already runs on this port, use acme.challenge.webroot instead of standalone (or stop the web server during renewal)',
      });
    case 'EACCES':
      return new AcmeError('challenge', `${pre}: permission denied for uid ${process.getuid?.() ?? '?'} (ports below 1024 need root or CAP_NET_BIND_SERVICE)`, details, {
        cause: err,
        hint: 'run certs with CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE) or use acme.challenge.webroot',
      });
    case 'EADDRNOTAVAIL':
      return new AcmeError('challenge', `${pre}: the address is not one of this host's addresses (EADDRNOTAVAIL)`, details, { cause: err, hint: 'check acme.challenge.standalone.address' });
    default:
      return new AcmeError('challenge', `${pre}: ${errorMessage(err)}${err.code ? ` (${err.code})` : ''}`, details, { cause: err });
  }
}
