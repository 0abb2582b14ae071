// Test certificates made with the openssl CLI (OpenSSL 3), so fixtures come from the same tool
// admins use and never from the internet. EC P-256 keys: fast to generate and to handshake.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pem {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

export interface CertOptions {
  /** DNS subjectAltNames; default [cn]. */
  dnsNames?: string[];
  days?: number;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function load(certPath: string, keyPath: string): Promise<Pem> {
  return { certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8'), certPath, keyPath };
}

function sanExt(cn: string, opts: CertOptions): string {
  return `subjectAltName=${(opts.dnsNames ?? [cn]).map((n) => `DNS:${n}`).join(',')}`;
}

/** A self-signed leaf; file names in `dir` are derived from `id` (default: the CN). */
export async function selfSigned(dir: string, cn: string, opts: CertOptions = {}, id = cn.replace(/[^A-Za-z0-9.-]/g, '_')): Promise<Pem> {
  const certPath = join(dir, `${id}.crt`);
  const keyPath = join(dir, `${id}.key`);
  await openssl(['req', '-x509', ...EC, '-subj', `/CN=${cn}`, '-addext', sanExt(cn, opts), '-days', String(opts.days ?? 1), '-keyout', keyPath, '-out', certPath]);
  return load(certPath, keyPath);
}

/** A private root CA. */
export async function makeCa(dir: string, cn = 'certs test root', days = 30, id = 'ca'): Promise<Pem> {
  const certPath = join(dir, `${id}.crt`);
  const keyPath = join(dir, `${id}.key`);
  await openssl([
    'req', '-x509', ...EC, '-subj', `/CN=${cn}`, '-days', String(days), '-keyout', keyPath, '-out', certPath,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return load(certPath, keyPath);
}

/** A server leaf signed by `ca`. */
export async function issueLeaf(dir: string, ca: Pem, cn: string, opts: CertOptions = {}, id = cn.replace(/[^A-Za-z0-9.-]/g, '_')): Promise<Pem> {
  const certPath = join(dir, `${id}.crt`);
  const keyPath = join(dir, `${id}.key`);
  const csrPath = join(dir, `${id}.csr`);
  const extPath = join(dir, `${id}.ext`);
  await writeFile(extPath, [sanExt(cn, opts), 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', ''].join('\n'));
  await openssl(['req', '-new', ...EC, '-subj', `/CN=${cn}`, '-keyout', keyPath, '-out', csrPath]);
  await openssl([
    'x509', '-req', '-in', csrPath, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
    '-days', String(opts.days ?? 30), '-extfile', extPath, '-out', certPath,
  ]);
  return load(certPath, keyPath);
}
