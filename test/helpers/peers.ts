// Misbehaving and plain peers on 127.0.0.1 ephemeral ports, for scan and ACME tests.
// Every close() destroys the sockets it accepted, so no test waits on a half-open connection
// and `node --test` exits without lingering handles. Call close() in finally / t.after.
import http from 'node:http';
import net from 'node:net';

export interface Peer {
  host: string;
  port: number;
  /** Sockets accepted so far (including closed ones). */
  accepted(): number;
  close(): Promise<void>;
}

export interface HttpPeer extends Peer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Requests served so far, as "METHOD /path". */
  requests: string[];
}

const HOST = '127.0.0.1';

/**
 * A plain HTTP server (no TLS). Default handler: 200 "ok\n". Useful as the "server speaks HTTP on
 * a TLS port" case, for AIA caIssuers URLs, and for ACME http-01 webroot checks.
 */
export async function startPlainHttp(handler?: http.RequestListener): Promise<HttpPeer> {
  const requests: string[] = [];
  let accepted = 0;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method ?? '?'} ${req.url ?? ''}`);
    if (handler) {
      handler(req, res);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  });
  server.on('connection', () => accepted++);
  const port = await listen(server);
  return {
    host: HOST,
    port,
    url: `http://${HOST}:${port}`,
    requests,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // close() alone would wait for keep-alive connections to time out.
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Accepts connections and never sends a byte: the client's handshake timeout must fire. */
export function startSilentPeer(): Promise<Peer> {
  return startRawPeer(() => {});
}

export interface GarbagePeerOptions {
  /** End the connection after writing (default true); false keeps it open and silent. */
  end?: boolean;
}

/** Writes `bytes` as soon as a client connects, whatever the client sends. */
export function startGarbagePeer(bytes: Buffer, opts: GarbagePeerOptions = {}): Promise<Peer> {
  const end = opts.end ?? true;
  return startRawPeer((sock) => {
    if (end) sock.end(bytes);
    else sock.write(bytes);
  });
}

async function startRawPeer(onSocket: (sock: net.Socket) => void): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((sock) => {
    accepted++;
    sockets.add(sock);
    // Clients under test reset connections on timeout; that is expected, not a test failure.
    sock.on('error', () => sock.destroy());
    sock.on('close', () => sockets.delete(sock));
    onSocket(sock);
  });
  const port = await listen(server);
  return {
    host: HOST,
    port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const s of sockets) s.destroy();
      }),
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0 }, () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') reject(new Error(`unexpected listen address ${String(addr)}`));
      else resolve(addr.port);
    });
  });
}
