// A real SMTP server PROCESS on 127.0.0.1 for the email channel tests: `node smtp-server-main.mjs`
// (smtp-server) spawned as a child, ready once it prints "listening <port>" (no sleeps). It records
// every accepted message to a JSON-lines file that messages() reads back and parses.
//
//   const smtp = await startSmtpServer({ tls: { certPem, keyPem }, auth: { user, pass } });
//   try { ...send to smtp.host:smtp.port...; const [m] = await smtp.messages(); } finally { await smtp.stop(); }
//
// Modes: 'normal' (accept, 250), 'drop-in-data' (destroy the socket once part of DATA arrived,
// before any reply), 'reject-4xx' (451 after DATA), 'reject-5xx' (554 after DATA). setMode() switches
// at runtime over IPC; stop() / restart() (same port) simulate a server that is down for a while.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export type SmtpMode = 'normal' | 'drop-in-data' | 'reject-4xx' | 'reject-5xx';

export interface SmtpServerOptions {
  /** Certificate and key of the server: STARTTLS is offered (or implicit TLS with `secure`). Without it, no STARTTLS. */
  tls?: { certPem: string; keyPem: string };
  /** Implicit TLS from the first byte (needs `tls`). */
  secure?: boolean;
  /** Require AUTH with exactly these credentials; anything else gets 535. Without it, AUTH is not offered. */
  auth?: { user: string; pass: string };
  mode?: SmtpMode;
}

export interface ReceivedMessage {
  /** Envelope MAIL FROM. */
  from: string;
  /** Envelope RCPT TO, in order. */
  to: string[];
  /** The session was encrypted (implicit TLS or after STARTTLS) when the message arrived. */
  secure: boolean;
  /** The user the session authenticated as, null without AUTH. */
  user: string | null;
  /** The RFC 5322 text as received (dot-unstuffed). */
  raw: string;
  subject: string;
  /** A text/plain part (or a text/plain single-part body) is present. */
  hasText: boolean;
  /** A text/html part is present. */
  hasHtml: boolean;
  /** Top-level headers, names lower-cased, folded lines joined; the first occurrence wins. */
  headers: Record<string, string>;
}

export interface SmtpServerHandle {
  host: string;
  port: number;
  messages(): Promise<ReceivedMessage[]>;
  setMode(mode: SmtpMode): Promise<void>;
  /** Kills the process and waits for its exit; idempotent. The port then refuses connections. */
  stop(): Promise<void>;
  /** Starts a fresh process on the same port (after stop(), or stops the running one first). Records are kept. */
  restart(): Promise<void>;
  /** Stops and removes the record directory. */
  dispose(): Promise<void>;
}

const HOST = '127.0.0.1';
const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'smtp-server-main.mjs');
const READY_TIMEOUT_MS = 15_000;

interface ChildConfig {
  port: number;
  recordFile: string;
  mode: SmtpMode;
  tls?: { certPem: string; keyPem: string };
  secure?: boolean;
  auth?: { user: string; pass: string };
}

class PortInUse extends Error {}

