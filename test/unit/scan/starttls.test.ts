// The plaintext upgrade before the TLS handshake (issue 12 §2), against one scripted TCP peer on
// loopback: each test sets the script the next connection runs; a script that agrees to the
// upgrade then starts a real node:tls server on the same socket, serving leaf + intermediate, so
// the probe's raw-record capture must read the served chain after the plaintext exchange. The
// real Postfix, Dovecot and PostgreSQL are in test/integration/starttls.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { createCA, createLeaf, pemBundle, type Issued } from '../../helpers/pki.js';
import { createProbeContext, probe, type ProbeOptions, type TlsProbeResult } from '../../../src/scan/tls-probe.js';
import { ldapStartTlsRequest, parseLdapExtendedResponse, said } from '../../../src/scan/starttls.js';
import type { EndpointProtocol } from '../../../src/core/model.js';

/** Reads what the client sends, one chunk at a time (the client waits for each answer). */
class Peer {
  readonly sock: net.Socket;
  private readonly chunks: Buffer[] = [];
  private waiting: (() => void) | null = null;
  constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', this.onData);
    sock.on('close', () => this.waiting?.());
  }
  private readonly onData = (d: Buffer): void => {
    this.chunks.push(d);
    const w = this.waiting;
    this.waiting = null;
    w?.();
  };
  async read(): Promise<string> {
    while (this.chunks.length === 0) {
      if (this.sock.destroyed) throw new Error('client went away');
      await new Promise<void>((r) => (this.waiting = r));
    }
    return this.chunks.shift()!.toString('latin1');
  }
  send(s: string | Buffer): void {
    this.sock.write(s);
  }
  /** Agree: from here on the socket speaks TLS as a server. */
  tls(context = serverContext): void {
    this.sock.off('data', this.onData);
    const t = new tls.TLSSocket(this.sock, { isServer: true, secureContext: context });
    t.on('error', () => t.destroy());
  }
}

type Script = (p: Peer) => Promise<void>;

let serverContext: tls.SecureContext;
let root: Issued;
let inter: Issued;
let leaf: Issued;
let port: number;
let script: Script = async () => {};
const sockets = new Set<net.Socket>();
let server: net.Server;
let opts: ProbeOptions;

