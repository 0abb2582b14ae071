/**
 * `certs status --json` of the whole inventory is written from text SQLite serialised
 * (ScanRepository.statusRows, service/status.ts statusJson): it must be byte for byte the
 * document of statusDocument, the report objects written by JSON.stringify.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { IssuedCert } from '../../../src/store/issued.js';
import { statusDocument, statusJson, statusReports, statusTable, overallOf } from '../../../src/service/status.js';
import { renderTable, statusTableText, storedTableFields, tableCells, tableFields } from '../../../src/cli/render.js';
import { overallStatus } from '../../../src/core/report.js';
import { writeJsonDocument, writeJsonDocumentAfter } from '../../../src/cli/json-out.js';
import { fakeCert, reportFor } from '../../helpers/store-fixtures.js';
import type { EndpointReport } from '../../../src/core/model.js';
import type { Problem } from '../../../src/core/problems.js';
import { a as asyncOf } from '../../helpers/async-store.js';

const NOW = new Date('2025-06-03T00:00:00.000Z');

function sink(): { write(c: string | Uint8Array): boolean; text(): string } {
  const parts: string[] = [];
  return { write: (c) => (parts.push(typeof c === 'string' ? c : Buffer.from(c).toString('utf8')), true), text: () => parts.join('') };
}

async function both(configText: string, dir: string, store: Store | null): Promise<{ old: string; now: string; oldStatus: string; nowStatus: string }> {
  const config = parseConfigText(configText, join(dir, 'certs.yaml'), { env: {} });
  const a = sink();
  const doc = await statusDocument(config, asyncOf(store), NOW);
  writeJsonDocument(a, doc, 'endpoints');
  const b = sink();
  const { batches, summary } = statusJson(config, asyncOf(store));
  await writeJsonDocumentAfter(b, batches, 'endpoints', () => ({ generatedAt: NOW.toISOString(), summary, endpoints: [] }));
  return { old: a.text(), now: b.text(), oldStatus: overallStatus(doc.endpoints), nowStatus: overallOf(summary) };
}

/** The status table both ways (colour on: the STATUS cells are painted). */
async function tables(configText: string, dir: string, store: Store | null): Promise<{ old: string; now: string; summaries: [string, string] }> {
  const config = parseConfigText(configText, join(dir, 'certs.yaml'), { env: {} });
  const reports = await statusReports(config, asyncOf(store));
  const { batches, summary } = statusTable(config, asyncOf(store));
  const issuers = new Map<string | null, string>();
  const text = statusTableText();
  for await (const batch of batches) for (const e of batch) text.add(tableCells('fields' in e ? storedTableFields(e, issuers) : tableFields(e), true));
  const counted = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  for (const r of reports) counted[r.status]++;
  // As the CLI writes it: chunks of lines, each line ending in a newline.
  return { old: `${renderTable(reports, true)}\n`, now: [...text.chunks(7)].join(''), summaries: [JSON.stringify(counted), JSON.stringify(summary)] };
}

const odd = ['quote " and \\ backslash', 'tab\tnewline\ncr\r', 'nul \u0000 and \u001e\u001f separators', 'ünïcödé 😀 \u2028 \ud7ff \ue000', 'CN=a,O=b'];

