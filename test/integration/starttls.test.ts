// STARTTLS and other plaintext upgrades against real servers from Debian (issue 12 §2): Postfix
// (SMTP STARTTLS), Dovecot (IMAP STARTTLS and POP3 STLS) and PostgreSQL 15 (SSLRequest), each a
// private instance on loopback started and stopped here (test/helpers/mail-servers.ts,
// postgres.ts), each serving a chain staged with one known problem. All endpoints are scanned in
// one scanDomains() call from a real config file, and each must report exactly its problem, with
// the chain read from the raw Certificate message after the upgrade (orderKnown). A plain SMTP
// server without STARTTLS (node:net, below) must give the clear handshake-failed message.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { mailServersUnavailable, startDovecot, startPostfix, type Dovecot, type Postfix } from '../helpers/mail-servers.js';
import { postgresUnavailable, startPostgres, type Postgres } from '../helpers/postgres.js';
import { createCA, createLeaf, daysFrom, pemBundle, type Issued } from '../helpers/pki.js';
import { describeReport, scanEndpoints, type EndpointSpec, type ScanFixtureResult } from '../helpers/scan-fixture.js';

const unavailable = mailServersUnavailable() ?? postgresUnavailable();
// Skipped only on a machine without the servers; CI installs them, so there a missing one fails.
if (unavailable && process.env['TEST_SERVERS_REQUIRED'] === '1') throw new Error(`STARTTLS test servers are missing: ${unavailable}`);

describe('STARTTLS against Postfix, Dovecot and PostgreSQL', { skip: unavailable ?? false }, () => {
  let dir: string;
  let root: Issued;
  let inter: Issued;
  let postfix: Postfix | undefined;
  let dovecot: Dovecot | undefined;
  let postgres: Postgres | undefined;
  let plain: net.Server | undefined;
  const plainSockets = new Set<net.Socket>();
  let scan: ScanFixtureResult;

  before(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'certs-starttls-'));
    const now = new Date();
    root = await createCA({ cn: 'certs STARTTLS Root', notBefore: daysFrom(now, -400), notAfter: daysFrom(now, 3000) });
    inter = await createCA({ cn: 'certs STARTTLS Intermediate', issuer: root, notBefore: daysFrom(now, -400), notAfter: daysFrom(now, 1000) });
    // Postfix: a healthy leaf served without its intermediate.
    const mail = await createLeaf({ dns: ['mail.test'], issuer: inter, aiaIssuerUrl: 'http://ca.test/intermediate.der', notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 80) });
    // Dovecot: the full chain, but the leaf (a 90-day certificate) has 5 days left.
    const imap = await createLeaf({ dns: ['imap.test', 'pop3.test'], issuer: inter, notBefore: daysFrom(now, -85), notAfter: daysFrom(now, 5) });
    // PostgreSQL: the full chain, 10 days left.
    const db = await createLeaf({ dns: ['db.test'], issuer: inter, notBefore: daysFrom(now, -80), notAfter: daysFrom(now, 10) });

    // Started one after the other: the machine is small and each start is a few processes.
    postfix = await startPostfix({ certPem: pemBundle(mail), keyPem: mail.keyPem });
    dovecot = await startDovecot({ certPem: pemBundle(imap, inter), keyPem: imap.keyPem });
    postgres = await startPostgres({ certPem: pemBundle(db, inter), keyPem: db.keyPem });

    // An SMTP server that speaks ESMTP but offers no STARTTLS.
    plain = net.createServer((sock) => {
      plainSockets.add(sock);
      sock.on('close', () => plainSockets.delete(sock));
      sock.on('error', () => sock.destroy());
      sock.write('220 plain.test ESMTP no TLS here\r\n');
      sock.on('data', (d: Buffer) => {
        if (/^EHLO /i.test(d.toString('latin1'))) sock.write('250-plain.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else sock.end('221 bye\r\n');
      });
    });
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const plainPort = (plain.address() as net.AddressInfo).port;

    const endpoints: EndpointSpec[] = [
      { host: 'mail.test', address: '127.0.0.1', port: postfix.port, protocol: 'smtp' },
      { host: 'imap.test', address: '127.0.0.1', port: dovecot.imapPort, protocol: 'imap' },
      { host: 'pop3.test', address: '127.0.0.1', port: dovecot.pop3Port, protocol: 'pop3' },
      { host: 'db.test', address: '127.0.0.1', port: postgres.port, protocol: 'postgres' },
      { host: 'plain.test', address: '127.0.0.1', port: plainPort, protocol: 'smtp' },
      // Speaking TLS first to a STARTTLS port fails, as it must: the protocol field matters.
      { host: 'wrong.test', address: '127.0.0.1', port: postgres.port },
    ];
    scan = await scanEndpoints({ dir, anchorsPem: pemBundle(root), endpoints, scan: { timeoutMs: 10_000 } });
  });

  after(async () => {
    for (const s of plainSockets) s.destroy();
    if (plain) await new Promise<void>((r) => plain!.close(() => r()));
    await postfix?.stop();
    await dovecot?.stop();
    await postgres?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expectOnly = (host: string, codes: string[], served: number, serverLog: () => string): void => {
    const r = scan.get(host);
    assert.deepEqual(scan.codes(host), codes, `${describeReport(r)}\n${serverLog().slice(-2000)}`);
    assert.equal(r.orderKnown, true, 'the chain was read from the raw Certificate message after the upgrade');
    assert.equal(r.servedCount, served);
    assert.match(String(r.protocol), /^TLSv1\.[23]$/);
  };

  test('Postfix (SMTP STARTTLS): exactly incomplete-chain, naming the missing intermediate', () => {
    expectOnly('mail.test', ['incomplete-chain'], 1, () => postfix!.log());
    const p = scan.get('mail.test').problems[0]!;
    assert.match(p.message, /certs STARTTLS Intermediate/);
    assert.match(p.message, /http:\/\/ca\.test\/intermediate\.der/);
  });

  test('Dovecot IMAP (STARTTLS): exactly expiring-soon, 5 days left', () => {
    expectOnly('imap.test', ['expiring-soon'], 2, () => dovecot!.log());
    assert.equal(scan.get('imap.test').daysLeft, 4);
  });

  test('Dovecot POP3 (STLS): exactly expiring-soon', () => {
    expectOnly('pop3.test', ['expiring-soon'], 2, () => dovecot!.log());
  });

  test('PostgreSQL (SSLRequest): exactly expiring-soon, 10 days left', () => {
    expectOnly('db.test', ['expiring-soon'], 2, () => postgres!.log());
    assert.equal(scan.get('db.test').daysLeft, 9);
  });

  test('an SMTP server without STARTTLS: handshake-failed, "the server did not offer STARTTLS", with what it said', () => {
    const r = scan.get('plain.test');
    assert.deepEqual(scan.codes('plain.test'), ['handshake-failed'], describeReport(r));
    assert.equal(r.status, 'critical');
    assert.match(r.problems[0]!.message, /smtp: the server did not offer STARTTLS; it said: "250-plain\.test \| 250-PIPELINING \| 250 8BITMIME"/);
  });

  test('TLS spoken first to the PostgreSQL port fails (the protocol field is what makes it work)', () => {
    assert.deepEqual(scan.codes('wrong.test'), ['handshake-failed'], describeReport(scan.get('wrong.test')));
  });
});