before(async () => {
  root = await createCA({ cn: 'STARTTLS Test Root' });
  inter = await createCA({ cn: 'STARTTLS Test Intermediate', issuer: root });
  leaf = await createLeaf({ dns: ['mail.test'], issuer: inter });
  serverContext = tls.createSecureContext({ key: leaf.keyPem, cert: pemBundle(leaf, inter) });
  server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    const peer = new Peer(sock);
    script(peer).catch(() => sock.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
  opts = { secureContext: createProbeContext({ ca: [root.pem] }), timeoutMs: 3000 };
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

function scan(protocol: EndpointProtocol, extra: Partial<ProbeOptions> = {}): Promise<TlsProbeResult> {
  return probe({ host: 'mail.test', address: '127.0.0.1', port, protocol }, { ...opts, ...extra });
}

function assertServedChain(r: TlsProbeResult): void {
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.orderKnown, true, 'the chain comes from the raw Certificate message');
  assert.deepEqual(r.chain.map((d) => d.toString('base64')), [leaf.der, inter.der].map((d) => d.toString('base64')));
  assert.equal(r.opensslError, null);
}

function assertFailed(r: TlsProbeResult, code: string, message: RegExp): void {
  assert.equal(r.error?.code, code, r.error?.message);
  assert.match(r.error!.message, message);
  assert.deepEqual(r.chain, []);
}

describe('SMTP', () => {
  it('multi-line greeting, EHLO, 250-STARTTLS, STARTTLS → 220, then the served chain', async () => {
    const seen: string[] = [];
    script = async (p) => {
      p.send('220-mail.test ESMTP\r\n220 second greeting line\r\n');
      seen.push(await p.read());
      p.send('250-mail.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n');
      seen.push(await p.read());
      p.send('220 2.0.0 Ready to start TLS\r\n');
      p.tls();
    };
    assertServedChain(await scan('smtp'));
    assert.deepEqual(seen, ['EHLO certs-scanner.invalid\r\n', 'STARTTLS\r\n']);
  });

  it('a TLS 1.3-only server: the refused TLS 1.2 attempt is retried with a new upgrade, and the 1.3 flight is decrypted', async () => {
    const tls13 = tls.createSecureContext({ key: leaf.keyPem, cert: pemBundle(leaf, inter), minVersion: 'TLSv1.3' });
    let upgrades = 0;
    script = async (p) => {
      p.send('220 mail.test ESMTP\r\n');
      await p.read();
      p.send('250-mail.test\r\n250 STARTTLS\r\n');
      await p.read();
      upgrades++;
      p.send('220 go ahead\r\n');
      p.tls(tls13);
    };
    const r = await scan('smtp');
    assertServedChain(r);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(upgrades, 2, 'one upgrade per attempt');
  });

  it('no STARTTLS among the extensions: handshake-failed naming what the server said', async () => {
    script = async (p) => {
      p.send('220 plain.test ESMTP\r\n');
      await p.read();
      p.send('250-plain.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n');
      await p.read().catch(() => '');
    };
    const r = await scan('smtp');
    assertFailed(r, 'handshake-failed', /^smtp: the server did not offer STARTTLS; it said: "250-plain\.test \| 250-PIPELINING \| 250 SIZE 1000"$/);
  });

  it('a 554 greeting is a refusal, control characters shown as "?"', async () => {
    script = async (p) => {
      p.send('554 go away\x1b[31m\r\n');
    };
    assertFailed(await scan('smtp'), 'handshake-failed', /the SMTP server refused the session: "554 go away\?\[31m"/);
  });

  it('bytes sent after the 220 go-ahead are refused, not handed to TLS', async () => {
    script = async (p) => {
      p.send('220 x\r\n');
      await p.read();
      p.send('250-x\r\n250 STARTTLS\r\n');
      await p.read();
      p.send('220 go ahead\r\n250 injected\r\n');
    };
    assertFailed(await scan('smtp'), 'handshake-failed', /sent 14 bytes after accepting STARTTLS, before the TLS handshake \("250 injected"\)/);
  });

  it('a server sending megabytes of greeting is cut off at the size budget', async () => {
    script = async (p) => {
      const junk = Buffer.alloc(64 * 1024, 'a');
      // Until the client hangs up: write() callbacks pace the sender.
      while (!p.sock.destroyed) await new Promise<void>((r) => p.sock.write(junk, () => r()));
    };
    assertFailed(await scan('smtp', { maxCertBytes: 256 * 1024 }), 'handshake-failed', /more than 262144 bytes before the TLS handshake \(before sending a complete greeting\); cut off/);
  });

  it('a silent server: timeout within the handshake budget, saying no greeting came', async () => {
    script = async () => {};
    const r = await scan('smtp', { timeoutMs: 300 });
    assertFailed(r, 'timeout', /^smtp: no TLS upgrade \(STARTTLS\) within 300 ms: the server accepted the TCP connection but sent no complete greeting \(0 bytes\)$/);
  });

  it('a server that never answers the client\'s first message: the timeout names it', async () => {
    script = async (p) => {
      await p.read();
    };
    const r = await scan('postgres', { timeoutMs: 300 });
    assertFailed(r, 'timeout', /^postgres: no TLS upgrade \(SSLRequest\) within 300 ms: no complete answer to SSLRequest \(0 bytes from the server so far\)$/);
  });

  it('a server that closes after EHLO', async () => {
    script = async (p) => {
      p.send('220 x\r\n');
      await p.read();
      p.sock.end();
    };
    assertFailed(await scan('smtp'), 'handshake-failed', /the server closed the connection after EHLO/);
  });
});

describe('IMAP, POP3, FTP', () => {
  it('IMAP: CAPABILITY with STARTTLS, a2 STARTTLS → OK', async () => {
    const seen: string[] = [];
    script = async (p) => {
      p.send('* OK IMAP4rev1 ready\r\n');
      seen.push(await p.read());
      p.send('* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n');
      seen.push(await p.read());
      p.send('a2 OK Begin TLS\r\n');
      p.tls();
    };
    assertServedChain(await scan('imap'));
    assert.deepEqual(seen, ['a1 CAPABILITY\r\n', 'a2 STARTTLS\r\n']);
  });

  it('IMAP without STARTTLS', async () => {
    script = async (p) => {
      p.send('* OK ready\r\n');
      await p.read();
      p.send('* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n');
    };
    assertFailed(await scan('imap'), 'handshake-failed', /imap: the server did not offer STARTTLS; it said: "\* CAPABILITY IMAP4rev1 AUTH=PLAIN \| a1 OK done"/);
  });

  it('POP3: CAPA lists STLS, STLS → +OK', async () => {
    const seen: string[] = [];
    script = async (p) => {
      p.send('+OK POP3 ready\r\n');
      seen.push(await p.read());
      p.send('+OK\r\nUSER\r\nSTLS\r\n.\r\n');
      seen.push(await p.read());
      p.send('+OK Begin TLS\r\n');
      p.tls();
    };
    assertServedChain(await scan('pop3'));
    assert.deepEqual(seen, ['CAPA\r\n', 'STLS\r\n']);
  });

  it('POP3 whose CAPA lacks STLS', async () => {
    script = async (p) => {
      p.send('+OK POP3 ready\r\n');
      await p.read();
      p.send('+OK\r\nUSER\r\n.\r\n');
    };
    assertFailed(await scan('pop3'), 'handshake-failed', /the server did not offer STARTTLS \(STLS\); it said: "\+OK \| USER"/);
  });

  it('FTP: 220 greeting, AUTH TLS → 234', async () => {
    const seen: string[] = [];
    script = async (p) => {
      p.send('220-Welcome\r\nsome text\r\n220 ready\r\n');
      seen.push(await p.read());
      p.send('234 AUTH TLS OK\r\n');
      p.tls();
    };
    assertServedChain(await scan('ftp'));
    assert.deepEqual(seen, ['AUTH TLS\r\n']);
  });

  it('FTP refusing AUTH TLS', async () => {
    script = async (p) => {
      p.send('220 ready\r\n');
      await p.read();
      p.send('500 unknown command\r\n');
    };
    assertFailed(await scan('ftp'), 'handshake-failed', /ftp: the server did not offer STARTTLS \(AUTH TLS\); it said: "500 unknown command"/);
  });
});

/** An LDAP ExtendedResponse with messageID 1 and the given resultCode and diagnostic message. */
function ldapResponse(resultCode: number, diagnostic = '', messageId = 1): Buffer {
  const diag = Buffer.from(diagnostic);
  const op = Buffer.concat([Buffer.from([0x0a, 0x01, resultCode, 0x04, 0x00, 0x04, diag.length]), diag]);
  const body = Buffer.concat([Buffer.from([0x02, 0x01, messageId, 0x78, op.length]), op]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('LDAP, PostgreSQL, XMPP', () => {
  it('the StartTLS extended request, BER-encoded', () => {
    assert.equal(ldapStartTlsRequest().toString('hex'), `301d02010177188016${Buffer.from('1.3.6.1.4.1.1466.20037').toString('hex')}`);
    assert.deepEqual(parseLdapExtendedResponse(ldapResponse(2, 'no')), { messageId: 1, resultCode: 2, diagnostic: 'no' });
    assert.equal(parseLdapExtendedResponse(Buffer.from('3003020101', 'hex')), 'no protocol operation');
  });

  it('LDAP: resultCode 0 → TLS', async () => {
    let request = '';
    script = async (p) => {
      request = Buffer.from(await p.read(), 'latin1').toString('hex');
      p.send(ldapResponse(0));
      p.tls();
    };
    assertServedChain(await scan('ldap'));
    assert.equal(request, ldapStartTlsRequest().toString('hex'));
  });

  it('LDAP: protocolError is "did not offer", with the diagnostic message', async () => {
    script = async (p) => {
      await p.read();
      p.send(ldapResponse(2, 'unsupported extended operation'));
    };
    assertFailed(await scan('ldap'), 'handshake-failed', /ldap: the server did not offer STARTTLS \(StartTLS extended operation\); it said: resultCode 2 \(protocolError\) "unsupported extended operation"/);
  });

  it('LDAP: an announced 16 MB message is refused before it is read', async () => {
    script = async (p) => {
      await p.read();
      p.send(Buffer.from([0x30, 0x84, 0x01, 0x00, 0x00, 0x00]));
    };
    assertFailed(await scan('ldap', { maxCertBytes: 65536 }), 'handshake-failed', /announced an LDAP message of 16777216 bytes, more than the 65536 accepted/);
  });

  it('PostgreSQL: SSLRequest → S', async () => {
    let request = '';
    script = async (p) => {
      request = Buffer.from(await p.read(), 'latin1').toString('hex');
      p.send('S');
      p.tls();
    };
    assertServedChain(await scan('postgres'));
    assert.equal(request, '0000000804d2162f');
  });

  it('PostgreSQL with ssl = off answers N', async () => {
    script = async (p) => {
      await p.read();
      p.send('N');
    };
    assertFailed(await scan('postgres'), 'handshake-failed', /postgres: the server did not offer STARTTLS \(SSLRequest\); it said: "N" \(SSL is off on this server\)/);
  });

  it('XMPP: stream header, features with <starttls/>, <proceed/>', async () => {
    const seen: string[] = [];
    script = async (p) => {
      seen.push(await p.read());
      p.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' from='mail.test' version='1.0'>");
      p.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");
      seen.push(await p.read());
      p.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      p.tls();
    };
    assertServedChain(await scan('xmpp'));
    assert.match(seen[0]!, /^<\?xml version='1\.0'\?><stream:stream to='mail\.test' /);
    assert.equal(seen[1], "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  });

  it('XMPP without <starttls/> in its features', async () => {
    script = async (p) => {
      await p.read();
      p.send("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features><mechanisms/></stream:features>");
    };
    assertFailed(await scan('xmpp'), 'handshake-failed', /xmpp: the server did not offer STARTTLS \(<starttls\/>\); it said: "<stream:features><mechanisms\/><\/stream:features>"/);
  });
});

describe('said(): what the server said, for a message', () => {
  it('keeps printable ASCII, joins lines, truncates', () => {
    assert.equal(said('a\r\nb\n\u00e9\0'), '"a | b | ??"');
    assert.equal(said('x'.repeat(500)), `"${'x'.repeat(240)}…"`);
  });
});