/** One scan per item: the plain case and every kind of field the store has to write. */
function scans(): { report: EndpointReport; chainDer: Buffer[]; extra?: { error?: null } }[] {
  const inter = fakeCert('Inter', { isCA: true });
  const out: { report: EndpointReport; chainDer: Buffer[] }[] = [];
  const add = (target: Parameters<typeof reportFor>[0], over: Partial<EndpointReport> = {}, opts: Parameters<typeof reportFor>[2] = {}) => {
    const leaf = fakeCert(`${target.domain}|${target.host ?? ''}|${target.address ?? ''}|${out.length}`, { issuer: inter.info.subject });
    const report = { ...reportFor(target, [leaf, inter], opts), ...over };
    out.push({ report, chainDer: [leaf.der, inter.der] });
  };
  add({ domain: 'plain.example' });
  add({ domain: 'noproto.example' }, { protocol: null, orderKnown: undefined, crossCheck: undefined });
  add({ domain: 'order.example' }, { orderKnown: false, note: 'the chain came in two records' });
  add({ domain: 'cross.example' }, { crossCheck: { openssl: 'unable to get local issuer certificate', agrees: false, note: 'OpenSSL disagrees "here"' } });
  add({ domain: 'extra.example' }, { notBefore: '2025-01-01T00:00:00.000Z', servedCount: 2, leafNotAfter: '2026-02-01T00:00:00.000Z' });
  add({ domain: 'extra-null.example' }, { notBefore: null, servedCount: 0 });
  add({ domain: 'extra-big.example' }, { servedCount: 2 ** 53 + 2 });
  add({ domain: 'file.example', host: 'file.example', port: 0, source: 'file' }, { file: '/etc/ssl/file.pem', servedCount: 1 });
  add({ domain: 'problems.example' }, {}, { problems: [{ code: 'expiring-soon', severity: 'warning', message: 'expires in 12 days', hint: 'renew it' }, { code: 'wrong-order', severity: 'warning', message: 'served out of order' }] });
  add({ domain: 'problems-nested.example' }, {}, { problems: [{ code: 'odd', severity: 'warning', message: 'nested', detail: { ratio: 1.5 } } as unknown as Problem] });
  add({ domain: 'problems-empty.example' }, {}, { problems: [{} as unknown as Problem] });
  add({ domain: 'problems-odd.example' }, {}, { problems: [{ code: 'odd', severity: 'critical', message: odd.join(' | '), n: [1e21, -0, 0.1 + 0.2, 2 ** 53 + 2, -1.5e-7], e: {}, a: [], deep: { a: [{ b: [[]] }] } } as unknown as Problem] });
  add({ domain: 'days.example' }, { daysLeft: -3 });
  add({ domain: 'days-frac.example' }, { daysLeft: 12.5 });
  add({ domain: 'days-null.example' }, { daysLeft: null, notAfter: null, fingerprint256: null, issuer: null, subject: null });
  add({ domain: 'epoch.example' }, {}, { scannedAt: '1970-01-01T00:00:00.000Z' });
  add({ domain: 'far.example' }, {}, { scannedAt: '+010000-01-01T00:00:00.000Z' });
  add({ domain: 'late.example' }, {}, { scannedAt: '9999-12-31T23:59:59.999Z' });
  odd.forEach((s, i) => add({ domain: `odd${i}.example` }, { subject: s, issuer: `${s} CA`, error: s, protocol: s }));
  // Every address of a name: three current rows, one gone (older than an hour before the newest).
  for (const [address, at] of [['192.0.2.10', '2025-06-01T12:00:00.000Z'], ['192.0.2.9', '2025-06-01T12:00:01.000Z'], ['2001:db8::1', '2025-06-01T12:00:00.500Z'], ['192.0.2.99', '2025-06-01T10:00:00.000Z']] as const) {
    add({ domain: 'multi.example', address }, {}, { scannedAt: at });
  }
  // A name scanned at one address; another scanned under `first` (no address) after its address rows.
  add({ domain: 'one-address.example', address: '198.51.100.7' });
  add({ domain: 'plain-newest.example', address: '198.51.100.8' }, {}, { scannedAt: '2025-06-01T11:00:00.000Z' });
  add({ domain: 'plain-newest.example' }, {}, { scannedAt: '2025-06-01T12:00:00.000Z' });
  // A configured address, also found through the name's expansion of another target.
  add({ domain: 'fixed.example', address: '203.0.113.5' });
  add({ domain: 'fixed.example', address: '203.0.113.6' });
  // Lifecycle: a stale deployment, the current certificate, a renewal and a deploy failure.
  add({ domain: 'stale.example' }, { notAfter: '2025-07-01T00:00:00.000Z' });
  add({ domain: 'current.example' });
  add({ domain: 'renewfail.example' });
  add({ domain: 'deployfail.example' });
  return out;
}

const CONFIG = `dataDir: ./data
domains:
${['plain', 'noproto', 'order', 'cross', 'extra', 'extra-null', 'extra-big', 'problems', 'problems-nested', 'problems-empty', 'problems-odd', 'days', 'days-frac', 'days-null', 'epoch', 'far', 'late', 'multi', 'one-address', 'plain-newest', ...odd.map((_, i) => `odd${i}`)]
  .map((d) => `  - {name: ${d}.example, managed: false}\n`).join('')}  - {name: file.example, managed: false, endpoints: [], files: {cert: /etc/ssl/file.pem}, nginx: false}
  - {name: fixed.example, managed: false, endpoints: [{host: fixed.example}, {host: fixed.example, address: 203.0.113.5}]}
  - {name: never.example, managed: false}
  - {name: stale.example, nginx: false}
  - {name: current.example, nginx: false}
  - {name: renewfail.example, nginx: false}
  - {name: deployfail.example, nginx: false}
`;

