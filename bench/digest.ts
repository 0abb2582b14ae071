// Digest benchmark (issue 14): the notify step's digest for N events — evaluateNotifications,
// buildDigest and the email rendering (text + HTML), as service/notify.ts does them — timed in
// process, with the size of the email it produces. The heavy case of bench/cycle.ts: a shared
// certificate whose renewal broke reaches every name on the same run (one expiry event each).
//
//   node --import tsx bench/digest.ts                         N = $BENCH_EVENTS (default 10000)
//   CERTS_BENCH_SRC=/tmp/old/src node --import tsx bench/digest.ts   another tree's sources (A/B)
//
// One JSON line per repetition on stdout: {bench, events, ms, textBytes, htmlBytes}. The email
// shows the 50 most urgent rows since issue 14, so its size no longer grows with N; before, it
// had one line per event.
import { performance } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { intEnv } from './_common.js';

const SRC = resolve(process.env['CERTS_BENCH_SRC'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
const N = intEnv('BENCH_EVENTS', 10_000);
const REPS = intEnv('BENCH_REPS', 5);

const policy = await import(pathToFileURL(join(SRC, 'core/notify-policy.ts')).href);
const render = await import(pathToFileURL(join(SRC, 'notify/render.ts')).href);
const templatesMod = await import(pathToFileURL(join(SRC, 'config/email-templates.ts')).href);

const NOW = new Date('2026-11-25T03:17:00.000Z');
const DAY = 86_400_000;
const reports = Array.from({ length: N }, (_, i) => {
  const domain = `e${String(i).padStart(5, '0')}.bench.test`;
  return {
    domain, host: domain, port: 443, source: 'tls', address: '127.0.0.1', status: 'warning',
    daysLeft: 20, notAfter: new Date(NOW.getTime() + 20 * DAY).toISOString(), notBefore: new Date(NOW.getTime() - 70 * DAY).toISOString(),
    fingerprint256: 'AA:BB', issuer: 'C=US, O=Bench CA, CN=Bench Intermediate', subject: 'CN=*.bench.test',
    problems: [{ code: 'expiring-soon', severity: 'warning', message: 'expires in 20 days' }], scannedAt: NOW.toISOString(),
  };
});
const templates = templatesMod.loadEmailTemplates();

for (let rep = 0; rep < REPS; rep++) {
  const t0 = performance.now();
  const decision = policy.evaluateNotifications({ reports, sentExpiry: new Set(), active: [], thresholdsFor: () => [30, 14, 7, 3, 1], now: NOW, isManaged: () => false });
  const d = policy.buildDigest(decision.events, { now: NOW, total: N });
  // The rendering service/notify.ts does (the old tree passed groups and the first text line).
  const input = 'rows' in d
    ? { subject: d.subject, story: d.story, summary: d.summary, rows: d.rows, shown: d.shown, rest: d.rest, groups: d.groups, now: NOW }
    : { subject: d.subject, groups: d.groups, summary: d.text.split('\n')[0] ?? d.subject, now: NOW };
  const mail = render.renderDigestEmail(templates, input);
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ bench: 'digest', src: SRC, events: decision.events.length, ms: Math.round(ms * 10) / 10, textBytes: Buffer.byteLength(mail.text), htmlBytes: Buffer.byteLength(mail.html), slackTextBytes: Buffer.byteLength(d.text) })}\n`);
}
