import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import vm from 'node:vm';
import { renderDashboard, rowHtml, compactRows, rowHref, scriptJson, PAGE_SIZE, type CompactRow, type RowsDocument } from '../../../src/web/page.js';
import { renderEndpointPage } from '../../../src/web/endpoint-page.js';
import { CONTENT_SECURITY_POLICY, ROW_JS, SCRIPT, SCRIPT_SHA256, STYLE, STYLE_SHA256 } from '../../../src/web/assets.js';
import { esc, num } from '../../../src/web/html.js';
import { byUrgency, dashboardSummary, expiryTimeline, lifetimeLeft } from '../../../src/core/dashboard.js';
import type { DashboardData, DashboardRow, EndpointDetail, RunView } from '../../../src/web/model.js';
import type { CertInfo } from '../../../src/core/model.js';
import type { Status } from '../../../src/core/problems.js';

const NOW = new Date('2026-12-04T09:00:00.000Z');
const DAY = 86_400_000;
const at = (d: number): string => new Date(NOW.getTime() + d * DAY).toISOString();
const HOSTILE = '<script>alert("x")</script>&\'';

function row(i: number, over: Partial<DashboardRow> = {}): DashboardRow {
  const status: Status = (['ok', 'warning', 'critical', 'unknown'] as const)[i % 4]!;
  const daysLeft = status === 'unknown' ? null : (i * 13) % 100 - 5;
  const notBefore = daysLeft === null ? null : at(daysLeft - 90);
  const notAfter = daysLeft === null ? null : at(daysLeft);
  return {
    id: i + 1, domain: `d${i}.example`, host: `d${i}.example`, port: 443, endpoint: `d${i}.example:443`, source: 'tls',
    managed: i % 2 === 0, status, daysLeft, notBefore, notAfter, lifetimeLeft: lifetimeLeft(notBefore, notAfter, NOW),
    issuer: status === 'unknown' ? null : 'R11', subject: `CN=d${i}.example`,
    problems: status === 'ok' || status === 'unknown' ? [] : [{ code: status === 'critical' ? 'expired' : 'expiring-soon', severity: status === 'critical' ? 'critical' : 'warning' }],
    scannedAt: status === 'unknown' ? null : NOW.toISOString(),
    ...over,
  };
}

function data(rows: DashboardRow[], lastRun: RunView | null = null): DashboardData {
  byUrgency(rows);
  return { generatedAt: NOW.toISOString(), version: '0.1.0', summary: dashboardSummary(rows), timeline: expiryTimeline(rows, NOW), rows, lastRun };
}

