/**
 * The seam between certs and acme-client's internals (src/acme/client.ts). An acme-client
 * upgrade that moves what the adapter relies on must fail here, loudly, not in a renewal at 3 am.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import acme from 'acme-client';
import { ACME_CLIENT_SEAM, createSession, problemOf, seamOf, toAcmeError } from '../../../src/acme/client.js';
import { AcmeError } from '../../../src/core/errors.js';

const require = createRequire(import.meta.url);
const accountKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

interface Interceptors { handlers: unknown[] }
const axiosOf = (): { defaults: Record<string, unknown>; interceptors: { request: Interceptors; response: Interceptors }; create?: unknown } =>
  (acme as unknown as { axios: ReturnType<typeof axiosOf> }).axios;

describe('acme-client seam', () => {
  it('the installed acme-client is the version the adapter was written for', () => {
    const installed = (JSON.parse(readFileSync(require.resolve('acme-client/package.json'), 'utf8')) as { version: string }).version;
    assert.equal(installed, ACME_CLIENT_SEAM, `acme-client ${installed} is installed; re-read src/acme/client.ts against it, then update ACME_CLIENT_SEAM`);
    const pinned = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies['acme-client'];
    assert.equal(pinned, ACME_CLIENT_SEAM, 'package.json pins the same version');
  });

  it('Client.http has request, getDirectory and directoryCache; acme.axios.create exists', () => {
    const client = new acme.Client({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey });
    const http = seamOf(client);
    assert.equal(typeof http.request, 'function');
    assert.equal(typeof http.getDirectory, 'function');
    assert.equal(http.directoryCache, null);
    assert.equal(typeof axiosOf().create, 'function');
    // HttpClient.request sends through acme-client's axios module: the request the adapter replaces.
    assert.match(String(Object.getPrototypeOf(http).request), /axios\.request\(opts\)/);
  });

  it('a missing internal is an InternalError naming the version, not a TypeError later', () => {
    const client = new acme.Client({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey });
    (client as unknown as { http: unknown }).http = {};
    assert.throws(() => seamOf(client), (err: unknown) => err instanceof Error && (err as { kind?: string }).kind === 'internal' && err.message.includes(ACME_CLIENT_SEAM));
  });

  it('sessions leave acme-client\'s process-wide axios settings and interceptors alone', () => {
    const ax = axiosOf();
    const before = { timeout: ax.defaults['timeout'], agent: ax.defaults['httpsAgent'], redirects: ax.defaults['maxRedirects'], req: ax.interceptors.request.handlers.length, res: ax.interceptors.response.handlers.length };
    assert.ok(before.req > 0 && before.res > 0, 'acme-client installs its retry interceptors');
    createSession({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey, http: { timeoutMs: 1234 } });
    createSession({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey, http: { timeoutMs: 4321 } });
    assert.deepEqual({ timeout: ax.defaults['timeout'], agent: ax.defaults['httpsAgent'], redirects: ax.defaults['maxRedirects'], req: ax.interceptors.request.handlers.length, res: ax.interceptors.response.handlers.length }, before);
  });

  it('a session reaches the network through its own settings: a closed port is "connection refused", at once', async () => {
    const session = createSession({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey, http: { timeoutMs: 2000 } });
    await assert.rejects(session.directory(), (err: unknown) => err instanceof AcmeError && err.code === 'acme-unreachable' && /cannot reach the CA at https:\/\/127\.0\.0\.1:1\/dir: connection refused/.test(err.message));
  });
});

describe('toAcmeError', () => {
  const ctx = { domain: 'a.test', doing: 'placing the order' };
  it('a problem of this call: acme-ca with its type, status and Retry-After', () => {
    const p = problemOf({ status: 429, data: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' }, headers: { 'retry-after': '60' } }, 0);
    const e = toAcmeError(new Error('too many'), p, ctx);
    assert.equal(e.code, 'acme-ca');
    assert.equal(e.message, 'domain "a.test": placing the order: the CA refused (rateLimited, HTTP 429): too many');
    assert.equal(e.retryAfter?.getTime(), 60_000);
    assert.equal(e.retryable, true);
  });
  it('no problem in this call: acme-protocol with acme-client\'s own words', () => {
    const e = toAcmeError(new Error('Creating a new order did not return an order link'), undefined, ctx);
    assert.equal(e.code, 'acme-protocol');
    assert.equal(e.message, 'domain "a.test": placing the order: Creating a new order did not return an order link');
    assert.equal(e.retryAfter, undefined);
  });
  it('an HTTP 5xx without a problem document: acme-ca, retryable', () => {
    const p = problemOf({ status: 502, data: 'bad gateway', headers: {} }, 0);
    const e = toAcmeError(new Error('x'), p, ctx);
    assert.equal(e.code, 'acme-ca');
    assert.match(e.message, /the CA answered HTTP 502: bad gateway/);
  });
  it('an AcmeError passes unchanged', () => {
    const inner = new AcmeError('challenge', 'domain "a.test": nope', { domain: 'a.test' });
    assert.equal(toAcmeError(inner, undefined, ctx), inner);
  });
});
