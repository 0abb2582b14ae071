// The email channel against a real SMTP server process on loopback (test/helpers/smtp-server.ts),
// which records what it receives. No fixed sleeps; every server process is stopped in finally.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EmailConfig } from '../../src/config/types.js';
import { NotifyError } from '../../src/core/errors.js';
import { createEmailChannel, messageIdForKey, sendTestEmail } from '../../src/notify/email.js';
import type { OutboxMessage } from '../../src/notify/types.js';
import { createCA, createLeaf, type Issued } from '../helpers/pki.js';
import { startSilentPeer } from '../helpers/peers.js';
import { startSmtpServer, type SmtpServerHandle, type SmtpServerOptions } from '../helpers/smtp-server.js';

const PASSWORD = 'correct horse battery staple';

let dir = '';
let caFile = '';
let ca: Issued;
let serverCert: Issued;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'certs-email-'));
  ca = await createCA({ cn: 'Private SMTP Test CA' });
  serverCert = await createLeaf({ dns: ['localhost'], ips: ['127.0.0.1'], issuer: ca });
  caFile = path.join(dir, 'smtp-ca.pem');
  await writeFile(caFile, ca.pem);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function tlsOpts(): NonNullable<SmtpServerOptions['tls']> {
  return { certPem: serverCert.pem, keyPem: serverCert.keyPem };
}

function config(server: { host: string; port: number }, smtp: Partial<EmailConfig['smtp']> = {}): EmailConfig {
  return {
    smtp: { host: server.host, port: server.port, secure: false, requireTLS: false, timeoutMs: 5000, ...smtp },
    from: 'certs@example.com',
    to: ['ops@example.com', 'oncall@example.com'],
  };
}

function message(overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    id: 1,
    key: 'digest:email:ops@example.com:2026-11-25T03:17:00.000Z',
    channel: 'email',
    to: ['ops@example.com', 'oncall@example.com'],
    subject: '[certs] 2 certificates need attention',
    text: 'example.com expires in 5 days\n',
    html: '<p>example.com expires in 5 days</p>',
    payload: null,
    createdAt: '2026-11-25T03:17:00.000Z',
    ...overrides,
  };
}

async function withServer(opts: SmtpServerOptions, fn: (s: SmtpServerHandle) => Promise<void>): Promise<void> {
  const server = await startSmtpServer(opts);
  try {
    await fn(server);
  } finally {
    await server.dispose();
  }
}

async function deliverError(cfg: EmailConfig, msg: OutboxMessage = message()): Promise<NotifyError> {
  try {
    await createEmailChannel(cfg).deliver(msg);
  } catch (err) {
    assert.ok(err instanceof NotifyError, `expected NotifyError, got ${String(err)}`);
    return err;
  }
  assert.fail('delivery was expected to fail');
}