const count = (html: string, needle: string): number => html.split(needle).length - 1;
const testid = (html: string, id: string): string | undefined => html.match(new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`))?.[1];
const pageJson = (html: string): RowsDocument => JSON.parse(html.match(/<script type="application\/json" id="rows">([^]*?)<\/script>/)![1]!);
const rowsJson = (html: string): CompactRow[] => pageJson(html).rows;

describe('dashboard page', () => {
  const rows = Array.from({ length: 10 }, (_, i) => row(i));
  const html = renderDashboard(data(rows), { mode: 'daemon' });

  test('the cards show the summary as bare counts', () => {
    const s = dashboardSummary(rows);
    for (const k of ['ok', 'warning', 'critical', 'unknown', 'within7', 'within30'] as const) assert.equal(testid(html, `card-${k}`), String(s[k]), k);
  });

  test('the timeline bars add up to the endpoints expiring within 13 weeks', () => {
    const counts = [...html.matchAll(/data-testid="timeline-bar" data-count="(\d+)"/g)].map((m) => Number(m[1]));
    assert.equal(counts.length, 13);
    const want = rows.filter((r) => r.daysLeft !== null && r.daysLeft >= 0 && r.daysLeft < 91).length;
    assert.equal(counts.reduce((a, b) => a + b, 0), want);
    assert.ok(want > 0);
  });

  test('one row per endpoint in urgency order, with the hooks the browser tests use', () => {
    const trs = [...html.matchAll(/<tr data-testid="endpoint-row" data-status="(\w+)" data-days="(-?\d*)" data-id="(\d*)">/g)];
    assert.equal(trs.length, 10);
    assert.deepEqual(trs.map((m) => m[1]), ['critical', 'critical', 'warning', 'warning', 'warning', 'unknown', 'unknown', 'ok', 'ok', 'ok']);
    const unknown = trs.find((m) => m[1] === 'unknown')!;
    assert.equal(unknown[2], '');
    for (const k of ['days', 'domain', 'status', 'issuer', 'endpoint']) assert.match(html, new RegExp(`<th scope="col" data-col="${k}" aria-sort="none"><button type="button" data-sort="${k}">`));
    for (const id of ['filter-status', 'filter-code', 'filter-text', 'page-next', 'page-prev', 'page-info', 'rows-body']) assert.match(html, new RegExp(`id="${id}"`));
  });

  test('detail links: endpointHref in daemon mode, none in a file report', () => {
    assert.match(html, /<a href="endpoint\/1">d0\.example<\/a>/);
    const custom = renderDashboard(data(rows.slice()), { mode: 'daemon', endpointHref: (id) => (id === 1 ? null : `/x/${id}?a=1&b=2`) });
    assert.match(custom, /<a href="\/x\/2\?a=1&amp;b=2">d1\.example<\/a>/);
    assert.doesNotMatch(custom, /<a href="[^"]*">d0\.example</);
    const file = renderDashboard(data(rows.slice()), { mode: 'file' });
    assert.doesNotMatch(file, /<a href="endpoint/);
    assert.equal(pageJson(file).href, null);
    assert.ok(pageJson(file).rows.every((r) => r.length === 9 && rowHref(r, null) === null));
    // The default daemon links travel as one template, the custom ones row by row.
    assert.deepEqual(pageJson(html).href, ['endpoint/', '']);
    assert.ok(pageJson(html).rows.every((r) => r.length === 9));
    const c = pageJson(custom);
    assert.deepEqual(c.href, ['/x/', '?a=1&b=2']);
    assert.deepEqual(c.rows.filter((r) => r.length > 9).map((r) => [r[0], r[9]]), [[1, null]]);
    assert.match(file, /saved report/);
  });

  test('the problem-code filter offers the codes present, with counts', () => {
    assert.match(html, /<option value="expired">expired \(2\)<\/option>/);
    assert.match(html, /<option value="expiring-soon">expiring-soon \(3\)<\/option>/);
    assert.doesNotMatch(html, /<option value="hostname-mismatch">/);
  });

  test('the page is self-contained and fits the CSP: one style and one script, by hash; no handlers, no style attributes, nothing external', () => {
    const styles = [...html.matchAll(/<style>([^]*?)<\/style>/g)];
    const scripts = [...html.matchAll(/<script>([^]*?)<\/script>/g)];
    assert.equal(styles.length, 1);
    assert.equal(scripts.length, 1);
    const sha = (s: string): string => createHash('sha256').update(s).digest('base64');
    assert.equal(sha(styles[0]![1]!), STYLE_SHA256);
    assert.equal(sha(scripts[0]![1]!), SCRIPT_SHA256);
    assert.ok(CONTENT_SECURITY_POLICY.includes(`'sha256-${SCRIPT_SHA256}'`) && CONTENT_SECURITY_POLICY.includes(`'sha256-${STYLE_SHA256}'`));
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-/);
    assert.doesNotMatch(html, /\son[a-z]+=/i);
    assert.doesNotMatch(html, /\sstyle=/i);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i);
    assert.doesNotMatch(html, /@import|url\(http/i);
    assert.doesNotMatch(SCRIPT + STYLE, /\beval\(|new Function|fetch\(|XMLHttpRequest/);
  });

  test('a nonce, when given, goes on the style and the script', () => {
    const n = renderDashboard(data(rows.slice()), { mode: 'daemon', cspNonce: 'abc"123' });
    assert.match(n, /<style nonce="abc&quot;123">/);
    assert.match(n, /<script nonce="abc&quot;123">/);
  });

  test('the last run, and "no run recorded yet" without one', () => {
    assert.match(html, /No run recorded yet\./);
    const run: RunView = { startedAt: at(-1), finishedAt: at(-0.99), outcome: 'failed', renewed: ['a.example', HOSTILE], deployed: [], notified: 3, failed: ['b.example'] };
    const withRun = renderDashboard(data(rows.slice(), run));
    const section = withRun.match(/<section id="last-run"[^]*?<\/section>/)![0];
    assert.match(section, /2026-12-03 09:00 UTC/);
    assert.match(section, /✖<\/span> failed/);
    assert.match(section, /a\.example, &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&amp;&#39;/);
    assert.match(section, /<dt>Deployed<\/dt><dd>none<\/dd>/);
    assert.match(section, /<dt>Failed<\/dt><dd>b\.example<\/dd>/);
    assert.match(section, /3 notifications/);
  });

  test('0 endpoints: zero cards and bars, a hint instead of the table, no script', () => {
    const empty = renderDashboard(data([]));
    for (const k of ['ok', 'warning', 'critical', 'unknown', 'within7', 'within30']) assert.equal(testid(empty, `card-${k}`), '0');
    assert.equal(count(empty, 'data-testid="timeline-bar" data-count="0"'), 13);
    assert.equal(count(empty, 'data-testid="endpoint-row"'), 0);
    assert.match(empty, /No endpoints yet/);
    assert.doesNotMatch(empty, /<script/);
  });

  test('more rows than a page: the first page as HTML, every row as JSON', () => {
    const many = Array.from({ length: 250 }, (_, i) => row(i));
    const page = renderDashboard(data(many));
    // The page script holds the same markup: count in what precedes it.
    assert.equal(count(page.slice(0, page.indexOf('<script')), 'data-testid="endpoint-row"'), PAGE_SIZE);
    assert.equal(rowsJson(page).length, 250);
    assert.match(page, /<span id="page-info" aria-live="polite">1–100 of 250<\/span>/);
    assert.match(page, /<button type="button" id="page-next">/);
    assert.match(page, /id="nojs"/);
  });
});

describe('hostile names are escaped everywhere', () => {
  const evil = row(0, { domain: HOSTILE, endpoint: `${HOSTILE}:443 @::1`, issuer: `CN=${HOSTILE}`, subject: HOSTILE, status: 'critical', problems: [{ code: 'expired', severity: 'critical' }] });
  const html = renderDashboard(data([evil, row(1)]), { mode: 'daemon' });

  test('no raw markup from a name reaches the page', () => {
    assert.equal(count(html, '<script>alert'), 0);
    assert.equal(count(html, '</script>'), 2, 'only the JSON and the page script close');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;'));
  });

  test('the JSON cannot close its element, and still parses to the same names', () => {
    const json = html.match(/<script type="application\/json" id="rows">([^]*?)<\/script>/)![1]!;
    assert.ok(!json.includes('<'));
    const doc = JSON.parse(json) as RowsDocument;
    const back = doc.rows;
    assert.equal(back.find((r) => r[0] === 1)![1], HOSTILE);
    assert.ok(doc.issuers.includes(`CN=${HOSTILE}`));
    assert.equal(scriptJson(['</script><!--']), '["\\u003c/script>\\u003c!--"]');
  });

  test('a status, id or days left the types do not allow never reaches the markup', () => {
    const odd = row(2, { status: '"><b>x' as Status, id: '1"><b>' as unknown as number, daysLeft: '<i>' as unknown as number });
    const doc = compactRows([odd], { mode: 'daemon' });
    assert.deepEqual([doc.rows[0]![0], doc.rows[0]![3], doc.rows[0]![4]], [null, 'unknown', null]);
    assert.doesNotMatch(rowHtml(doc.rows[0]!, doc), /<b>|<i>/);
    assert.equal(compactRows([row(2, { status: 'toString' as Status })], { mode: 'daemon' }).rows[0]![3], 'unknown');
  });

  test('the page title and the timeline id are escaped too', () => {
    assert.match(html, /<title>certs: 2 endpoints, [^<]*<\/title>/);
  });
});

describe('the page script renders rows exactly as the server does', () => {
  const cases: DashboardRow[] = [
    row(0), row(1), row(2), row(3),
    row(4, { domain: HOSTILE, endpoint: `${HOSTILE}:443`, issuer: HOSTILE, problems: [{ code: 'expired', severity: 'critical' }, { code: 'weak-key', severity: 'warning' }] }),
    row(5, { id: null, lifetimeLeft: null, issuer: null, daysLeft: null }),
    row(6, { lifetimeLeft: 0 }),
    row(7, { lifetimeLeft: 1, managed: true }),
    row(8, { daysLeft: -17 }),
    row(9, { endpoint: '/etc/ssl/<x>.pem', source: 'file', issuer: 'R11' }),
  ];
  const sandbox: { rowHtml?: (r: unknown, ctx: unknown) => string } = {};
  vm.runInNewContext(`${ROW_JS}\nthis.rowHtml = rowHtml;`, sandbox);
  const modes: Array<[string, { mode: 'daemon' | 'file'; endpointHref?: (id: number) => string | null }]> = [
    ['daemon', { mode: 'daemon' }],
    ['file', { mode: 'file' }],
    ['custom links', { mode: 'daemon', endpointHref: (id) => (id % 3 === 0 ? null : id % 3 === 1 ? `/e/${id}?x="&` : `/other/${id}`) }],
  ];
  for (const [name, opts] of modes) {
    test(name, () => {
      // Through JSON, as the browser gets it.
      const doc = JSON.parse(scriptJson(compactRows(cases, opts))) as RowsDocument;
      assert.equal(doc.rows.length, cases.length);
      doc.rows.forEach((c, i) => {
        const r = cases[i]!;
        const server = rowHtml(c, doc);
        assert.equal(sandbox.rowHtml!(c, doc), server, r.domain);
        const want = r.id === null ? null : opts.endpointHref ? opts.endpointHref(r.id) : opts.mode === 'daemon' ? `endpoint/${r.id}` : null;
        assert.equal(rowHref(c, doc.href), want);
        if (want !== null) assert.ok(server.includes(`<a href="${esc(want)}">`));
        else assert.ok(!server.includes('<a '));
        assert.ok(server.includes(`<td class="c-ep">${esc(r.endpoint)}</td>`), 'the endpoint label whole');
        assert.ok(server.includes(`<td class="c-issuer">${r.issuer === null ? '–' : esc(r.issuer)}</td>`));
      });
    });
  }
  test('issuers are sent once; labels that start with the domain carry only the rest', () => {
    const doc = compactRows([row(0), row(1), row(2), row(4, { issuer: 'Other' }), row(5, { endpoint: '/etc/ssl/x.pem', source: 'file' })], { mode: 'daemon' });
    assert.deepEqual(doc.issuers, ['R11', 'Other']);
    assert.deepEqual(doc.rows.map((r) => r[6]), [0, 0, 0, 1, 0]);
    assert.deepEqual(doc.rows.map((r) => r[2]), [':443', ':443', ':443', ':443', '/etc/ssl/x.pem']);
    assert.deepEqual(doc.rows.map((r) => r[8]), [3, 2, 3, 3, 0]);
  });
});

