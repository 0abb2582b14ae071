// Child process behind test/helpers/smtp-server.ts: a real SMTP server (smtp-server) on loopback.
//
//   node test/helpers/smtp-server-main.mjs '<json config>'
//
// Config: { port, recordFile, mode, tls?: { certPem, keyPem }, secure?: boolean, auth?: { user, pass } }.
// Prints "listening <port>" on stdout once bound. Every accepted message is appended to recordFile
// as one JSON line { from, to, raw, secure, user, at } BEFORE the 250 reply goes out, so a client that saw the
// reply can read the record at once. The parent changes the mode over IPC ({ type: 'mode', mode })
// and gets { type: 'mode-ack', mode } back. Exits when the parent goes away.
import { appendFileSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';

const config = JSON.parse(process.argv[2] ?? '{}');
let mode = config.mode ?? 'normal';

function smtpError(code, text) {
  const err = new Error(text);
  err.responseCode = code;
  return err;
}

const server = new SMTPServer({
  logger: false,
  secure: Boolean(config.secure),
  ...(config.tls ? { key: config.tls.keyPem, cert: config.tls.certPem } : {}),
  disabledCommands: [...(config.tls ? [] : ['STARTTLS']), ...(config.auth ? [] : ['AUTH'])],
  hideSTARTTLS: !config.tls,
  authOptional: !config.auth,
  allowInsecureAuth: true,
  authMethods: ['PLAIN', 'LOGIN'],
  onAuth(auth, _session, callback) {
    if (config.auth && auth.username === config.auth.user && auth.password === config.auth.pass) {
      callback(null, { user: auth.username });
      return;
    }
    callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
  },
  onData(stream, session, callback) {
    const current = mode;
    const chunks = [];
    let dropped = false;
    stream.on('data', (chunk) => {
      chunks.push(chunk);
      if (current === 'drop-in-data' && !dropped) {
        dropped = true;
        // Part of DATA arrived; vanish before any reply, as a crashing server would.
        for (const conn of server.connections) {
          if (conn.session?.id === session.id) conn._socket.destroy();
        }
      }
    });
    stream.on('end', () => {
      if (dropped) return;
      if (current === 'reject-4xx') {
        callback(smtpError(451, '4.3.0 Mailbox temporarily unavailable, try again later'));
        return;
      }
      if (current === 'reject-5xx') {
        callback(smtpError(554, '5.7.1 Message rejected by policy'));
        return;
      }
      const record = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((r) => r.address),
        raw: Buffer.concat(chunks).toString('utf8'),
        secure: Boolean(session.secure),
        user: session.user ?? null,
        at: new Date().toISOString(),
      };
      appendFileSync(config.recordFile, JSON.stringify(record) + '\n');
      callback(null, 'Ok: queued as ' + session.id);
    });
    stream.on('error', () => {});
  },
});

server.on('error', (err) => {
  // Errors of single client sessions (e.g. a failed TLS handshake) are expected in tests.
  if (!server.server.listening) {
    process.stderr.write(`smtp-server-main: cannot listen on 127.0.0.1:${config.port}: ${err.code ?? ''} ${err.message}\n`);
    process.exit(err.code === 'EADDRINUSE' ? 3 : 2);
  }
});

process.on('message', (msg) => {
  if (msg && msg.type === 'mode') {
    mode = msg.mode;
    process.send?.({ type: 'mode-ack', mode });
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

server.listen(config.port, '127.0.0.1', () => {
  const addr = server.server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : config.port}\n`);
});
