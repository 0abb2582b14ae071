/**
 * Warnings that fit the certificate's lifetime (issue 12 §4), end to end: the built CLI scans
 * 6-, 47- and 90-day certificates (files) with its clock moved through their lives, and mails a
 * real SMTP server process. Every threshold is checked two minutes before it is due (nothing yet)
 * and is then seen in the next run's digest exactly once; the scanner's verdicts (ok / warning /
 * critical) flip at the same scaled moments.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const DAY = 86_400_000;
const MINUTE = 60_000;
const THRESHOLDS = [30, 14, 7, 3, 1];

interface Cert {
  domain: string;
  /** Its own config and data dir: an expired certificate's alert must not mix into another's timeline. */
  config: string;
  lifetimeDays: number;
  notAfter: number;
  /** What the digest subject says for each threshold, largest first. */
  labels: string[];
}

/**
 * Node options that fix the CLI's clock (Date and Date.now) at `at` plus the time since spawn:
 * the built CLI has no clock option. Only the CLI's process is affected.
 */
function clockAt(at: number): string[] {
  const code = `const shift = ${at - Date.now()}; const Real = Date;
class Shifted extends Real { constructor(...a) { if (a.length === 0) super(Real.now() + shift); else super(...a); } static now() { return Real.now() + shift; } }
globalThis.Date = Shifted;`;
  return ['--import', `data:text/javascript,${encodeURIComponent(code)}`];
}

/** When threshold `t` of `c` is reached: scaled (lifetime < 90 days) at t × L/90 days left, exactly; otherwise at fewer than t + 1 whole days left, as always. */
function due(c: Cert, t: number): number {
  return c.lifetimeDays < 90 ? c.notAfter - (t * c.lifetimeDays * DAY) / 90 : c.notAfter - (t + 1) * DAY + 1;
}

function expectedStatus(c: Cert, at: number): 'ok' | 'warning' | 'critical' {
  if (at >= due(c, 7)) return 'critical';
  if (at >= due(c, 30)) return 'warning';
  return 'ok';
}