function cert(over: Partial<CertInfo> = {}): CertInfo {
  return {
    subject: 'CN=leaf.example\nO=Example', issuer: 'CN=Example CA', serialNumber: '01AB', notBefore: at(-60), notAfter: at(30),
    fingerprint256: 'AA:BB:CC', keyType: 'ec', keyBits: 256, curve: 'prime256v1', signatureAlgorithm: 'ecdsa-with-SHA256',
    selfSigned: false, isCA: false, dnsNames: ['leaf.example'], ipAddresses: [], aiaIssuers: [], ...over,
  };
}

describe('endpoint page', () => {
  const base: EndpointDetail = {
    generatedAt: NOW.toISOString(), version: '0.1.0', row: row(1, { status: 'critical' }),
    chain: [
      cert(),
      cert({ subject: '', dnsNames: ['empty.example'], fingerprint256: 'DD:EE', isCA: true, keyType: 'rsa', keyBits: 2048, curve: undefined, signatureAlgorithm: 'sha256WithRSAEncryption' }),
      cert({ subject: 'CN=Root', issuer: 'CN=Root', fingerprint256: '11:22', selfSigned: true, isCA: true, notAfter: at(-2) }),
    ],
    servedCount: 2,
    problems: [{ code: 'hostname-mismatch', severity: 'critical', message: `Not valid for ${HOSTILE}`, hint: 'Reissue with the name <b>' }],
    history: [{ scannedAt: at(-2), daysLeft: 32, status: 'ok' }, { scannedAt: at(-1), daysLeft: 31, status: 'critical' }],
    renewals: [{ at: at(-3), ok: false, version: null, detail: `rate limited ${HOSTILE}` }, { at: at(-60), ok: true, version: 2, detail: '' }],
    deployments: [{ at: at(-59), version: 2, state: 'stale', detail: 'nginx serves v1' }],
    notifications: [{ at: at(-1), subject: `[certs] ${HOSTILE}`, state: 'delivered' }],
  };
  const html = renderEndpointPage(base, { mode: 'daemon' });

  test('the chain, certificate by certificate, served first, then the trust store', () => {
    const certs = [...html.matchAll(/<li data-testid="chain-cert" data-fingerprint="([^"]*)" data-source="([^"]*)">/g)];
    assert.deepEqual(certs.map((m) => `${m[1]}/${m[2]}`), ['AA:BB:CC/served', 'DD:EE/served', '11:22/trust-store']);
    assert.match(html, /CN=leaf\.example, O=Example/);
    assert.match(html, /\(empty subject\) empty\.example/);
    assert.match(html, /ECDSA prime256v1 256 bits/);
    assert.match(html, /RSA 2048 bits/);
    assert.match(html, /sha256WithRSAEncryption/);
    assert.match(html, /<strong>expired<\/strong> 2 days ago/);
    assert.match(html, /expires in 30 days/);
    assert.match(html, /2 certificates served, 1 added from the trust store/);
  });

  test('problems with message and fix, escaped', () => {
    assert.match(html, /<code>hostname-mismatch<\/code> Not valid for &lt;script&gt;/);
    assert.match(html, /Fix: Reissue with the name &lt;b&gt;/);
  });

  test('history, renewals, deployments and notifications', () => {
    assert.match(html, /<svg class="spark"/);
    assert.match(html, /2 scans from/);
    assert.match(html, /✖<\/span> failed<\/span><\/td><td>–<\/td><td>rate limited &lt;script&gt;/);
    assert.match(html, /✓<\/span> issued<\/span><\/td><td>2<\/td>/);
    assert.match(html, /<td>stale<\/td><td>2<\/td><td>nginx serves v1<\/td>/);
    assert.match(html, /\[certs\] &lt;script&gt;/);
    assert.equal(count(html, '<script'), 0, 'no script, no raw markup from names');
    assert.match(html, /<a href="\.\.\/">/);
  });

  test('a never-scanned endpoint with nothing recorded', () => {
    const bare = renderEndpointPage({ ...base, row: row(3), chain: [], servedCount: 0, problems: [], history: [], renewals: [], deployments: [], notifications: [] }, { mode: 'file' });
    assert.match(bare, /Not scanned yet\./);
    assert.match(bare, /No certificate was read/);
    assert.match(bare, /No scans recorded yet\./);
    assert.match(bare, /Monitor-only: certs does not renew this domain\./);
    assert.match(bare, /No deployment recorded\./);
    assert.match(bare, /No notification sent/);
    assert.doesNotMatch(bare, /All endpoints/);
  });
});

