/**
 * No downtime: while `certs renew --force` issues, writes the snippet, runs nginx -t, reloads nginx
 * and verifies, a bounded loop of HTTPS requests (a new TLS connection each) against that nginx
 * counts zero failed requests, and sees the served certificate switch from the old to the new one.
 *
 * Real Pebble (test/helpers/acme-env.ts), real nginx whose site has no certificate of its own and
 * includes the snippet certs writes (test/helpers/nginx.ts), the built CLI (npm run build first).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, childPids, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { runCli, type CliResult } from '../helpers/cli.js';

/** Clients in parallel, each one request (one TLS connection) at a time. */
const PARALLEL = 2;
/** Requests made after the renew command exited, so the loop ends on the new certificate. */
const AFTER_RUN = 20;
const MAX_REQUESTS = 20_000;
const MAX_LOOP_MS = 120_000;
const REQUEST_TIMEOUT_MS = 5_000;

interface Sample {
  start: number;
  end: number;
  ok: boolean;
  fingerprint: string | null;
  error?: string;
  /** The request started while the renew command was running. */
  duringRun: boolean;
}

/** One GET over a fresh TLS connection; resolves (never rejects) with what happened. */
function probe(port: number): Promise<Omit<Sample, 'duringRun'>> {
  const start = performance.now();
  return new Promise((resolve) => {
    let fingerprint: string | null = null;
    let settled = false;
    const done = (ok: boolean, error?: string): void => {
      if (settled) return;
      settled = true;
      resolve({ start, end: performance.now(), ok, fingerprint, ...(error ? { error } : {}) });
    };
    const req = https.request({ host: '127.0.0.1', port, servername: 'd.test', path: '/', method: 'GET', rejectUnauthorized: false, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256 ?? null;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', (err) => done(false, `response: ${err.message}`));
      res.on('end', () => {
        if (res.statusCode !== 200) done(false, `HTTP ${res.statusCode}`);
        else if (body !== 'site 0\n') done(false, `unexpected body ${JSON.stringify(body.slice(0, 60))}`);
        else done(true);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err) => done(false, `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim()));
    req.end();
  });
}

/** When nginx's worker set changed (measurement only: the loop does not wait on it). */
function watchWorkers(masterPid: number): { stop(): Array<{ at: number; workers: number[] }> } {
  const changes: Array<{ at: number; workers: number[] }> = [];
  let last = '';
  const timer = setInterval(() => {
    const workers = childPids(masterPid).sort((a, b) => a - b);
    const key = workers.join(',');
    if (key !== last) {
      changes.push({ at: performance.now(), workers });
      last = key;
    }
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return changes;
    },
  };
}

describe('no downtime while renew --force reloads nginx', () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let snippets: string;
  let configFile: string;

  before(async () => {
    env = await startAcmeEnv();
    const rootFile = join(env.dir, 'pebble-root.pem');
    writeFileSync(rootFile, await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    // The site has no certificate of its own: a placeholder snippet until certs writes one.
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: ['d.test'], issuer: ca });
    writeFileSync(join(env.dir, 'placeholder.pem'), old.pem);
    writeFileSync(join(env.dir, 'placeholder.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'd.test.conf'), `ssl_certificate ${join(env.dir, 'placeholder.pem')};\nssl_certificate_key ${join(env.dir, 'placeholder.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['d.test'], extra: `include ${snippets}/d.test.conf;` }] });
    ({ file: configFile } = env.writeConfig(`${env.acmeYaml()}
trust: { caFile: ${rootFile} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
domains:
  - { name: d.test, endpoints: [{ host: d.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`));
  });
  after(async () => {
    await Promise.allSettled([env?.stop(), ngx?.stop()]);
  });

  it('a request loop during issue + snippet + nginx -t + reload + verify: zero failures, old → new certificate', async () => {
    const first = await runCli(['renew', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const certPath = join(env.dataDir, 'certs', 'd.test', 'current', 'cert.pem');
    const oldFp = new X509Certificate(readFileSync(certPath)).fingerprint256;
    const warm = await probe(ngx.port);
    assert.ok(warm.ok, `nginx answers before the loop: ${warm.error}`);
    assert.equal(warm.fingerprint, oldFp, 'nginx serves the first issued certificate');

    const samples: Sample[] = [];
    let runActive = true;
    let afterRun = 0;
    let stopReason = '';
    const loopStart = performance.now();
    const shouldStop = (): boolean => {
      if (!runActive && afterRun >= AFTER_RUN) stopReason ||= `${AFTER_RUN} requests after the run`;
      else if (samples.length >= MAX_REQUESTS) stopReason ||= `request cap ${MAX_REQUESTS}`;
      else if (performance.now() - loopStart > MAX_LOOP_MS) stopReason ||= `time cap ${MAX_LOOP_MS} ms`;
      return stopReason !== '';
    };
    const client = async (): Promise<void> => {
      while (!shouldStop()) {
        const duringRun = runActive;
        const s = await probe(ngx.port);
        samples.push({ ...s, duringRun });
        if (!runActive && !duringRun) afterRun++;
      }
    };
    const watcher = watchWorkers(ngx.pid);
    const clients = Array.from({ length: PARALLEL }, () => client());

    const runStart = performance.now();
    let renew: CliResult;
    try {
      renew = await runCli(['renew', 'd.test', '--force', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    } finally {
      runActive = false;
    }
    const runMs = performance.now() - runStart;
    await Promise.all(clients);
    const workerChanges = watcher.stop();

    assert.equal(renew.code, 0, renew.stdout + renew.stderr);
    const doc = JSON.parse(renew.stdout) as { results: Array<{ action: string }>; deploy?: Array<{ action: string; detail: string }> };
    assert.equal(doc.results[0]?.action, 'issued');
    assert.equal(doc.deploy?.[0]?.action, 'deployed', JSON.stringify(doc.deploy));
    const newFp = new X509Certificate(readFileSync(certPath)).fingerprint256;
    assert.notEqual(newFp, oldFp);

    const failed = samples.filter((s) => !s.ok);
    const during = samples.filter((s) => s.duringRun);
    const oldSeen = samples.filter((s) => s.fingerprint === oldFp);
    const newSeen = samples.filter((s) => s.fingerprint === newFp);
    const other = samples.filter((s) => s.ok && s.fingerprint !== oldFp && s.fingerprint !== newFp);
    const byStart = [...samples].sort((a, b) => a.start - b.start);
    const firstNew = Math.min(...newSeen.map((s) => s.end));
    const lastOld = Math.max(...oldSeen.map((s) => s.start));
    // The reload as nginx's process table saw it: from the first new worker to the last old one gone.
    const reload = workerChanges.length >= 2 ? { from: workerChanges[1]!.at, to: workerChanges[workerChanges.length - 1]!.at } : null;
    const inReload = reload ? samples.filter((s) => s.end >= reload.from - 5 && s.start <= reload.to + 5).length : 0;
    const latencies = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
    const summary = {
      total: samples.length,
      duringRun: during.length,
      afterRun: samples.length - during.length,
      failed: failed.length,
      oldCert: oldSeen.length,
      newCert: newSeen.length,
      otherCert: other.length,
      runMs: Math.round(runMs),
      perSecond: Math.round(during.length / (runMs / 1000)),
      reloadWindowMs: reload ? Math.round(reload.to - reload.from) : null,
      requestsAroundReload: inReload,
      switchOverlapMs: Math.round(lastOld - firstNew),
      p50Ms: Number(latencies[Math.floor(latencies.length / 2)]?.toFixed(1)),
      maxMs: Number(latencies[latencies.length - 1]?.toFixed(1)),
      workerChanges: workerChanges.map((c) => `${Math.round(c.at - runStart)}ms:${c.workers.join('+') || '-'}`),
      stopReason,
      errors: [...new Set(failed.map((s) => s.error))].slice(0, 5),
    };
    const counts = JSON.stringify(summary);
    process.stderr.write(`# downtime loop: ${counts}\n`);

    assert.equal(failed.length, 0, `failed requests during renew + reload: ${counts}`);
    assert.ok(stopReason.startsWith(`${AFTER_RUN} requests`), `the loop ended on its bound, not a cap: ${counts}`);
    assert.ok(during.length >= 20, `at least 20 requests while renew --force ran: ${counts}`);
    assert.equal(other.length, 0, `only the old and the new certificate were served: ${counts}`);
    assert.ok(oldSeen.length > 0 && newSeen.length > 0, `both certificates were seen during the loop: ${counts}`);
    assert.equal(byStart[0]!.fingerprint, oldFp, `the loop started on the old certificate: ${counts}`);
    assert.equal(byStart[byStart.length - 1]!.fingerprint, newFp, `the loop ended on the new certificate: ${counts}`);
    // Once certs reported the deploy verified, every new connection gets the new certificate.
    const staleAfterRun = samples.filter((s) => !s.duringRun && s.fingerprint !== newFp);
    assert.equal(staleAfterRun.length, 0, `requests after the run that still got the old certificate: ${counts}`);
  });
});
