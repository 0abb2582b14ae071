/**
 * `certs import hosts FILE`: a list of endpoints, one a line, in either of two formats:
 *
 *   example.com              port 443
 *   example.com:8443         host[:port], IPv6 in brackets: [2001:db8::1]:443
 *   example.com 8443         ssl-cert-check's `-f` file: host, white space, port
 *   /etc/ssl/a.pem FILE      ssl-cert-check's certificate file line (an absolute path)
 *
 * `#` starts a comment (at the start of a line or after white space); blank lines are skipped.
 * Every other line either yields an endpoint or an error naming its line number. Pure.
 */
import { ValidationError } from '../core/errors.js';
import { normalizeHost, validatePort } from '../core/names.js';
import { parseHostPort } from './host-port.js';

export interface HostsLine {
  /** 1-based. */
  line: number;
  host: string;
  port: number;
}

export interface HostsLineError {
  line: number;
  text: string;
  reason: string;
}

export interface HostsFileLine {
  line: number;
  /** Absolute path of a certificate file. */
  path: string;
}

export interface HostsList {
  entries: HostsLine[];
  /** ssl-cert-check's `PATH FILE` lines. */
  files: HostsFileLine[];
  errors: HostsLineError[];
}

const USAGE = 'expected host[:port] or ssl-cert-check\'s "host port"';

export function parseHostsList(text: string): HostsList {
  const entries: HostsLine[] = [];
  const errors: HostsLineError[] = [];
  const files: HostsFileLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const body = raw.replace(/(^|\s)#.*$/, '').trim();
    if (body === '') continue;
    const line = i + 1;
    const fail = (reason: string): void => {
      errors.push({ line, text: raw.trim(), reason });
    };
    const words = body.split(/\s+/);
    if (words.length > 2) {
      fail(`${words.length} words; ${USAGE}`);
      continue;
    }
    if (words.length === 2 && words[1] === 'FILE') {
      const path = words[0] as string;
      if (path.startsWith('/')) files.push({ line, path });
      else fail(`a certificate file needs an absolute path, got ${JSON.stringify(path)}`);
      continue;
    }
    const hp = parseHostPort(words[0] as string);
    if (!hp.ok) {
      fail(`${hp.why}; ${USAGE}`);
      continue;
    }
    try {
      const host = normalizeHost(hp.bracketed ? `[${hp.host}]` : hp.host);
      let port = hp.port ?? 443;
      if (words.length === 2) {
        if (hp.port !== undefined) {
          fail(`the port is given twice (${hp.port} and ${JSON.stringify(words[1])}); ${USAGE}`);
          continue;
        }
        port = validatePort(words[1], 'port');
      }
      entries.push({ line, host, port });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      fail(err.message);
    }
  }
  return { entries, files, errors };
}