describe('html helpers', () => {
  test('num groups thousands without a locale', () => {
    assert.deepEqual([0, 7, 999, 1000, 12345, 1234567, -4321].map(num), ['0', '7', '999', '1,000', '12,345', '1,234,567', '-4,321']);
  });
  test('esc is the charts escaper', () => assert.equal(esc('<a href="x">'), '&lt;a href=&quot;x&quot;&gt;'));
});

// The page script against a small stand-in for the DOM it touches (the browser tests run it in
// Chromium against the daemon; this covers its logic, including the view kept in the fragment).
describe('the page script', () => {
  type Listener = (e: { currentTarget: FakeEl }) => void;
  class FakeEl {
    value = '';
    disabled = false;
    hidden = false;
    innerHTML = '';
    textContent = '';
    options: Array<{ value: string }> = [];
    attrs = new Map<string, string>();
    listeners = new Map<string, Listener[]>();
    getAttribute(k: string): string | null { return this.attrs.get(k) ?? null; }
    setAttribute(k: string, v: string): void { this.attrs.set(k, v); }
    addEventListener(type: string, f: Listener): void { this.listeners.set(type, [...(this.listeners.get(type) ?? []), f]); }
    fire(type: string): void { for (const f of this.listeners.get(type) ?? []) f({ currentTarget: this }); }
  }
  function select(values: string[]): FakeEl {
    const el = new FakeEl();
    el.options = values.map((value) => ({ value }));
    // A <select> keeps a value only when an option has it.
    let v = '';
    Object.defineProperty(el, 'value', { get: () => v, set: (x: string) => { v = values.includes(x) ? x : ''; } });
    return el;
  }

  function boot(html: string, hash = '') {
    const json = html.match(/<script type="application\/json" id="rows">([^]*?)<\/script>/)![1]!;
    const els: Record<string, FakeEl> = {};
    for (const id of ['rows-body', 'page-info', 'page-prev', 'page-next', 'filter-text', 'nojs']) els[id] = new FakeEl();
    els.rows = Object.assign(new FakeEl(), { textContent: json });
    els['filter-status'] = select(['', 'critical', 'warning', 'unknown', 'ok']);
    els['filter-code'] = select(['', ...[...html.matchAll(/<option value="([a-z-]+)">\1 \(/g)].map((m) => m[1]!)]);
    for (const id of ['filter-status', 'filter-code', 'filter-text']) els[id]!.disabled = true;
    const keys = ['domain', 'endpoint', 'days', 'issuer', 'status'];
    const heads = keys.map((k) => { const th = new FakeEl(); th.setAttribute('data-col', k); th.setAttribute('aria-sort', 'none'); return th; });
    const buttons = keys.map((k) => { const b = new FakeEl(); b.setAttribute('data-sort', k); return b; });
    const location = { hash: hash ? `#${hash}` : '', pathname: '/', search: '' };
    const history = { replaceState: (_s: unknown, _t: string, url: string) => { location.hash = url.startsWith('#') ? url : ''; } };
    const document = {
      getElementById: (id: string) => els[id] ?? null,
      querySelectorAll: (sel: string) => (sel === 'th[data-col]' ? heads : sel === 'button[data-sort]' ? buttons : []),
    };
    vm.runInNewContext(SCRIPT, { document, location, history, URLSearchParams });
    const shown = () => [...els['rows-body']!.innerHTML.matchAll(/data-status="(\w+)" data-days="(-?\d*)" data-id="(\d*)"><td class="c-domain">(?:<a [^>]*>)?([^<]*)/g)]
      .map((m) => ({ status: m[1]!, days: m[2] === '' ? null : Number(m[2]), domain: m[4]! }));
    const sortButton = (k: string) => buttons[keys.indexOf(k)]!;
    const ariaSort = (k: string) => heads[keys.indexOf(k)]!.getAttribute('aria-sort');
    return { els, location, shown, sortButton, ariaSort };
  }

  const rows = Array.from({ length: 250 }, (_, i) => row(i));
  const html = renderDashboard(data(rows));
  const all = rows.slice();

  test('starts on the first page in urgency order, controls enabled', () => {
    const p = boot(html);
    assert.equal(p.shown().length, 100);
    assert.deepEqual(p.shown().map((r) => r.domain), all.slice(0, 100).map((r) => r.domain));
    assert.equal(p.els['page-info']!.textContent, '1–100 of 250');
    assert.equal(p.els['page-prev']!.disabled, true);
    assert.equal(p.els['page-next']!.disabled, false);
    assert.equal(p.els['filter-status']!.disabled, false);
    assert.equal(p.els.nojs!.hidden, true);
    assert.equal(p.location.hash, '');
  });

  test('sorting by days both ways, rows without days last either way; the fragment follows', () => {
    const p = boot(html);
    p.sortButton('days').fire('click');
    assert.equal(p.ariaSort('days'), 'ascending');
    assert.equal(p.ariaSort('domain'), 'none');
    assert.equal(p.location.hash, '#sort=days');
    const days = all.map((r) => r.daysLeft).filter((d): d is number => d !== null).sort((a, b) => a - b);
    assert.deepEqual(p.shown().map((r) => r.days), days.slice(0, 100));
    p.els['page-next']!.fire('click');
    p.els['page-next']!.fire('click');
    const last = p.shown();
    assert.equal(p.els['page-info']!.textContent, '201–250 of 250');
    assert.ok(last.slice(-10).every((r) => r.days === null));
    assert.equal(p.location.hash, '#sort=days&page=3');
    p.sortButton('days').fire('click');
    assert.equal(p.ariaSort('days'), 'descending');
    assert.equal(p.els['page-info']!.textContent, '1–100 of 250', 'a new sort starts on page 1');
    assert.deepEqual(p.shown().map((r) => r.days), [...days].reverse().slice(0, 100));
    assert.equal(p.location.hash, '#sort=days&dir=desc');
  });

  test('filters: status, problem code, text', () => {
    const p = boot(html);
    p.els['filter-status']!.value = 'critical';
    p.els['filter-status']!.fire('change');
    const critical = all.filter((r) => r.status === 'critical');
    assert.deepEqual(p.shown().map((r) => r.domain).sort(), critical.map((r) => r.domain).sort());
    assert.equal(p.els['page-info']!.textContent, `1–${critical.length} of ${critical.length} (filtered from 250)`);
    p.els['filter-status']!.value = '';
    p.els['filter-status']!.fire('change');
    p.els['filter-code']!.value = 'expiring-soon';
    p.els['filter-code']!.fire('change');
    assert.ok(p.shown().length > 0 && p.shown().every((r) => r.status === 'warning'));
    p.els['filter-code']!.value = '';
    p.els['filter-code']!.fire('change');
    p.els['filter-text']!.value = 'D17.EXAMPLE';
    p.els['filter-text']!.fire('input');
    assert.deepEqual(p.shown().map((r) => r.domain), ['d17.example']);
    assert.equal(p.location.hash, '#q=D17.EXAMPLE');
    p.els['filter-text']!.value = 'nothing like it';
    p.els['filter-text']!.fire('input');
    assert.equal(p.shown().length, 0);
    assert.match(p.els['rows-body']!.innerHTML, /No endpoint matches these filters\./);
    assert.equal(p.els['page-info']!.textContent, '0 of 250');
    assert.equal(p.els['page-next']!.disabled, true);
  });

  test('a fragment restores the view; values it does not know fall back', () => {
    const p = boot(html, 'sort=domain&dir=desc&status=ok&page=2');
    assert.equal(p.ariaSort('domain'), 'descending');
    assert.equal(p.els['filter-status']!.value, 'ok');
    const ok = all.filter((r) => r.status === 'ok').map((r) => r.domain).sort().reverse();
    assert.equal(p.els['page-info']!.textContent, `1–${ok.length} of ${ok.length} (filtered from 250)`, 'page 2 of a one-page view is page 1');
    assert.deepEqual(p.shown().map((r) => r.domain), ok);
    const q = boot(html, 'sort=nope&status=bogus&code=%3Cx%3E&page=x');
    assert.equal(q.els['filter-status']!.value, '');
    assert.equal(q.els['filter-code']!.value, '');
    assert.equal(q.els['page-info']!.textContent, '1–100 of 250');
    assert.ok(['domain', 'endpoint', 'days', 'issuer', 'status'].every((k) => q.ariaSort(k) === 'none'));
  });
});