describe('thresholds scaled to the lifetime, through the CLI with an injected clock', { timeout: 240_000 }, () => {
  let dir: string;
  let smtp: SmtpServerHandle;
  let t0: number;
  const certs: Cert[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-thresholds-cli-'));
    smtp = await startSmtpServer();
    t0 = Math.floor(Date.now() / 1000) * 1000;
    const ca = await createCA({ cn: 'thresholds CA', notBefore: new Date(t0 - DAY), notAfter: new Date(t0 + 3650 * DAY) });
    writeFileSync(join(dir, 'ca.pem'), ca.pem);
    const specs: Array<[string, number, string[]]> = [
      ['six.test', 6, ['2 days', '22 hours', '11 hours', '5 hours', '2 hours']],
      ['fortyseven.test', 47, ['15.7 days', '7.3 days', '3.7 days', '1.6 days', '13 hours']],
      ['ninety.test', 90, ['30 days', '14 days', '7 days', '3 days', '1 day']],
    ];
    for (const [domain, lifetimeDays, labels] of specs) {
      // As CAs write it: notAfter = notBefore + lifetime − 1 s (RFC 5280 counts both ends).
      const notAfter = t0 + lifetimeDays * DAY - 1000;
      const leaf = await createLeaf({ dns: [domain], issuer: ca, notBefore: new Date(t0), notAfter: new Date(notAfter) });
      writeFileSync(join(dir, `${domain}.pem`), leaf.pem);
      writeFileSync(join(dir, `${domain}.key`), leaf.keyPem, { mode: 0o600 });
      const config = join(dir, `${domain}.yaml`);
      writeFileSync(config, `dataDir: ${join(dir, `data-${domain}`)}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: ${domain}, managed: false, endpoints: [], files: { cert: ${join(dir, `${domain}.pem`)}, key: ${join(dir, `${domain}.key`)} } }
`);
      certs.push({ domain, config, lifetimeDays, notAfter, labels });
    }
  });
  after(async () => {
    await smtp?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const scanAt = (c: Cert, at: number): Promise<CliResult> => runCli(['scan', '--json', '--config', c.config], { nodeArgs: clockAt(at) });
  const mailsFor = async (c: Cert) => (await smtp.messages()).filter((m) => m.raw.includes(c.domain));

  for (const spec of [['six.test', 6], ['fortyseven.test', 47], ['ninety.test', 90]] as const) {
    it(`${spec[1]}-day certificate: no warning before its scaled threshold, each exactly once; the scanner flips at the same moments`, async () => {
      const c = certs.find((x) => x.domain === spec[0])!;
      const crossings = THRESHOLDS.map((t, i) => ({ t, label: c.labels[i]!, at: due(c, t) }));
      // A run just after issuance, one 2 minutes before every threshold, one 2 minutes after the last.
      const runs = [t0 + MINUTE, ...crossings.map((x) => x.at - 2 * MINUTE), crossings[crossings.length - 1]!.at + 2 * MINUTE];
      for (const [i, at] of runs.entries()) {
        const r = await scanAt(c, at);
        const when = `run ${i} at ${((c.notAfter - at) / DAY).toFixed(3)} days left`;
        const doc = JSON.parse(r.stdout) as { endpoints: Array<{ status: string; problems: Array<{ code: string; message: string }> }> };
        // The scanner: expiring-soon by the scaled windows, and the exit code with it.
        const want = expectedStatus(c, at);
        assert.equal(doc.endpoints[0]?.status, want, `${when}: ${JSON.stringify(doc.endpoints[0]?.problems)}`);
        assert.equal(r.code, { ok: 0, warning: 1, critical: 2 }[want], `${when}: ${r.stderr}`);
        // Notifications: one digest for the threshold crossed since the previous run, nothing else.
        const mails = await mailsFor(c);
        assert.equal(mails.length, Math.max(0, i - 1), `${when}: ${mails.map((m) => m.subject).join(' | ')}`);
        const previous = i >= 2 ? crossings[i - 2]! : undefined;
        // A threshold of 7 days or less (scaled or not) is critical, and the subject leads with it (issue 14).
        if (previous) assert.equal(mails[mails.length - 1]!.subject, `[certs] ${previous.t <= 7 ? 'CRITICAL: ' : ''}1 certificate expires within ${previous.label}: ${c.domain}`, when);
      }
      // Each threshold once; a further run sends nothing.
      const again = await scanAt(c, runs[runs.length - 1]! + 5 * MINUTE);
      assert.equal(again.code, 2);
      assert.equal((await mailsFor(c)).length, THRESHOLDS.length);
    });
  }

  it('certs status <name> shows the thresholds in force and why, in text and JSON', async () => {
    const configOf = (domain: string): string => certs.find((c) => c.domain === domain)!.config;
    const text = await runCli(['status', 'fortyseven.test', '--config', configOf('fortyseven.test')]);
    assert.match(text.stdout, /thresholds 47-day certificate: warning at 15\.7 days, critical at 3\.7 days \(scaled from 30\/7 because the lifetime is under 90 days\)/);
    assert.match(text.stdout, /emails {5}15\.7 days, 7\.3 days, 3\.7 days, 1\.6 days, 13 hours left \(scaled from 30\/14\/7\/3\/1\)/);
    const long = await runCli(['status', 'ninety.test', '--config', configOf('ninety.test')]);
    assert.match(long.stdout, /thresholds 90-day certificate: warning at 30 days, critical at 7 days \(not scaled: the lifetime is at least 90 days\)/);
    const json = await runCli(['status', 'six.test', '--json', '--config', configOf('six.test')]);
    const doc = JSON.parse(json.stdout) as { endpoints: Array<{ thresholds?: { lifetimeDays: number; scaled: boolean; warningDays: number; criticalDays: number; notify: Array<{ threshold: number; days: number }>; explanation: string } }> };
    const th = doc.endpoints[0]?.thresholds;
    assert.equal(th?.lifetimeDays, 6);
    assert.equal(th?.scaled, true);
    assert.equal(th?.warningDays, 2);
    assert.equal(th?.criticalDays, 0.467);
    assert.deepEqual(th?.notify.map((n) => n.threshold), [30, 14, 7, 3, 1]);
    assert.match(th?.explanation ?? '', /^6-day certificate: warning at 2 days, critical at 11 hours/);
    // The table view's JSON is unchanged: no thresholds without a name.
    const all = await runCli(['status', '--json', '--config', configOf('six.test')]);
    assert.equal((JSON.parse(all.stdout) as { endpoints: Array<Record<string, unknown>> }).endpoints.some((e) => 'thresholds' in e), false);
  });
});
