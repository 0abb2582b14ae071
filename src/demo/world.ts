/**
 * The demo world of `certs demo` (issue 13): real TLS servers started in this process on
 * 127.0.0.1, each on a free port and each serving one planted situation, so that the real scan
 * and analysis find exactly what they would find on a real network:
 *
 *   www.demo.test        healthy: full chain, right name, 80 days left
 *   expiring.demo.test   expires in 12 days (a 90-day certificate, so the 30/7-day thresholds apply unscaled)
 *   chain.demo.test      incomplete chain: the leaf without its intermediate
 *   mismatch.demo.test   hostname mismatch: a certificate for other.demo.test
 *   renewed.demo.test    renewed but not reloaded: serves the old certificate; the new one is only
 *                        reported (`renewed`) for the caller to record as issued (a managed domain)
 *   mail.demo.test       an ESMTP server that upgrades with STARTTLS (healthy certificate)
 *   down.demo.test       unreachable: a port that was free a moment ago and nothing listens on
 *
 * Names are under .test (RFC 6761: never resolves on the real network); the inventory dials them
 * at 127.0.0.1 (`host:port@address`), and SNI and the hostname check still use the name. Nothing
 * here leaves loopback.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, TLSSocket, type SecureContext } from 'node:tls';
import { createDemoPki, type DemoCert } from './pki.js';

export const DEMO_ADDRESS = '127.0.0.1';

/** One planted situation and where it answers. */
export interface DemoSite {
  /** The domain as the inventory names it; also the endpoint's host (SNI, hostname check). */
  domain: string;
  port: number;
  /** `smtp`: plaintext ESMTP, then STARTTLS. Absent: TLS from the first byte. */
  protocol?: 'smtp';
  /** A managed domain (certs renews it); the others are monitor-only. */
  managed: boolean;
  /** What was planted, in words, for the demo's output. */
  planted: string;
  /** The problem code the scan must report for it; null: none (a healthy site). */
  expect: string | null;
}

/** The certificate issued for a managed domain that its server never loaded. */
export interface RenewedVersion {
  domain: string;
  cert: DemoCert;
  issuer: string;
}

export interface DemoWorld {
  sites: DemoSite[];
  /** The demo root, PEM: the only trust anchor the demo's scan gets. */
  rootPem: string;
  renewed: RenewedVersion;
  /** Closes every server and connection; resolves once all are closed. */
  stop(): Promise<void>;
}

type Listener = NetServer;

/** Tracks every socket so stop() does not wait for a client that keeps its connection open. */
class Servers {
  private readonly servers: Listener[] = [];
  private readonly sockets = new Set<Socket>();

  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  async listen(server: Listener): Promise<number> {
    this.servers.push(server);
    server.on('connection', (s: Socket) => this.track(s));
    return listenLoopback(server);
  }

  async stop(): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())));
    for (const s of this.sockets) s.destroy();
    await Promise.all(closed);
  }
}

function listenLoopback(server: Listener): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, DEMO_ADDRESS, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A port that was free when asked: bound, then released. Nothing of ours listens on it afterwards. */
async function freePort(): Promise<number> {
  const s = createNetServer();
  const port = await listenLoopback(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A TLS server sending `chain` (leaf first). A client that hangs up mid-handshake (the scanner
 * does, once it has the chain) is no error worth a word: tlsClientError is consumed.
 */
function tlsServer(leaf: DemoCert, chain: DemoCert[]): Listener {
  const server = createTlsServer({ key: leaf.keyPem, cert: chain.map((c) => c.pem).join(''), minVersion: 'TLSv1.2' }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\ncerts demo: hello.\r\n');
  });
  server.on('tlsClientError', () => undefined);
  return server;
}

/** Longest command line accepted (RFC 5321 §4.5.3.1.4: 512 octets); longer input ends the session. */
const SMTP_LINE_MAX = 512;

/**
 * Just enough ESMTP for a client to read the greeting, EHLO, see STARTTLS offered, upgrade, and
 * say EHLO and QUIT over TLS. Commands pipelined after STARTTLS are discarded, not carried into
 * the TLS session (RFC 3207 §4.2 and the response-injection class of bugs).
 */
function smtpServer(name: string, context: SecureContext, track: (s: Socket) => void): Listener {
  return createNetServer((socket) => {
    socket.on('error', () => socket.destroy());
    session(socket, false);

    function session(stream: Socket | TLSSocket, secure: boolean): void {
      let buffered = '';
      const reply = (text: string): void => void stream.write(`${text}\r\n`);
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString('latin1');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, nl).replace(/\r$/, '');
          buffered = buffered.slice(nl + 1);
          const verb = (line.split(' ')[0] ?? '').toUpperCase();
          if (verb === 'EHLO') {
            reply(`250-${name} greets you`);
            if (!secure) reply('250-STARTTLS');
            reply('250 8BITMIME');
          } else if (verb === 'HELO') {
            reply(`250 ${name}`);
          } else if (verb === 'STARTTLS' && !secure) {
            stream.off('data', onData);
            reply('220 2.0.0 Ready to start TLS');
            const upgraded = new TLSSocket(stream as Socket, { isServer: true, secureContext: context });
            upgraded.on('error', () => upgraded.destroy());
            track(upgraded as unknown as Socket);
            session(upgraded, true);
            return;
          } else if (verb === 'QUIT') {
            reply('221 2.0.0 Bye');
            stream.end();
            return;
          } else if (verb === 'NOOP' || verb === 'RSET') {
            reply('250 2.0.0 OK');
          } else {
            reply('502 5.5.1 Not implemented: this is the certs demo');
          }
        }
        if (buffered.length > SMTP_LINE_MAX) stream.destroy();
      };
      stream.on('data', onData);
      if (!secure) reply(`220 ${name} ESMTP certs demo`);
    }
  });
}

