// `certs store migrate` at fleet size (issue 15 benchmark): a SQLite store with N endpoints and a
// 90-day history (one scan a day, days left changing every day, results shared as the store
// shares them), 2 issued versions with archive files for every 100th endpoint, an outbox of
// N/10 messages; copied into an empty PostgreSQL 15 (private cluster on loopback, TLS) with the
// BUILT CLI, then back into a new SQLite store (--from). Wall time and the CLI's peak RSS each.
//
//   npm run build && node --import tsx bench/store-migrate.ts         N = $BENCH_MIGRATE_ENDPOINTS (default 1000)
//   BENCH_LARGE=1 node --import tsx bench/store-migrate.ts            N = 10,000
//   BENCH_MIGRATE_DAYS=…                                              days of history (default 90)
//
// One JSON line per direction: {bench, direction, endpoints, days, rows: {table: n}, ms, cpuMs (the
// CLI's own user + system time), peakRssKiB, loadAvg1, sqliteMB (certs.db + WAL), postgresMB}.
// Skipped (a JSON line saying why) where PostgreSQL 15 is not installed.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeArchiveVersion } from '../src/store/archive.js';
import { openStore, type RecordItem } from '../src/store/index.js';
import { connectPg, parsePgUrl } from '../src/store/pg/connect.js';
import { fakeCert, reportFor } from '../test/helpers/store-fixtures.js';
import { postgresUnavailable, startStoreCluster } from '../test/helpers/pg-store.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const RSS_PRELOAD = join(ROOT, 'bench', 'rss-preload.mjs');
const N = process.env['BENCH_LARGE'] === '1' ? 10_000 : intEnv('BENCH_MIGRATE_ENDPOINTS', 1000);
const DAYS = intEnv('BENCH_MIGRATE_DAYS', 90);
const DAY = 86_400_000;
const START = Date.parse('2026-01-01T03:17:00.000Z');

const skip = postgresUnavailable() ?? cliProblem(CLI, ROOT, (m) => console.error(m));
if (skip) {
  console.log(JSON.stringify({ bench: 'store-migrate', skipped: skip }));
  process.exit(0);
}

function buildSource(dataDir: string): void {
  const store = openStore(dataDir);
  try {
    const roots = [fakeCert('Root X1', { isCA: true }), fakeCert('Root X2', { isCA: true })];
    const inters = Array.from({ length: 8 }, (_, i) => fakeCert(`Intermediate ${i}`, { issuer: roots[i % 2]!.info.subject, isCA: true }));
    const base = Array.from({ length: N }, (_, i) => {
      const name = `host${String(i).padStart(5, '0')}.example.com`;
      const chain = [fakeCert(name, { issuer: inters[i % 8]!.info.subject }), inters[i % 8]!, roots[(i % 8) % 2]!];
      return { name, chain };
    });
    for (let day = 0; day < DAYS; day++) {
      const scannedAt = new Date(START + day * DAY).toISOString();
      const items: RecordItem[] = base.map(({ name, chain }, i) => ({
        report: reportFor({ domain: name }, chain, { scannedAt, daysLeft: 120 - day }),
        chainDer: chain.map((c) => c.der),
        extra: { path: chain.map((c, j) => ({ fingerprint256: c.info.fingerprint256, source: 'served', anchor: j === 2 })), durationMs: 20 + ((i * 7 + day * 13) % 180) + 0.25 },
      }));
      store.scans.recordMany(items);
    }
    for (let i = 0; i < N; i += 100) {
      const lineage = base[i]!.name;
      for (const version of [1, 2]) {
        const privkey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
        const cert = `-----BEGIN CERTIFICATE-----\n${randomBytes(900).toString('base64')}\n-----END CERTIFICATE-----\n`;
        const w = writeArchiveVersion(dataDir, lineage, { cert, chain: cert, fullchain: cert + cert, privkey });
        store.issued.record({
          lineage, version, fingerprint256: `FP${i}.${version}`, serial: '01', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-04-01T00:00:00.000Z', issuer: 'CN=CA',
          names: [lineage], keyType: 'ec-p256', directoryUrl: 'https://acme.test/dir', profile: null, ariCertId: null, replacedId: null, dir: w.paths.dir,
          issuedAt: '2026-01-01T00:00:00.000Z', reason: 'due', revokedAt: null, revokeReason: null,
        });
      }
    }
    const messages = Array.from({ length: Math.ceil(N / 10) }, (_, i) => ({
      key: `digest:${i}`, channel: 'email' as const, to: ['ops@example.com'], subject: `digest ${i}`, text: 'x'.repeat(2000), html: `<p>${'y'.repeat(4000)}</p>`, payload: null,
      createdAt: new Date(START + i * 60_000).toISOString(), nextAttemptAt: new Date(START + i * 60_000).toISOString(),
    }));
    store.notifications.commitRun({ at: new Date(START).toISOString(), markSent: [], activate: [], clear: [], messages });
  } finally {
    store.close();
  }
}

