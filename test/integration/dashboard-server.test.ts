/**
 * The daemon's pages (issue 13) on a real loopback server: `GET /` and `GET /endpoint/<id>` behind
 * the same token as /status (Basic prompts a browser), HTML under a CSP whose hashes match the
 * page's inline script and style, gzip when asked, HEAD, 404 for ids that are not pages, and one
 * render per change of the store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { compose } from '../../src/cli/compose.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { acceptsGzip, endpointIdOf, PAGE_CSP, startStatusServer, type HttpLimits, type StatusServer } from '../../src/service/http.js';
import { openStore } from '../../src/store/index.js';
import { fakeCert, reportFor } from '../helpers/store-fixtures.js';

const { readStore } = compose();
const TOKEN = 'dashboard-token-0123456789';
const SECRET = 'hunter2-webhook-secret';
const dir = mkdtempSync(join(tmpdir(), 'certs-dashboard-server-'));
const configFile = join(dir, 'certs.yaml');
writeFileSync(configFile, `dataDir: ${join(dir, 'data')}
trust: { bundled: true, system: false }
daemon: { http: { token: "${TOKEN}" } }
notify:
  webhook: { url: "http://127.0.0.1:9/hook", secret: "${SECRET}" }
domains:
  - { name: good.test, managed: false, endpoints: [{ host: good.test, port: 443 }, { host: good.test, port: 8443, address: 127.0.0.1 }] }
  - { name: bad.test, managed: false }
  - { name: never.test, managed: false }
`);
const config: Config = loadConfig(configFile, { env: {} });
const servers: StatusServer[] = [];

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: Buffer;
  body: string;
}

const basic = (password: string): string => `Basic ${Buffer.from(`browser:${password}`).toString('base64')}`;
const AUTH = { authorization: basic(TOKEN) };

function ask(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body: raw.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(limits: Partial<HttpLimits> = {}): Promise<StatusServer> {
  const s = await startStatusServer({ readStore, config: () => config, lastRun: async () => null, address: '127.0.0.1', port: 0, version: '9.9.9-test', limits });
  servers.push(s);
  return s;
}

const root = fakeCert('Dash Root', { isCA: true });

function idOf(domain: string, port = 443): number {
  const store = openStore(config.dataDir);
  try {
    return store.db.prepare('SELECT id FROM endpoints WHERE domain = ? AND port = ?').pluck().get(domain, port) as number;
  } finally {
    store.close();
  }
}

before(async () => {
  const good = fakeCert('good.test', { issuer: root.info.subject, notAfter: '2031-01-01T00:00:00.000Z' });
  const bad = fakeCert('bad.test <script>alert(1)</script>', { issuer: 'CN=Gone', notAfter: '2030-06-20T00:00:00.000Z' });
  const store = openStore(config.dataDir);
  try {
    store.scans.recordMany([
      { report: reportFor({ domain: 'good.test' }, [good, root]), chainDer: [good.der, root.der] },
      { report: reportFor({ domain: 'good.test', port: 8443, address: '127.0.0.1' }, [good, root]), chainDer: [good.der, root.der] },
      {
        report: reportFor({ domain: 'bad.test' }, [bad], { problems: [{ code: 'incomplete-chain', severity: 'critical', message: 'the issuer "CN=Gone" is neither served nor trusted', hint: 'serve the intermediate' }] }),
        chainDer: [bad.der],
      },
    ]);
    const run = store.runs.start('2030-01-01T03:17:00.000Z');
    store.runs.finish(run, { finishedAt: '2030-01-01T03:18:00.000Z', outcome: 'critical', exitCode: 2, summary: { renewed: [], deployed: [], failed: [], notified: 1 } });
  } finally {
    store.close();
  }
});

after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** SHA-256 (base64) of each inline element's text: what a CSP hash source names. */
function inlineHashes(html: string, tag: 'script' | 'style'): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'gi');
  for (const m of html.matchAll(re)) {
    // A data block (type="application/json") is never executed: CSP does not apply to it.
    if (tag === 'script' && /type\s*=\s*["']?application\/json/i.test(m[1] ?? '')) continue;
    out.push(createHash('sha256').update(m[2]!, 'utf8').digest('base64'));
  }
  return out;
}

describe('dashboard pages (GET /, GET /endpoint/<id>)', () => {
  it('without the token: 401 with a Basic challenge on its own header line, and nothing of the page', async () => {
    const s = await start();
    for (const path of ['/', `/endpoint/${idOf('good.test')}`, '/endpoint/nope']) {
      for (const headers of [{}, { authorization: basic('wrong') }, { authorization: `Bearer ${TOKEN}x` }] as Record<string, string>[]) {
        const r = await ask(s.port, path, headers);
        assert.equal(r.status, 401, path);
        const challenges = ([] as string[]).concat(r.headers['www-authenticate'] ?? []);
        assert.ok(challenges.some((c) => /^Basic realm="certs"/.test(c)), `${path}: ${JSON.stringify(challenges)}`);
        assert.ok(!r.body.includes('good.test'));
      }
    }
  });

  it('with Basic (token as password) or Bearer: the dashboard as HTML, with the page headers and no secret', async () => {
    const s = await start();
    for (const authorization of [basic(TOKEN), `Bearer ${TOKEN}`]) {
      const r = await ask(s.port, '/', { authorization });
      assert.equal(r.status, 200, authorization);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(r.headers['content-security-policy'], PAGE_CSP);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['content-encoding'], undefined, 'identity when gzip is not asked for');
      assert.equal(Number(r.headers['content-length']), r.raw.length);
      assert.match(r.body, /^<!doctype html>/i);
      for (const name of ['good.test', 'bad.test', 'never.test']) assert.ok(r.body.includes(name), name);
      assert.ok(r.body.includes(`href="endpoint/${idOf('bad.test')}"`), 'rows link to their detail page, relative (a proxy may serve us under a prefix)');
      assert.ok(!r.body.includes('<script>alert(1)'), 'names are escaped');
      for (const secret of [SECRET, TOKEN, '127.0.0.1:9/hook']) assert.ok(!r.body.includes(secret), secret);
    }
  });

  it('the CSP allows exactly the page’s inline script and style, by hash; nothing loads from elsewhere', async () => {
    const s = await start();
    for (const path of ['/', `/endpoint/${idOf('bad.test')}`]) {
      const r = await ask(s.port, path, AUTH);
      assert.equal(r.status, 200, path);
      const csp = String(r.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/);
      for (const tag of ['script', 'style'] as const) {
        for (const h of inlineHashes(r.body, tag)) assert.ok(csp.includes(`'sha256-${h}'`), `${path}: the ${tag} with hash ${h} is allowed`);
      }
      assert.ok(inlineHashes(r.body, 'style').length > 0, `${path} has its style inline`);
      assert.doesNotMatch(r.body, /(src|href)\s*=\s*["']?(https?:)?\/\//i, `${path}: no external resource`);
    }
  });

  it('/endpoint/<id>: the stored endpoint’s detail; 404 for an unknown id, a malformed one, or no id', async () => {
    const s = await start();
    const bad = await ask(s.port, `/endpoint/${idOf('bad.test')}`, AUTH);
    assert.equal(bad.status, 200);
    assert.equal(bad.headers['content-type'], 'text/html; charset=utf-8');
    assert.ok(bad.body.includes('bad.test'));
    assert.ok(bad.body.includes('serve the full chain (fullchain.pem'), 'the problem’s fix is shown, as the catalogue words it for a monitor-only domain');
    const withAddress = await ask(s.port, `/endpoint/${idOf('good.test', 8443)}`, AUTH);
    assert.equal(withAddress.status, 200);
    assert.ok(withAddress.body.includes('127.0.0.1'));
    for (const path of ['/endpoint/999999', '/endpoint/0', '/endpoint/01', '/endpoint/1x', '/endpoint/-1', '/endpoint/abc', '/endpoint/', '/endpoint/1/2', '/endpoint/9999999999999999999', '/endpoints/1']) {
      const r = await ask(s.port, path, AUTH);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', path);
    }
  });

  it('gzip when the request accepts it (the same bytes once inflated), identity when it refuses it', async () => {
    const s = await start();
    const plain = await ask(s.port, '/', AUTH);
    for (const accept of ['gzip, deflate, br', 'br;q=1.0, gzip;q=0.8', '*']) {
      const z = await ask(s.port, '/', { ...AUTH, 'accept-encoding': accept });
      assert.equal(z.headers['content-encoding'], 'gzip', accept);
      assert.equal(z.headers['vary'], 'Accept-Encoding');
      assert.equal(Number(z.headers['content-length']), z.raw.length);
      assert.ok(z.raw.length < plain.raw.length, 'smaller');
      assert.deepEqual(gunzipSync(z.raw), plain.raw, accept);
    }
    for (const accept of ['gzip;q=0', 'identity', 'br', '*;q=0']) {
      const r = await ask(s.port, '/', { ...AUTH, 'accept-encoding': accept });
      assert.equal(r.headers['content-encoding'], undefined, accept);
      assert.deepEqual(r.raw, plain.raw);
    }
  });

  it('HEAD answers the GET’s headers without a body; other methods get 405', async () => {
    const s = await start();
    for (const path of ['/', `/endpoint/${idOf('good.test')}`]) {
      for (const extra of [{}, { 'accept-encoding': 'gzip' }] as Record<string, string>[]) {
        const get = await ask(s.port, path, { ...AUTH, ...extra });
        const head = await ask(s.port, path, { ...AUTH, ...extra }, 'HEAD');
        assert.equal(head.status, 200);
        assert.equal(head.raw.length, 0);
        assert.equal(head.headers['content-length'], get.headers['content-length']);
        assert.equal(head.headers['content-encoding'], get.headers['content-encoding']);
        assert.equal(head.headers['content-security-policy'], PAGE_CSP);
      }
      const post = await ask(s.port, path, AUTH, 'POST');
      assert.equal(post.status, 405);
      assert.equal(post.headers['allow'], 'GET, HEAD');
    }
  });

  it('a Host that is not loopback gets 421 (DNS rebinding), token or not', async () => {
    const s = await start();
    const r = await ask(s.port, '/', { ...AUTH, host: 'evil.example' });
    assert.equal(r.status, 421);
    assert.ok(!r.body.includes('good.test'));
  });

  it('rendered once per change of the store, gzipped once per render; detail pages kept up to cachedPages', async () => {
    const s = await start({ cacheMaxAgeMs: 600_000, cachedPages: 2 });
    await ask(s.port, '/', { ...AUTH, 'accept-encoding': 'gzip' });
    const warm = s.renders();
    for (let i = 0; i < 5; i++) {
      await ask(s.port, '/', AUTH);
      await ask(s.port, '/', { ...AUTH, 'accept-encoding': 'gzip' });
    }
    assert.equal(s.renders(), warm, 'served from the cache');
    // A scan written by another process shows at the next request.
    const renewed = fakeCert('good.test renewed', { issuer: 'CN=Renewed Issuer', notAfter: '2032-01-01T00:00:00.000Z' });
    const store = openStore(config.dataDir);
    try {
      store.scans.record(reportFor({ domain: 'good.test' }, [renewed, root], { scannedAt: '2030-01-02T00:00:00.000Z' }), [renewed.der, root.der]);
    } finally {
      store.close();
    }
    const after = await ask(s.port, '/', AUTH);
    assert.equal(s.renders(), warm + 1);
    assert.ok(after.body.includes('CN=Renewed Issuer'), 'the new scan is on the page');
    // Pages: '/', then two details fill cachedPages (2): '/' went first, and is rendered again.
    const [a, b] = [idOf('good.test'), idOf('bad.test')];
    await ask(s.port, `/endpoint/${a}`, AUTH);
    await ask(s.port, `/endpoint/${b}`, AUTH);
    let n = s.renders();
    await ask(s.port, `/endpoint/${a}`, AUTH);
    await ask(s.port, `/endpoint/${b}`, AUTH);
    assert.equal(s.renders(), n, 'both details cached');
    await ask(s.port, '/', AUTH);
    assert.equal(s.renders(), n + 1, 'the dashboard was evicted by the two details');
    n = s.renders();
    await ask(s.port, `/endpoint/${b}`, AUTH);
    assert.equal(s.renders(), n, 'the most recently used detail stayed');
    await ask(s.port, `/endpoint/${a}`, AUTH);
    assert.equal(s.renders(), n + 1, 'the least recently used one went');
  });

  it('the last run is the one the store recorded', async () => {
    const s = await start();
    const r = await ask(s.port, '/', AUTH);
    assert.ok(r.body.includes('2030-01-01'), 'the run’s date is on the page');
  });
});

describe('acceptsGzip, endpointIdOf', () => {
  it('Accept-Encoding per RFC 9110: gzip or x-gzip with a non-zero weight, or * when gzip is not named', async () => {
    const yes = ['gzip', 'GZIP', 'x-gzip', 'deflate, gzip', 'gzip;q=0.001', 'gzip; q=1', '*', 'br, *;q=0.1', ['deflate', 'gzip']];
    const no = [undefined, '', 'identity', 'deflate, br', 'gzip;q=0', 'gzip;q=0.000', '*;q=0', 'gzip;q=0, *', 'gzipx'];
    for (const h of yes) assert.equal(acceptsGzip(h), true, JSON.stringify(h));
    for (const h of no) assert.equal(acceptsGzip(h), false, JSON.stringify(h));
  });

  it('ids are digits without a leading zero, within the safe integers', async () => {
    assert.equal(endpointIdOf('/endpoint/1'), 1);
    assert.equal(endpointIdOf('/endpoint/123456789012345'), 123456789012345);
    for (const p of ['/endpoint/0', '/endpoint/007', '/endpoint/1e3', '/endpoint/+1', '/endpoint/1.0', '/endpoint/ 1', '/endpoint/1234567890123456', '/endpoint/%31', '/endpoint']) {
      assert.equal(endpointIdOf(p), null, p);
    }
  });
});