function issued(lineage: string, fingerprint256: string, notAfter: string): IssuedCert {
  return {
    lineage, version: 2, fingerprint256, serial: '02', notBefore: '2025-05-01T00:00:00.000Z', notAfter, issuer: 'CN=Inter', names: [lineage],
    keyType: 'ecdsa-p256', directoryUrl: 'https://acme.test/directory', profile: null, ariCertId: null, replacedId: null,
    dir: `/data/certs/${lineage}/archive/2`, issuedAt: '2025-05-01T00:05:00.000Z', reason: 'test', revokedAt: null, revokeReason: null,
  };
}

describe('status --json from serialised rows', () => {
  it('is byte for byte the document of the report objects, for every kind of stored field, address and lifecycle state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-status-json-'));
    try {
      const items = scans();
      const store = openStore(join(dir, 'data'));
      try {
        store.scans.recordMany(items);
        const byDomain = new Map(items.map((i) => [i.report.domain, i.report]));
        store.issued.record(issued('stale.example', 'FF:NEW', '2025-09-01T00:00:00.000Z'));
        store.issued.record(issued('current.example', byDomain.get('current.example')!.fingerprint256!, '2026-01-01T00:00:00.000Z'));
        store.renewals.recordFailure('renewfail.example', { at: '2025-06-01T00:00:00.000Z', error: 'rate limited', code: 'acme', nextAttemptAt: '2025-06-02T00:00:00.000Z' });
        store.deployments.recordFailure({ lineage: 'deployfail.example', version: 2, fingerprint256: null, code: 'reload', detail: 'nginx -s reload failed', at: '2025-06-01T00:00:00.000Z' });
      } finally {
        store.close();
      }
      const ro = openStore(join(dir, 'data'), { readonly: true })!;
      try {
        for (const mode of ['all', 'first']) {
          const r = await both(`scan: {addresses: ${mode}}\n${CONFIG}`, dir, ro);
          assert.equal(r.now, r.old, `scan.addresses ${mode}`);
          assert.equal(r.nowStatus, r.oldStatus);
        }
        for (const mode of ['all', 'first']) {
          const t = await tables(`scan: {addresses: ${mode}}\n${CONFIG}`, dir, ro);
          assert.equal(t.now, t.old, `table, scan.addresses ${mode}`);
          assert.equal(t.summaries[1], t.summaries[0]);
        }
        const r = await both(CONFIG, dir, ro);
        // Not vacuous: which rows SQLite serialised, and which it left to the report objects.
        const target = (domain: string) => ({ domain, host: domain, port: 443, source: 'tls' as const });
        const serialised = ['plain', 'noproto', 'order', 'cross', 'extra', 'extra-null', 'days', 'days-null', 'epoch', 'late', 'odd0', 'odd2', 'odd3', 'problems', 'problems-nested', 'problems-empty', 'problems-odd'];
        const left = ['extra-big', 'days-frac', 'far'];
        const rows = ro.scans.statusRows([...serialised, ...left].map((d) => target(`${d}.example`)));
        assert.deepEqual(rows.map((x) => x.text !== null), [...serialised.map(() => true), ...left.map(() => false)]);
        // The table's fields: problems are written too; a fractional daysLeft is not (nor, as for
        // JSON, a scan time outside years 0000-9999).
        const cells = ro.scans.statusRows(['plain', 'problems', 'odd1', 'days-frac', 'far'].map((d) => target(`${d}.example`)), 'table');
        assert.deepEqual(cells.map((x) => x.text !== null), [true, true, true, false, false]);
        for (const want of ['"stale-deployment"', '"renewal-failing"', '"deploy-failed"', '"never.example"', '"address": "2001:db8::1"', '\\u0000', '😀', '"servedCount": 2']) {
          assert.ok(r.now.includes(want), want);
        }
        assert.ok(!r.now.includes('192.0.2.99'), 'an address gone from DNS is not shown');
      } finally {
        ro.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the texts stored at scan time only when this rendering made them; a writer renders them again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-status-json-'));
    try {
      const items = scans();
      const dataDir = join(dir, 'data');
      // A store as migration 9 leaves one: scans recorded before it, no texts, no rendering named.
      const seed = openStore(dataDir);
      try {
        seed.scans.recordMany(items.slice(0, -1));
        seed.db.exec("UPDATE endpoints SET status_json = NULL, status_table = NULL; DELETE FROM meta WHERE key = 'status_text_rendering'");
      } finally {
        seed.close();
      }
      const stored = (db: Store) => db.db.prepare("SELECT count(*) FROM endpoints WHERE status_json IS NOT NULL").pluck().get() as number;
      let ro = openStore(dataDir, { readonly: true })!;
      let r = await both(CONFIG, dir, ro);
      assert.equal(r.now, r.old, 'no texts yet: the live rendering');
      assert.equal(stored(ro), 0);
      ro.close();
      // Texts of another rendering (another certs version) are never read...
      const rw = openStore(dataDir);
      rw.scans.recordMany(items.slice(-1));
      assert.ok(stored(rw) > 10, 'the first write rendered every endpoint');
      const tamper = (rendering: string) => rw.db.exec(`UPDATE endpoints SET status_json = '    {"tampered": true}' WHERE status_json IS NOT NULL; UPDATE meta SET value = '${rendering}' WHERE key = 'status_text_rendering'`);
      const current = rw.meta.get('status_text_rendering')!;
      tamper('another-rendering');
      ro = openStore(dataDir, { readonly: true })!;
      r = await both(CONFIG, dir, ro);
      assert.equal(r.now, r.old);
      assert.ok(!r.now.includes('tampered'));
      // ...while those this rendering names are (the test above is not vacuous)...
      tamper(current);
      r = await both(CONFIG, dir, ro);
      assert.ok(r.now.includes('"tampered": true'));
      // ...and the next write renders them all again.
      tamper('another-rendering');
      rw.scans.recordMany(items.slice(-1));
      assert.equal(rw.meta.get('status_text_rendering'), current);
      r = await both(CONFIG, dir, ro);
      assert.equal(r.now, r.old);
      assert.ok(!r.now.includes('tampered'));
      ro.close();
      rw.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('problems json_pretty would write otherwise than JS (a repeated key) are left to the report objects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-status-json-'));
    try {
      const items = scans();
      const dataDir = join(dir, 'data');
      const rw = openStore(dataDir);
      rw.scans.recordMany(items);
      // Not written by certs (JSON.stringify never repeats a key): JSON.parse keeps the last one.
      rw.db.exec(`UPDATE scan_results SET problems_json = '[{"code":"a","severity":"warning","message":"first","message":"last"}]'
        WHERE id = (SELECT s.result_id FROM endpoints e JOIN scans s ON s.id = e.last_scan_id WHERE e.domain = 'problems.example');
        DELETE FROM meta WHERE key = 'status_text_rendering'`);
      rw.scans.recordMany(items.slice(0, 1));
      const [row] = rw.scans.statusRows([{ domain: 'problems.example', host: 'problems.example', port: 443, source: 'tls' }]);
      assert.equal(row?.text, null);
      const r = await both(CONFIG, dir, rw);
      assert.equal(r.now, r.old);
      assert.ok(r.now.includes('"message": "last"') && !r.now.includes('"first"'));
      rw.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with nothing stored, every target is unknown, as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-status-json-'));
    try {
      const r = await both(CONFIG, dir, null);
      assert.equal(r.now, r.old);
      const t = await tables(CONFIG, dir, null);
      assert.equal(t.now, t.old);
      assert.equal(r.nowStatus, 'unknown');
      const empty = await both('domains: []\n', dir, null);
      assert.equal(empty.now, empty.old);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SQLite json_quote writes every character as JSON.stringify does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-status-json-'));
    const store = openStore(join(dir, 'data'));
    try {
      const quote = store.db.prepare('SELECT json_quote(value) FROM json_each(?)').pluck();
      for (let start = 0; start < 0x110000; start += 0x8000) {
        const chars: string[] = [];
        for (let cp = start; cp < Math.min(start + 0x8000, 0x110000); cp++) if (cp < 0xd800 || cp > 0xdfff) chars.push(String.fromCodePoint(cp));
        const got = quote.all(JSON.stringify(chars)) as string[];
        assert.equal(got.length, chars.length);
        for (let i = 0; i < chars.length; i++) if (got[i] !== JSON.stringify(chars[i])) assert.fail(`U+${chars[i]!.codePointAt(0)!.toString(16)}: ${got[i]} vs ${JSON.stringify(chars[i])}`);
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