function spawnChild(config: ChildConfig): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(child);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`smtp-server child did not print "listening" within ${READY_TIMEOUT_MS} ms; stderr: ${stderr}`)),
      READY_TIMEOUT_MS,
    );
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      if (/^listening \d+$/m.test(stdout)) finish();
    });
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (err) => finish(err));
    child.once('exit', (code, signal) => {
      const why = `smtp-server child exited (${code ?? signal}) before listening: ${stderr.trim()}`;
      finish(code === 3 ? new PortInUse(why) : new Error(why));
    });
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function startSmtpServer(opts: SmtpServerOptions = {}): Promise<SmtpServerHandle> {
  if (opts.secure && !opts.tls) throw new Error('startSmtpServer: secure needs tls');
  const dir = await mkdtemp(path.join(tmpdir(), 'certs-smtp-'));
  const recordFile = path.join(dir, 'messages.jsonl');
  let mode: SmtpMode = opts.mode ?? 'normal';
  const configFor = (port: number): ChildConfig => ({
    port, recordFile, mode, tls: opts.tls, secure: opts.secure, auth: opts.auth,
  });

  let child: ChildProcess | null = null;
  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort(HOST);
      try {
        child = await spawnChild(configFor(port));
        break;
      } catch (err) {
        if (!(err instanceof PortInUse) || attempt >= 5) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const handle: SmtpServerHandle = {
    host: HOST,
    port,
    async messages() {
      let text: string;
      try {
        text = await readFile(recordFile, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      return text.split('\n').filter((l) => l.trim() !== '').map((line) => {
        const rec = JSON.parse(line) as RawRecord;
        return parseRecord(rec);
      });
    },
    async setMode(next) {
      mode = next;
      const c = child;
      if (c === null || !c.connected) return; // takes effect at the next restart()
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: unknown): void => {
          if ((m as { type?: string }).type === 'mode-ack') {
            c.off('message', onMessage);
            c.off('exit', onExit);
            resolve();
          }
        };
        const onExit = (): void => {
          c.off('message', onMessage);
          reject(new Error('smtp-server child exited before acknowledging the mode'));
        };
        c.on('message', onMessage);
        c.once('exit', onExit);
        c.send({ type: 'mode', mode: next });
      });
    },
    async stop() {
      if (child === null) return;
      const c = child;
      child = null;
      await waitExit(c);
    },
    async restart() {
      await handle.stop();
      child = await spawnChild(configFor(port));
    },
    async dispose() {
      await handle.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Just enough RFC 5322 / MIME parsing to tell what the client sent.

interface Entity {
  headers: Record<string, string>;
  body: string;
}

function splitEntity(text: string): Entity {
  const normalized = text.replace(/\r\n/g, '\n');
  const cut = normalized.indexOf('\n\n');
  const head = cut === -1 ? normalized : normalized.slice(0, cut);
  const body = cut === -1 ? '' : normalized.slice(cut + 2);
  const headers: Record<string, string> = {};
  const unfolded = head.replace(/\n[ \t]+/g, ' ');
  for (const line of unfolded.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!(name in headers)) headers[name] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

/** Content types of all leaf parts, depth first. */
function leafTypes(entity: Entity, depth = 0): string[] {
  const ct = entity.headers['content-type'] ?? 'text/plain';
  const type = (ct.split(';')[0] ?? '').trim().toLowerCase();
  if (!type.startsWith('multipart/') || depth > 5) return [type];
  const boundary = /boundary="?([^";]+)"?/i.exec(ct)?.[1];
  if (boundary === undefined) return [type];
  const delimiter = `--${boundary}`;
  const parts = entity.body.split('\n').reduce<string[][]>((acc, line) => {
    if (line.trimEnd() === delimiter || line.trimEnd() === `${delimiter}--`) acc.push([]);
    else acc[acc.length - 1]?.push(line);
    return acc;
  }, []);
  // The last group follows the closing delimiter (epilogue); the preamble is never collected.
  return parts.slice(0, -1).flatMap((lines) => leafTypes(splitEntity(lines.join('\n')), depth + 1));
}

function decodeSubject(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*/g, (_m, _charset: string, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));
}

interface RawRecord {
  from: string;
  to: string[];
  raw: string;
  secure: boolean;
  user: string | null;
}

function parseRecord(rec: RawRecord): ReceivedMessage {
  const top = splitEntity(rec.raw);
  const types = leafTypes(top);
  return {
    from: rec.from,
    to: rec.to,
    secure: rec.secure,
    user: rec.user,
    raw: rec.raw,
    subject: decodeSubject(top.headers['subject'] ?? ''),
    hasText: types.includes('text/plain'),
    hasHtml: types.includes('text/html'),
    headers: top.headers,
  };
}
