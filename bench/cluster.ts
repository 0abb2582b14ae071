// One vs three daemons on one PostgreSQL (issue 16 "Benchmark"): one cycle over N loopback TLS
// endpoints (default 30,000), first with one `certs daemon`, then with three (nodes a, b, c) that
// share the cycle's scan in batches. The built CLI as a user runs it.
//
//   npm run build && node --import tsx bench/cluster.ts     N = $BENCH_CLUSTER_ENDPOINTS (default 30,000)
//   BENCH_CLUSTER_BATCH=k …   cluster.scanBatchSize (default 500)
//
// Each daemon gets a six-field schedule firing once a minute at a second a few seconds ahead, so
// all of them start the same cycle (one cycle key); each is stopped once it logged run.finished.
// Reported per case: wall time from the first run.start to the last run.finished, each daemon's
// peak RSS (VmHWM from /proc before it is stopped), the most PostgreSQL connections open at once
// (pg_stat_activity, sampled every 100 ms), scans per second, and per daemon the batches it
// scanned. The endpoints are SNI names on one Node TLS server on 127.0.0.1 with a wildcard
// certificate from a private CA, monitor-only, no notifications. PostgreSQL is the tests' cluster
// (fsync=off, shared_buffers=8MB). The machine has 2 cores: three daemons share them, so no
// speed-up is expected here; see the README for what the design scales to on paper.
// Exit 0 with a report; non-zero only when the benchmark could not run.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createLeaf, daysFrom } from '../test/helpers/pki.js';
import { startTlsServer } from '../test/helpers/scan-fixture.js';
import { postgresUnavailable, startStoreCluster } from '../test/helpers/pg-store.js';
import { connectPg } from '../src/store/pg/connect.js';
import { parsePgUrl } from '../src/lib/pg-url.js';
import { intEnv } from './_common.js';
import { startDaemon } from '../test/helpers/daemon-process.js';

const N = intEnv('BENCH_CLUSTER_ENDPOINTS', 30_000);
const BATCH = intEnv('BENCH_CLUSTER_BATCH', 500);

interface Ev { event?: string; time?: string; mine?: number; cycle?: string }

function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const unavailable = postgresUnavailable();
  if (unavailable) {
    console.log(JSON.stringify({ bench: 'cluster', skipped: unavailable }));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'certs-bench-cluster-'));
  const cluster = await startStoreCluster();
  const now = new Date();
  const ca = await createCA({ cn: 'bench cluster CA', notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 400) });
  const leaf = await createLeaf({ dns: ['*.fleet.test'], issuer: ca, notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 90) });
  const server = await startTlsServer(leaf.pem, leaf.keyPem);
  writeFileSync(join(dir, 'ca.pem'), ca.pem);
  const domains: string[] = [];
  for (let i = 0; i < N; i++) domains.push(`  - { name: e${i}.fleet.test, managed: false, endpoints: [{ host: e${i}.fleet.test, port: ${server.port}, address: 127.0.0.1 }] }`);
  const kek = randomBytes(32).toString('base64');
  try {
    for (const nodes of [1, 3]) {
      const url = await cluster.newDatabase(`bench_cluster_${nodes}`);
      const second = (new Date().getSeconds() + 12) % 60;
      const files = Array.from({ length: nodes }, (_, i) => {
        const name = ['a', 'b', 'c'][i]!;
        const file = join(dir, `${nodes}-${name}.yaml`);
        writeFileSync(file, `dataDir: ${join(dir, `data-${nodes}-${name}`)}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
scan: { revocation: false, concurrency: 64 }
store: { engine: postgres, url: "\${env:CERTS_DATABASE_URL}", keyEncryptionKey: "\${env:CERTS_KEK}" }
node: { name: ${name} }
cluster: { leaseSeconds: 60, scanBatchSize: ${BATCH} }
daemon: { schedule: "${second} * * * * *" }
domains:
${domains.join('\n')}
`);
        return file;
      });
      const db = await connectPg(parsePgUrl(url));
      let maxConnections = 0;
      const sampler = setInterval(() => {
        db.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
          .then((r) => (maxConnections = Math.max(maxConnections, Number(r.rows[0]!.n))), () => undefined);
      }, 100);
      const runs = files.map((file) => {
        const d = startDaemon(file, [], { CERTS_DATABASE_URL: url, CERTS_KEK: kek });
        let rss: number | null = null;
        // Peak RSS is read from /proc before the daemon is stopped, once its cycle ended.
        const finished = d.waitFor((e) => e['event'] === 'run.finished' || e['event'] === 'run.error', 15 * 60_000).then(() => {
          rss = peakRssMb(d.proc.pid!);
        });
        return { proc: d.proc, events: d.events as Ev[], finished, rss: () => rss };
      });
      await Promise.all(runs.map((r) => r.finished));
      clearInterval(sampler);
      for (const r of runs) r.proc.kill('SIGTERM');
      await Promise.all(runs.map((r) => new Promise((res) => r.proc.once('exit', res))));
      const starts = runs.map((r) => Date.parse(r.events.find((e) => e.event === 'run.start')!.time!));
      const ends = runs.map((r) => Date.parse(r.events.find((e) => e.event === 'run.finished' || e.event === 'run.error')!.time!));
      const wallMs = Math.max(...ends) - Math.min(...starts);
      const cycles = runs.map((r) => r.events.find((e) => e.event === 'scan.cycle'));
      const scans = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM scans');
      await db.end();
      console.log(JSON.stringify({
        bench: 'cluster',
        daemons: nodes,
        endpoints: N,
        batchSize: BATCH,
        wallMs,
        scansPerSecond: Math.round((N / wallMs) * 1000),
        peakRssMb: runs.map((r) => r.rss()),
        maxPgConnections: maxConnections,
        batchesPerDaemon: cycles.map((c) => c?.mine ?? null),
        oneCycle: new Set(cycles.map((c) => c?.cycle)).size === 1,
        scansStored: Number(scans.rows[0]!.n),
      }));
    }
  } finally {
    await server.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