/**
 * Writes the CLI's own CPU time (user + system, ms) at exit: on the shared 2-core machine wall time
 * also measures everyone else's load. A data: URL, as in bench/store-engines.ts.
 */
const CPU_PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import{writeFileSync}from'node:fs';const f=process.env.CERTS_BENCH_CPU_FILE;if(f)process.on('exit',()=>{const u=process.cpuUsage();writeFileSync(f,String((u.user+u.system)/1000))});",
)}`;

function readNumber(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function runCli(args: string[], env: NodeJS.ProcessEnv, rssFile: string): Promise<{ code: number; stdout: string; stderr: string; ms: number; rss: number | null; cpuMs: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const cpuFile = `${rssFile}.cpu`;
    const child = spawn(process.execPath, ['--import', RSS_PRELOAD, '--import', CPU_PRELOAD, CLI, ...args], {
      env: { ...env, CERTS_BENCH_RSS_FILE: rssFile, CERTS_BENCH_CPU_FILE: cpuFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => {
      resolve({ code: code ?? 1, stdout, stderr, ms: performance.now() - t0, rss: readNumber(rssFile), cpuMs: readNumber(cpuFile) });
    });
  });
}

function sqliteMB(dataDir: string): number {
  let bytes = 0;
  for (const f of ['certs.db', 'certs.db-wal']) {
    try {
      bytes += statSync(join(dataDir, f)).size;
    } catch {
      // no WAL file: nothing to add
    }
  }
  return Math.round(bytes / 1e5) / 10;
}

async function postgresMB(url: string): Promise<number> {
  const client = await connectPg(parsePgUrl(url));
  try {
    const { rows } = await client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
    return Math.round(Number(rows[0]!.size) / 1e5) / 10;
  } finally {
    await client.end();
  }
}

const work = mkdtempSync(join(os.tmpdir(), 'certs-bench-migrate-'));
const cluster = await startStoreCluster();
try {
  const source = join(work, 'source');
  const b0 = performance.now();
  buildSource(source);
  console.error(`bench store-migrate: source of ${N} endpoints x ${DAYS} days built in ${Math.round(performance.now() - b0)} ms`);
  const env: NodeJS.ProcessEnv = { ...process.env, CERTS_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  delete env['NODE_OPTIONS'];
  const url = await cluster.newDatabase('bench');
  const configTo = join(work, 'to.yaml');
  writeFileSync(configTo, `dataDir: ${source}\ndomains: []\n`);
  const configBack = join(work, 'back.yaml');
  writeFileSync(configBack, `dataDir: ${join(work, 'back')}\ndomains: []\n`);
  for (const [direction, args] of [['to-postgres', ['--config', configTo, '--to', url]], ['from-postgres', ['--config', configBack, '--from', url]]] as const) {
    const r = await runCli(['store', 'migrate', ...args, '--json'], env, join(work, `${direction}.rss`));
    if (r.code !== 0) throw new Error(`store migrate ${direction} failed (${r.code}): ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { tables: Record<string, { rows: number }> };
    console.log(JSON.stringify({
      bench: 'store-migrate', direction, endpoints: N, days: DAYS,
      rows: Object.fromEntries(Object.entries(out.tables).map(([t, v]) => [t, v.rows])),
      ms: Math.round(r.ms), cpuMs: r.cpuMs === null ? null : Math.round(r.cpuMs), peakRssKiB: r.rss, loadAvg1: Math.round(os.loadavg()[0]! * 10) / 10,
      // Sizes after the copy: the SQLite file (database + WAL) written or read, and the PostgreSQL database.
      sqliteMB: sqliteMB(direction === 'to-postgres' ? source : join(work, 'back')), postgresMB: await postgresMB(url),
    }));
  }
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