/**
 * Makes the PKI and starts every server. Dates are relative to `now`; whole days plus an hour,
 * so that "12 days" still reads 12 after the seconds the scan takes.
 */
export async function startDemoWorld(now: Date): Promise<DemoWorld> {
  const pki = await createDemoPki(now);
  const H = 1 / 24;
  const full = (leaf: DemoCert): DemoCert[] => [leaf, pki.intermediate];
  const [healthy, expiring, chainless, mismatch, oldServed, newIssued, mail] = await Promise.all([
    pki.leaf({ dns: ['www.demo.test', 'demo.test'], fromDays: -10, toDays: 80 + H }),
    pki.leaf({ dns: ['expiring.demo.test'], fromDays: -78, toDays: 12 + H }),
    pki.leaf({ dns: ['chain.demo.test'], fromDays: -20, toDays: 70 + H }),
    pki.leaf({ dns: ['other.demo.test'], fromDays: -5, toDays: 85 + H }),
    // Renewed yesterday (the new one), served still: the one from 45 days ago.
    pki.leaf({ dns: ['renewed.demo.test'], fromDays: -45, toDays: 45 + H }),
    pki.leaf({ dns: ['renewed.demo.test'], fromDays: -1, toDays: 89 + H }),
    pki.leaf({ dns: ['mail.demo.test'], fromDays: -30, toDays: 60 + H }),
  ]);
  const servers = new Servers();
  try {
    const site = async (domain: string, server: Listener, rest: Omit<DemoSite, 'domain' | 'port'>): Promise<DemoSite> => ({ domain, port: await servers.listen(server), ...rest });
    const mailContext = createSecureContext({ key: mail.keyPem, cert: full(mail).map((c) => c.pem).join('') });
    const sites: DemoSite[] = [
      await site('www.demo.test', tlsServer(healthy, full(healthy)), { managed: false, planted: 'a healthy site', expect: null }),
      await site('expiring.demo.test', tlsServer(expiring, full(expiring)), { managed: false, planted: 'expires in 12 days', expect: 'expiring-soon' }),
      await site('chain.demo.test', tlsServer(chainless, [chainless]), { managed: false, planted: 'serves its certificate without the intermediate', expect: 'incomplete-chain' }),
      await site('mismatch.demo.test', tlsServer(mismatch, full(mismatch)), { managed: false, planted: 'serves a certificate for another name', expect: 'hostname-mismatch' }),
      await site('renewed.demo.test', tlsServer(oldServed, full(oldServed)), { managed: true, planted: 'renewed yesterday, still serves the old certificate', expect: 'stale-deployment' }),
      await site('mail.demo.test', smtpServer('mail.demo.test', mailContext, (s) => servers.track(s)), { protocol: 'smtp', managed: false, planted: 'a mail server upgrading with STARTTLS', expect: null }),
      { domain: 'down.demo.test', port: await freePort(), managed: false, planted: 'nothing listens on its port', expect: 'unreachable' },
    ];
    return {
      sites,
      rootPem: pki.root.pem,
      renewed: { domain: 'renewed.demo.test', cert: newIssued, issuer: pki.intermediate.subject },
      stop: () => servers.stop(),
    };
  } catch (err) {
    await servers.stop();
    throw err;
  }
}