describe('email channel (real SMTP server process)', () => {
  it('delivers text and html parts with a stable Message-ID and the X-Certs-Key header', async () => {
    await withServer({}, async (server) => {
      const channel = createEmailChannel(config(server));
      const msg = message();
      const receipt = await channel.deliver(msg);
      assert.match(receipt.response, /^250 /);
      await channel.deliver(msg); // a retry of the same outbox message

      const got = await server.messages();
      assert.equal(got.length, 2);
      const [first, second] = got;
      assert.ok(first && second);
      assert.equal(first.from, 'certs@example.com');
      assert.deepEqual(first.to, ['ops@example.com', 'oncall@example.com']);
      assert.equal(first.subject, msg.subject);
      assert.equal(first.hasText, true);
      assert.equal(first.hasHtml, true);
      assert.equal(first.secure, false);
      assert.equal(first.headers['message-id'], messageIdForKey(msg.key));
      assert.match(first.headers['message-id'] ?? '', /^<certs\.[0-9a-f]{32}@certs\.invalid>$/);
      assert.equal(second.headers['message-id'], first.headers['message-id']);
      assert.equal(first.headers['x-certs-key'], msg.key);
      assert.match(first.headers['to'] ?? '', /ops@example\.com.*oncall@example\.com/);
      assert.match(first.raw, /example\.com expires in 5 days/);
    });
  });

  it('sends a text-only message when there is no html', async () => {
    await withServer({}, async (server) => {
      await createEmailChannel(config(server)).deliver(message({ html: null, key: 'k2' }));
      const [m] = await server.messages();
      assert.ok(m);
      assert.equal(m.hasText, true);
      assert.equal(m.hasHtml, false);
    });
  });

  it('STARTTLS with requireTLS against a server whose certificate comes from a private CA (caFile)', async () => {
    await withServer({ tls: tlsOpts() }, async (server) => {
      const receipt = await createEmailChannel(config(server, { requireTLS: true, caFile })).deliver(message());
      assert.match(receipt.response, /^250 /);
      const [m] = await server.messages();
      assert.ok(m);
      assert.equal(m.secure, true);
    });
  });

  it('a client that trusts nothing extra refuses the private-CA server: smtp-tls', async () => {
    await withServer({ tls: tlsOpts() }, async (server) => {
      const err = await deliverError(config(server, { requireTLS: true }));
      assert.equal(err.code, 'smtp-tls');
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
      assert.deepEqual(await server.messages(), []);
    });
    await withServer({ tls: tlsOpts(), secure: true }, async (server) => {
      const err = await deliverError(config(server, { secure: true }));
      assert.equal(err.code, 'smtp-tls');
      assert.equal(err.retryable, true);
    });
  });

  it('requireTLS against a server without STARTTLS: smtp-tls, not retryable (a configuration mismatch)', async () => {
    await withServer({}, async (server) => {
      const err = await deliverError(config(server, { requireTLS: true }));
      assert.equal(err.code, 'smtp-tls');
      assert.equal(err.retryable, false);
      assert.match(err.message, /STARTTLS/);
      assert.deepEqual(await server.messages(), [], 'nothing may be sent in clear');
    });
  });

  it('implicit TLS (secure: true)', async () => {
    await withServer({ tls: tlsOpts(), secure: true }, async (server) => {
      const receipt = await createEmailChannel(config(server, { secure: true, requireTLS: true, caFile })).deliver(message());
      assert.match(receipt.response, /^250 /);
      const [m] = await server.messages();
      assert.ok(m);
      assert.equal(m.secure, true);
    });
  });

  it('authenticates with user and password', async () => {
    await withServer({ tls: tlsOpts(), auth: { user: 'certs', pass: PASSWORD } }, async (server) => {
      await createEmailChannel(config(server, { requireTLS: true, caFile, user: 'certs', pass: PASSWORD })).deliver(message());
      const [m] = await server.messages();
      assert.ok(m);
      assert.equal(m.user, 'certs');
    });
  });

  it('a refused login is smtp-auth, not retryable, names server and user but never the password', async () => {
    await withServer({ tls: tlsOpts(), auth: { user: 'certs', pass: 'the real one' } }, async (server) => {
      const err = await deliverError(config(server, { requireTLS: true, caFile, user: 'certs', pass: PASSWORD }));
      assert.equal(err.code, 'smtp-auth');
      assert.equal(err.retryable, false);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
      assert.match(err.message, /"certs"/);
      assert.match(err.message, /535/);
      assert.match(err.message, /Authentication credentials invalid/);
      assert.ok(!err.message.includes(PASSWORD));
      assert.deepEqual(await server.messages(), []);
    });
  });

  it('server down for three runs (connection refused, retryable), then back on the same port', async () => {
    await withServer({}, async (server) => {
      const cfg = config(server);
      await server.stop();
      for (let run = 1; run <= 3; run++) {
        const err = await deliverError(cfg, message({ key: `down-${run}` }));
        assert.equal(err.code, 'smtp-unreachable');
        assert.equal(err.retryable, true);
        assert.match(err.message, /refused the connection/);
      }
      await server.restart();
      const receipt = await createEmailChannel(cfg).deliver(message({ key: 'back' }));
      assert.match(receipt.response, /^250 /);
      const got = await server.messages();
      assert.deepEqual(got.map((m) => m.headers['x-certs-key']), ['back']);
    });
  });

  it('a server that never answers: smtp-unreachable after timeoutMs, retryable', async () => {
    const peer = await startSilentPeer();
    try {
      const err = await deliverError(config({ host: '127.0.0.1', port: peer.port }, { timeoutMs: 300 }));
      assert.equal(err.code, 'smtp-unreachable');
      assert.equal(err.retryable, true);
    } finally {
      await peer.close();
    }
  });

  it('the connection drops in the middle of DATA: retryable', async () => {
    await withServer({ mode: 'drop-in-data' }, async (server) => {
      const err = await deliverError(config(server));
      assert.equal(err.code, 'smtp-unreachable');
      assert.equal(err.retryable, true);
      assert.deepEqual(await server.messages(), []);
      await server.setMode('normal');
      await createEmailChannel(config(server)).deliver(message());
      assert.equal((await server.messages()).length, 1);
    });
  });

  it('4xx is retryable, 5xx is not; both keep the server\'s words', async () => {
    await withServer({ mode: 'reject-4xx' }, async (server) => {
      const temp = await deliverError(config(server));
      assert.equal(temp.code, 'smtp-rejected');
      assert.equal(temp.retryable, true);
      assert.match(temp.message, /451 4\.3\.0 Mailbox temporarily unavailable, try again later/);

      await server.setMode('reject-5xx');
      const perm = await deliverError(config(server));
      assert.equal(perm.code, 'smtp-rejected');
      assert.equal(perm.retryable, false);
      assert.match(perm.message, /554 5\.7\.1 Message rejected by policy/);
      assert.deepEqual(await server.messages(), []);
    });
  });

  it('sendTestEmail sends "[certs] test message" to the configured recipients', async () => {
    await withServer({ tls: tlsOpts() }, async (server) => {
      const now = new Date('2026-11-25T03:17:00.000Z');
      const receipt = await sendTestEmail(config(server, { requireTLS: true, caFile }), now);
      assert.match(receipt.response, /^250 /);
      const [m] = await server.messages();
      assert.ok(m);
      assert.equal(m.subject, '[certs] test message');
      assert.deepEqual(m.to, ['ops@example.com', 'oncall@example.com']);
      assert.equal(m.hasText, true);
      assert.match(m.raw, /test message from certs on /);
      assert.match(m.raw, /2026-11-25T03:17:00\.000Z/);
    });
  });

  it('an unreadable CA file is a configuration error, not retryable', async () => {
    const err = await deliverError(config({ host: '127.0.0.1', port: 1 }, { caFile: path.join(dir, 'missing.pem') }));
    assert.equal(err.code, 'smtp-config');
    assert.equal(err.retryable, false);
  });
});
