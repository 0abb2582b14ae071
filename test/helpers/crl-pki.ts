// An `openssl ca` PKI for revocation tests: a root CA with its database (index.txt, serial,
// crlnumber), leaves with a CRL Distribution Point, `-revoke … -crl_reason …` and `-gencrl`.
// Everything through the openssl CLI (OpenSSL 3), the tool admins use; EC P-256 keys.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Pem } from './openssl-cli.js';

const run = promisify(execFile);

async function openssl(args: string[]): Promise<string> {
  try {
    return (await run('openssl', args)).stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const CA_KEYS = {
  'ec-p256': EC,
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes'],
  rsa: ['-newkey', 'rsa:2048', '-nodes'],
} as const;

export interface CrlCaOptions {
  key?: keyof typeof CA_KEYS;
  /** Digest of the CRL signature (default sha256). */
  md?: 'sha256' | 'sha384' | 'sha512';
  /** Sign CRLs with RSASSA-PSS (RSA keys only). */
  pss?: boolean;
}

export interface CrlCa {
  dir: string;
  ca: Pem;
  /** A leaf signed by this CA, its CRL DP pointing at `crlUrl` (none when omitted). */
  issue(cn: string, opts?: { crlUrl?: string; days?: number }): Promise<Pem>;
  /** `openssl ca -revoke <cert> -crl_reason <reason>`. */
  revoke(cert: Pem, reason?: string): Promise<void>;
  /** An intermediate CA under `dir`, signed by this one, its CRL DP pointing at `crlUrl`. */
  subCa(dir: string, cn: string, opts?: { crlUrl?: string }): Promise<CrlCa>;
  /** `openssl ca -gencrl -crlhours <hours>`; the CRL as DER. */
  gencrl(opts?: { hours?: number }): Promise<Buffer>;
}

/** A root CA named `cn` under `dir` (created). Two CAs with the same `cn` have different keys. */
export async function makeCrlCa(dir: string, cn = 'certs crl test root', opts: CrlCaOptions = {}, parent?: { cnf: string; crlUrl?: string }): Promise<CrlCa> {
  await mkdir(join(dir, 'newcerts'), { recursive: true });
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  const cnf = join(dir, 'ca.cnf');
  await writeFile(cnf, [
    '[ ca ]', 'default_ca = CA_default',
    '[ CA_default ]',
    `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/newcerts', 'serial = $dir/serial',
    'crlnumber = $dir/crlnumber', 'certificate = $dir/ca.crt', 'private_key = $dir/ca.key',
    'default_md = sha256', 'default_days = 30', 'default_crl_days = 1', 'policy = policy_any',
    'unique_subject = no', 'copy_extensions = none', 'crl_extensions = crl_ext',
    '[ policy_any ]', 'commonName = supplied',
    '[ crl_ext ]', 'authorityKeyIdentifier = keyid:always',
    '',
  ].join('\n'));
  const caOpts = opts;
  const ca: Pem = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key'), certPem: '', keyPem: '' };
  if (parent) {
    const csr = join(dir, 'ca.csr');
    const ext = join(dir, 'ca.ext');
    await writeFile(ext, [
      '[ sub ]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'authorityKeyIdentifier = keyid',
      ...(parent.crlUrl ? [`crlDistributionPoints = URI:${parent.crlUrl}`] : []), '',
    ].join('\n'));
    await openssl(['req', '-new', ...CA_KEYS[opts.key ?? 'ec-p256'], '-subj', `/CN=${cn}`, '-keyout', ca.keyPath, '-out', csr]);
    await openssl(['ca', '-batch', '-config', parent.cnf, '-notext', '-days', '30', '-extfile', ext, '-extensions', 'sub', '-in', csr, '-out', ca.certPath]);
  } else {
    await openssl([
      'req', '-x509', ...CA_KEYS[opts.key ?? 'ec-p256'], '-subj', `/CN=${cn}`, '-days', '30', '-keyout', ca.keyPath, '-out', ca.certPath,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }
  ca.certPem = await readFile(ca.certPath, 'utf8');
  ca.keyPem = await readFile(ca.keyPath, 'utf8');

  return {
    dir,
    ca,
    async issue(leafCn, opts = {}) {
      const id = leafCn.replace(/[^A-Za-z0-9.-]/g, '_');
      const certPath = join(dir, `${id}.crt`);
      const keyPath = join(dir, `${id}.key`);
      const csrPath = join(dir, `${id}.csr`);
      const extPath = join(dir, `${id}.ext`);
      await writeFile(extPath, [
        '[ leaf ]',
        `subjectAltName = DNS:${leafCn}`, 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = serverAuth', 'authorityKeyIdentifier = keyid',
        ...(opts.crlUrl ? [`crlDistributionPoints = URI:${opts.crlUrl}`] : []),
        '',
      ].join('\n'));
      await openssl(['req', '-new', ...EC, '-subj', `/CN=${leafCn}`, '-keyout', keyPath, '-out', csrPath]);
      await openssl([
        'ca', '-batch', '-config', cnf, '-notext', '-days', String(opts.days ?? 30), '-extfile', extPath, '-extensions', 'leaf',
        '-in', csrPath, '-out', certPath,
      ]);
      return { certPath, keyPath, certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
    },
    async revoke(cert, reason = 'keyCompromise') {
      await openssl(['ca', '-batch', '-config', cnf, '-revoke', cert.certPath, '-crl_reason', reason]);
    },
    subCa(subDir, subCn, subOpts = {}) {
      return makeCrlCa(subDir, subCn, {}, { cnf, ...(subOpts.crlUrl ? { crlUrl: subOpts.crlUrl } : {}) });
    },
    async gencrl({ hours = 24 } = {}) {
      const pem = join(dir, 'crl.pem');
      await openssl(['ca', '-batch', '-config', cnf, '-gencrl', '-crlhours', String(hours), '-md', caOpts.md ?? 'sha256',
        ...(caOpts.pss ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : []), '-out', pem]);
      const der = join(dir, 'crl.der');
      await openssl(['crl', '-in', pem, '-outform', 'DER', '-out', der]);
      return readFile(der);
    },
  };
}
